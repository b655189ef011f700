import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { decodeLastEventId, encodeLastEventId } from './last-event-id.js';

/** `Last-Event-ID` on the wire: an id's UTF-8 bytes, one Latin-1 code unit each (what a browser sends), and back. */

const latin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

describe('encodeLastEventId (the client)', () => {
  it('B6/B14: an id goes out as its UTF-8 bytes, one code unit each: a ByteString every fetch takes', () => {
    expect(encodeLastEventId('42')).toBe('42');
    expect(encodeLastEventId('€7')).toBe('\xe2\x82\xac7');
    expect(encodeLastEventId('é')).toBe('\xc3\xa9');
    expect(encodeLastEventId('😀')).toBe('\xf0\x9f\x98\x80');
    expect(encodeLastEventId('a\tb')).toBe('a\tb');
    expect(encodeLastEventId('')).toBe('');
    // A lone surrogate is no text: it goes out as U+FFFD, as a browser's USVString conversion does.
    expect(encodeLastEventId('\ud800')).toBe('\xef\xbf\xbd');
    expect(() => new Headers({ 'last-event-id': encodeLastEventId('€7 ключ 😀')! })).not.toThrow();
  });

  it('B6/B14: an id with a control character (other than tab) is null: no fetch sends it as a header', () => {
    for (const id of ['a\x01b', 'a\x7fb', 'a\x1bb', 'a\0b', 'a\rb', 'a\nb']) expect(encodeLastEventId(id)).toBeNull();
  });
});

describe('decodeLastEventId (the server adapters)', () => {
  it('B6/B14: the bytes a server reads (Latin-1) decode as UTF-8: €7 comes back as €7', () => {
    expect(decodeLastEventId('42')).toBe('42');
    expect(decodeLastEventId('\xe2\x82\xac7')).toBe('€7');
    expect(decodeLastEventId('\xef\xbb\xbfx')).toBe('\ufeffx');
    expect(decodeLastEventId('\xe2\x82\xac7')).toBe(Buffer.from('\xe2\x82\xac7', 'latin1').toString('utf8'));
  });

  it('bytes that are not UTF-8 (a client that sent Latin-1) and text a runtime already decoded are kept as they are', () => {
    expect(decodeLastEventId('caf\xe9')).toBe('café');
    expect(decodeLastEventId('\xe2\x82')).toBe('\xe2\x82');
    expect(decodeLastEventId('€7')).toBe('€7');
  });

  test.prop([fc.string({ unit: 'grapheme' }).filter((id) => !/[\0\r\n]/.test(id))])('the round trip gives back every id a fetch can carry', (id) => {
    const header = encodeLastEventId(id);
    if (header === null) return;
    // What a Node server reads: the bytes on the wire, one Latin-1 code unit each.
    expect(Buffer.from(header, 'latin1')).toEqual(Buffer.from(id, 'utf8'));
    expect(decodeLastEventId(header)).toBe(id);
    expect(latin1(id)).toBe(header);
  });
});
