import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { InputGuard, type SseInputLimit } from './input-guard.js';

/** The byte bounds of the client's input, against a reference computed on the whole stream at once. */

/** The first limit the whole stream breaks, or null: lines split at CRLF, CR or LF; events end at an empty line. */
function reference(bytes: Uint8Array, maxLine: number, maxEvent: number): SseInputLimit | null {
  const text = Buffer.from(bytes).toString('latin1');
  let event = 0;
  let at = 0;
  for (;;) {
    const match = /\r\n|\r|\n/.exec(text.slice(at));
    const line = match === null ? text.slice(at) : text.slice(at, at + match.index);
    // Within the line, the first byte past a bound is where it breaks: report the bound reached first.
    const comment = line.startsWith(':');
    for (let length = 1; length <= line.length; length++) {
      if (length > maxLine) return 'line';
      if (!comment && event + length > maxEvent) return 'event';
    }
    if (match === null) return null;
    event = line.length === 0 ? 0 : comment ? event : event + line.length;
    at += match.index + match[0].length;
  }
}

const streamBytes = fc.array(fc.constantFrom(...'ab:\r\n'.split(''), 'data: x', ':', 'é'), { maxLength: 60 }).map((parts) => new TextEncoder().encode(parts.join('')));

describe('InputGuard', () => {
  test.prop([streamBytes, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 10 })])(
    'breaks exactly when the whole stream breaks a bound, whatever the chunking (a CRLF split across chunks too)',
    (bytes, maxLine, maxEvent, sizes) => {
      const guard = new InputGuard(maxLine, maxEvent);
      let verdict: SseInputLimit | null = null;
      for (let at = 0, index = 0; at < bytes.length && verdict === null; index++) {
        const size = sizes[index % sizes.length] ?? 1;
        verdict = guard.scan(bytes.subarray(at, at + size));
        at += size;
      }
      expect(verdict).toBe(reference(bytes, maxLine, maxEvent));
    },
  );

  it('an endless line breaks the line bound; many small lines break the event bound; comments and blank lines do not', () => {
    const line = new InputGuard(16, 1_000);
    expect(line.scan(new TextEncoder().encode('data: 0123456789'))).toBeNull();
    expect(line.scan(new TextEncoder().encode('a'))).toBe('line');
    const event = new InputGuard(100, 30);
    expect(event.scan(new TextEncoder().encode('data: 0123456789\ndata: 0123'))).toBeNull();
    expect(event.scan(new TextEncoder().encode('456789\n'))).toBe('event');
    const quiet = new InputGuard(8, 8);
    for (let i = 0; i < 1_000; i++) expect(quiet.scan(new TextEncoder().encode(':\n: ping\ndata: 1\n\r\n'))).toBeNull();
  });
});
