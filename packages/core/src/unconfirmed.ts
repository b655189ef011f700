import { diagnostic } from './commands.js';
import type { Host, Layer } from './layer.js';

/**
 * Unconfirmed-message reports (B14 without a resumable session, B16): a layer. A plain write may be lost with the
 * connection; the peer proves it had everything written before a keep-alive when it answers that keep-alive, or when
 * the client's own close handshake completes. A connection lost with writes the peer had not confirmed says how many
 * (`unconfirmed`, never silent), and the driver hands back the copies it kept of the newest ones (at most
 * `maxQueuedMessages` copies and `maxQueuedBytes` bytes). When work ends (or a message is written while idle) with
 * writes unconfirmed, one keep-alive confirms them, so a later idle reclaim reports nothing false (B16).
 */

/** The unconfirmed-message layer's slice of the connection state. */
export interface UnconfirmedState {
  /** Messages written since the peer last proved it had them. */
  unconfirmed: number;
  /** The sizes of the copies the driver keeps of the newest of them, oldest first (a flushed batch at its average size). */
  copies: readonly number[];
  /** Their total in bytes. */
  copyBytes: number;
  /**
   * For each keep-alive sent and not answered yet, oldest first: how many of the `unconfirmed` messages were written
   * before it (what its answer confirms). Answers come back in order, so each answer takes the oldest.
   */
  probes: readonly number[];
}

const NO_SIZES: readonly number[] = /* @__PURE__ */ Object.freeze([]);

/**
 * The most keep-alives tracked while unanswered. Past it (only when the peer answers nothing and liveness is off) a
 * keep-alive is not tracked: answers then take older marks, which confirm fewer messages, never more.
 */
const MAX_PROBES = 32;

/** The unconfirmed-message layer (see the module's description); `connection.ts` runs it in every default client. */
export const unconfirmedLayer: Layer<UnconfirmedState> = /* @__PURE__ */ Object.freeze({
  name: 'unconfirmed',
  init: (): UnconfirmedState => ({ unconfirmed: 0, copies: NO_SIZES, copyBytes: 0, probes: NO_SIZES }),
  written,
  keepalive(_host: Host, s: UnconfirmedState): void {
    // The answer to this keep-alive proves the peer had what was written before it (and nothing written after).
    if (s.probes.length < MAX_PROBES) s.probes = [...s.probes, s.unconfirmed];
  },
  answered(host: Host, s: UnconfirmedState): void {
    // The oldest keep-alive unanswered is the one answered.
    const [mark = 0, ...rest] = s.probes;
    s.probes = rest;
    confirmed(host, s, mark);
  },
  cleanClose(host: Host, s: UnconfirmedState): void {
    confirmed(host, s, s.unconfirmed);
  },
  workEnded: confirmIdle,
  lost: report,
  finish(host: Host, s: UnconfirmedState): number {
    report(host, s);
    return 0;
  },
});

/** A plain write (or `messages` flushed ones): unconfirmed until the peer proves it has them; copies bounded. */
function written(host: Host, s: UnconfirmedState, messages: number, bytes: number): void {
  s.unconfirmed += messages;
  const sizes = [...s.copies];
  const each = Math.floor(bytes / messages);
  for (let i = 0; i < messages; i++) sizes.push(i === messages - 1 ? bytes - each * (messages - 1) : each);
  s.copyBytes += bytes;
  // Bounded like the queue: the oldest copies go first (the report still counts them).
  const { maxQueuedMessages, maxQueuedBytes } = host.k.config;
  let excess = 0;
  while (sizes.length - excess > maxQueuedMessages || (s.copyBytes > maxQueuedBytes && excess < sizes.length)) {
    s.copyBytes -= sizes[excess] ?? /* c8 ignore next */ 0;
    excess++;
  }
  s.copies = excess === 0 ? sizes : sizes.slice(excess);
  if (excess > 0) host.out.push({ type: 'forget_copies', copies: excess });
  confirmIdle(host, s);
}

/** The peer proved it has the oldest `messages` unconfirmed ones. */
function confirmed(host: Host, s: UnconfirmedState, messages: number): void {
  const count = Math.min(messages, s.unconfirmed);
  if (count <= 0) return;
  // The copies are of the newest unconfirmed messages; the oldest uncopied ones are confirmed first.
  const drop = Math.max(0, count - (s.unconfirmed - s.copies.length));
  s.unconfirmed -= count;
  if (drop > 0) {
    for (let i = 0; i < drop; i++) s.copyBytes -= s.copies[i] ?? /* c8 ignore next */ 0;
    s.copies = s.copies.length === drop ? NO_SIZES : s.copies.slice(drop);
    host.out.push({ type: 'forget_copies', copies: drop });
  }
  // What the later keep-alives confirm was counted with these.
  s.probes = s.probes.map((mark) => Math.max(0, mark - count));
  // Written since the keep-alive that confirmed these, while idle: confirmed in turn.
  confirmIdle(host, s);
}

/**
 * B16: no work in flight, and writes not yet confirmed (the work just ended, or a message was sent while idle): one
 * keep-alive, whose answer confirms them. While busy the heartbeat does this.
 */
function confirmIdle(host: Host, s: UnconfirmedState): void {
  const k = host.k;
  // One keep-alive at a time does it: none while one sent after a write is unanswered.
  if (k.session.total > 0 || k.phase !== 'open' || s.unconfirmed === 0 || s.probes.some((mark) => mark > 0)) return;
  host.out.push(diagnostic('debug', 'confirming', { messages: s.unconfirmed }));
  host.keepalive();
}

/** A connection lost (or given up) with unconfirmed messages: reported, with the copies, never silent (B14). */
function report(host: Host, s: UnconfirmedState): void {
  s.probes = NO_SIZES;
  if (s.unconfirmed === 0) return;
  const messages = s.unconfirmed;
  const copies = s.copies.length;
  s.unconfirmed = 0;
  s.copies = NO_SIZES;
  s.copyBytes = 0;
  host.out.push(diagnostic('warn', 'unconfirmed', { messages, copies }));
  host.emit({ type: 'unconfirmed', messages, copies });
}
