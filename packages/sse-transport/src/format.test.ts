import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { KEEPALIVE_COMMENT, SseFormatError, formatSseComment, formatSseEvent, formatSseRetry, type SseEvent } from './index.js';

/** The formatter against the parser the client uses: whatever is written comes back as it was (line breaks as LF). */

function parse(text: string): { events: EventSourceMessage[]; comments: string[]; retries: number[] } {
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event), onComment: (comment) => comments.push(comment), onRetry: (ms) => retries.push(ms) });
  parser.feed(text);
  return { events, comments, retries };
}

const noBreak = fc.string({ unit: 'grapheme-ascii' }).map((text) => text.replace(/[\r\n]/g, ''));

describe('formatSseEvent', () => {
  it('writes id, event and one data line per line, then the blank line', () => {
    expect(formatSseEvent({ id: '7', event: 'token', data: 'two\nlines' })).toBe('id: 7\nevent: token\ndata: two\ndata: lines\n\n');
    expect(formatSseEvent({ data: 'a\r\nb\rc' })).toBe('data: a\ndata: b\ndata: c\n\n');
    expect(formatSseEvent({ data: '' })).toBe('data: \n\n');
    expect(parse(formatSseEvent({ data: '' })).events).toEqual([{ id: undefined, event: undefined, data: '' }]);
    expect(parse(formatSseEvent({ data: ' leading space' })).events[0]?.data).toBe(' leading space');
  });

  it('refuses a line break in id or event, a NUL in id, and non-strings, naming the field', () => {
    const cases: [SseEvent, string, string][] = [
      [{ id: 'a\nb', data: '' }, 'id', 'line_break'],
      [{ id: 'a\rb', data: '' }, 'id', 'line_break'],
      [{ event: 'x\r\ny', data: '' }, 'event', 'line_break'],
      [{ id: 'a\0', data: '' }, 'id', 'nul'],
      [{ data: 5 as unknown as string }, 'data', 'type'],
      [{ event: 1 as unknown as string, data: '' }, 'event', 'type'],
    ];
    for (const [event, field, reason] of cases) {
      const error = (() => {
        try {
          formatSseEvent(event);
        } catch (caught) {
          return caught;
        }
        return null;
      })();
      expect(error).toBeInstanceOf(SseFormatError);
      expect(error).toMatchObject({ field, reason, name: 'SseFormatError' });
    }
    expect(() => formatSseEvent({ event: 'a\nb', data: '' })).toThrow('SSE event must not contain a line break (CR or LF): it would end the field early');
    expect(() => formatSseEvent(null as unknown as SseEvent)).toThrow(SseFormatError);
  });

  test.prop([fc.option(noBreak.filter((id) => !id.includes('\0')), { nil: undefined }), fc.option(noBreak.filter((type) => type !== ''), { nil: undefined }), fc.string({ unit: 'binary' })])(
    'for any id, type and data, the client parses back exactly what was written (line breaks as LF)',
    (id, type, data) => {
      const { events } = parse(formatSseEvent({ id, event: type, data }));
      expect(events).toEqual([{ id, event: type, data: data.replace(/\r\n|\r/g, '\n') }]);
    },
  );

  test.prop([fc.array(fc.string({ unit: 'binary' }), { maxLength: 8 }), fc.integer({ min: 1, max: 7 })])('a stream of events survives any chunking', (datas, size) => {
    const text = datas.map((data) => formatSseEvent({ data })).join(KEEPALIVE_COMMENT);
    const events: string[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event.data) });
    for (let at = 0; at < text.length; at += size) parser.feed(text.slice(at, at + size));
    expect(events).toEqual(datas.map((data) => data.replace(/\r\n|\r/g, '\n')));
  });
});

describe('comments and retry', () => {
  it('the keep-alive is the 2-byte comment; a text comment is ignored by the parser', () => {
    expect(KEEPALIVE_COMMENT).toBe(':\n');
    expect(new TextEncoder().encode(KEEPALIVE_COMMENT).byteLength).toBe(2);
    expect(formatSseComment('')).toBe(':\n');
    expect(formatSseComment('ping')).toBe(': ping\n');
    expect(parse(`${formatSseComment('ping')}${KEEPALIVE_COMMENT}`)).toEqual({ events: [], comments: ['ping', ''], retries: [] });
    expect(() => formatSseComment('a\nb')).toThrow(SseFormatError);
  });

  it('retry is whole milliseconds on a block of its own; nonsense is refused', () => {
    expect(formatSseRetry(500)).toBe('retry: 500\n\n');
    expect(formatSseRetry(12.7)).toBe('retry: 12\n\n');
    expect(parse(formatSseRetry(250)).retries).toEqual([250]);
    expect(() => formatSseRetry(-1)).toThrow(RangeError);
    expect(() => formatSseRetry(Number.NaN)).toThrow(/finite/);
  });
});
