/**
 * Writing the `text/event-stream` format safely (the WHATWG HTML standard,
 * "Server-sent events"): every field on its own line, multi-line data split
 * into one `data:` line per line, and values that would break the framing
 * (a line break in `id` or `event`, a NUL in `id`) refused with an error that
 * says which field and why, before anything is written.
 */

/**
 * One event as the server writes it. `data` is the payload (any string; its
 * line breaks become separate `data:` lines and come back as `\n`), `event`
 * the type (the client's `message` by default), `id` what the client sends
 * back as `Last-Event-ID` when it reconnects.
 */
export interface SseEvent {
  readonly data: string;
  readonly event?: string | undefined;
  readonly id?: string | undefined;
}

/**
 * Thrown by {@link formatSseEvent} (and so by a stream's `send`) for a value
 * the format cannot carry: `field` names it, `reason` says why.
 */
export class SseFormatError extends TypeError {
  /** The field that was refused: `data`, `event`, `id` or `comment`. */
  readonly field: 'data' | 'event' | 'id' | 'comment';
  /** Why: a line break (`line_break`), a NUL in an id (`nul`), or not a string (`type`). */
  readonly reason: 'line_break' | 'nul' | 'type';

  constructor(field: SseFormatError['field'], reason: SseFormatError['reason']) {
    const why = { line_break: 'must not contain a line break (CR or LF): it would end the field early', nul: 'must not contain NUL: clients ignore such an id', type: 'must be a string' }[reason];
    super(`SSE ${field} ${why}`);
    this.name = 'SseFormatError';
    this.field = field;
    this.reason = reason;
  }
}

/**
 * The keep-alive comment the server writes: `:` and a line feed, the smallest
 * line a client ignores (2 bytes before the transfer encoding).
 */
export const KEEPALIVE_COMMENT = ':\n';

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * Formats one event: `id:`, `event:` and one `data:` line per line of `data`
 * (split at CRLF, CR or LF), then the blank line that dispatches it. Every
 * value is written after `: `, so a value that starts with a space keeps it.
 * An empty `data` is an event with empty data. Throws {@link SseFormatError}
 * for a line break in `id` or `event`, a NUL in `id`, or a non-string.
 *
 * @example
 * ```ts
 * import { formatSseEvent } from '@keepalive/sse-transport';
 * formatSseEvent({ id: '7', event: 'token', data: 'two\nlines' });
 * // 'id: 7\nevent: token\ndata: two\ndata: lines\n\n'
 * ```
 */
export function formatSseEvent(event: SseEvent): string {
  const given: unknown = event;
  if (typeof given !== 'object' || given === null) throw new SseFormatError('data', 'type');
  const { data, event: type, id } = event;
  let text = '';
  if (id !== undefined) {
    checkField('id', id);
    if (id.includes('\0')) throw new SseFormatError('id', 'nul');
    text += `id: ${id}\n`;
  }
  if (type !== undefined) {
    checkField('event', type);
    text += `event: ${type}\n`;
  }
  if (typeof data !== 'string') throw new SseFormatError('data', 'type');
  for (const line of data.split(LINE_BREAK)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/**
 * Formats a comment line (`: text`), which clients ignore: for a keep-alive
 * with a text of its own. Throws {@link SseFormatError} for a line break.
 */
export function formatSseComment(text: string): string {
  checkField('comment', text);
  return text === '' ? KEEPALIVE_COMMENT : `: ${text}\n`;
}

/**
 * Formats the `retry:` field (the client's reconnection time, in whole
 * milliseconds) on a block of its own.
 */
export function formatSseRetry(delayMs: number): string {
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`SSE retry must be a finite number of milliseconds >= 0, got ${String(delayMs)}`);
  return `retry: ${String(Math.floor(delayMs))}\n\n`;
}

function checkField(field: 'id' | 'event' | 'comment', value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new SseFormatError(field, 'type');
  if (LINE_BREAK.test(value)) throw new SseFormatError(field, 'line_break');
}
