import { diagnostic } from './commands.js';
import { ENQUEUE, FLUSH, WRITE, anyLayer, eachLayer, type Step } from './kernel-step.js';
import type { ConnectionCommand } from './kernel-types.js';

/**
 * The send queue's accounting (counts and bytes; payloads stay in the driver): a `send` is written at once (open,
 * writable, nothing queued), queued within `maxQueuedMessages` and `maxQueuedBytes`, or refused (closing or closed, or
 * over a bound); `dequeued` reports what the driver wrote from the queue. A layer may take a message first (a resumable
 * session), and every layer hears what was written. A send while parked unparks the connection.
 */

/** The application sends a message of `bytes` bytes (`send`): write it, queue it, or refuse it. */
export function onSend(h: Step, bytes: number, writable: boolean): void {
  const d = h.k;
  if (d.phase === 'closing' || d.phase === 'closed') {
    h.out.push(REFUSED.closed);
    return;
  }
  const size = typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 0 ? bytes : 0;
  if (anyLayer(h, (layer, slice) => layer.send?.(h, slice, size))) return;
  if (d.phase === 'open' && writable && d.queuedMessages === 0) {
    h.out.push(WRITE);
    written(h, 1, size);
    return;
  }
  if (d.queuedMessages >= d.config.maxQueuedMessages) {
    h.out.push(REFUSED.messages);
    return;
  }
  if (d.queuedBytes + size > d.config.maxQueuedBytes) {
    h.out.push(REFUSED.bytes);
    return;
  }
  d.queuedMessages += 1;
  d.queuedBytes += size;
  h.out.push(ENQUEUE);
  // Behind a queue that a flush left (the socket stopped taking them): keep the order, try again.
  if (d.phase === 'open' && writable) h.out.push(FLUSH);
  if (d.phase === 'parked') h.unpark('send');
}

/** The refusals, by reason: closing or closed, or over `maxQueuedMessages` or `maxQueuedBytes`. */
const REFUSED: Readonly<Record<'closed' | 'messages' | 'bytes', ConnectionCommand>> = /* @__PURE__ */ Object.freeze({
  closed: Object.freeze({ type: 'refuse', reason: 'closed' }),
  messages: Object.freeze({ type: 'refuse', reason: 'messages' }),
  bytes: Object.freeze({ type: 'refuse', reason: 'bytes' }),
});

/** Every layer hears what was written (a resumable session numbers it, the unconfirmed report counts it). */
function written(h: Step, messages: number, bytes: number): void {
  eachLayer(h, (layer, slice) => layer.written?.(h, slice, messages, bytes));
}

/** The driver wrote `messages` queued messages (`bytes` bytes) to the socket (`dequeued`). */
export function onDequeued(h: Step, messages: number, bytes: number): void {
  const d = h.k;
  const validMessages = Number.isInteger(messages) && messages >= 0 && messages <= d.queuedMessages;
  const validBytes = Number.isInteger(bytes) && bytes >= 0 && bytes <= d.queuedBytes;
  if (!validMessages || !validBytes) {
    h.out.push(diagnostic('warn', 'invalid_event', { event: 'dequeued' }));
    return;
  }
  if (messages === 0) return;
  d.queuedMessages -= messages;
  d.queuedBytes -= bytes;
  h.out.push(diagnostic('info', 'queue_flushed', { messages }));
  written(h, messages, bytes);
}
