/**
 * The client's bound on what a server may make it hold: it scans the raw
 * bytes before they reach the parser and says when a line (no line break yet)
 * or an event (its field lines since the last blank line; comment lines do
 * not count) has grown past its limit. CR and LF never occur inside a UTF-8
 * sequence, so counting on bytes is exact whatever the text. With both
 * limits, what the parser holds is bounded by `maxLineBytes` + `maxEventBytes`
 * plus one chunk, whatever the server sends.
 */

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;

/**
 * Which limit a stream broke: `line` (a line longer than `maxLineBytes`,
 * e.g. an endless line) or `event` (an event larger than `maxEventBytes`).
 */
export type SseInputLimit = 'line' | 'event';

/** Counts a stream's bytes per line and per event; one per connection. */
export class InputGuard {
  private lineBytes = 0;
  private eventBytes = 0;
  private comment = false;
  /** The previous chunk ended with CR: a LF first in this one belongs to it. */
  private afterCR = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly maxEventBytes: number,
  ) {}

  /** Takes the next chunk; returns the limit it broke, or `null`. Once broken, the stream is to be dropped. */
  scan(chunk: Uint8Array): SseInputLimit | null {
    const length = chunk.length;
    let start = 0;
    if (this.afterCR && length > 0) {
      this.afterCR = false;
      if (chunk[0] === LF) start = 1;
    }
    while (start < length) {
      let end = start;
      while (end < length && chunk[end] !== LF && chunk[end] !== CR) end++;
      const bytes = end - start;
      if (this.lineBytes === 0 && bytes > 0) this.comment = chunk[start] === COLON;
      // The bound the stream's bytes cross first, whatever the chunking (a tie goes to the line).
      const lineRoom = this.maxLineBytes - this.lineBytes;
      const eventRoom = this.comment ? Number.POSITIVE_INFINITY : this.maxEventBytes - this.eventBytes;
      if (bytes > lineRoom || bytes > eventRoom) return lineRoom <= eventRoom ? 'line' : 'event';
      this.lineBytes += bytes;
      if (!this.comment) this.eventBytes += bytes;
      if (end === length) return null;
      // A line ends here; an empty one ends the event.
      if (this.lineBytes === 0) this.eventBytes = 0;
      this.lineBytes = 0;
      this.comment = false;
      if (chunk[end] === CR) {
        if (end + 1 === length) {
          this.afterCR = true;
          return null;
        }
        if (chunk[end + 1] === LF) end++;
      }
      start = end + 1;
    }
    return null;
  }
}
