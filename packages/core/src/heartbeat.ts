import { KeepaliveOptionError } from './errors.js';

/**
 * The heartbeat-answer rule, in one copy for both ends. Where a transport
 * cannot send protocol pings (browsers, Deno, undici), keep-alives are
 * heartbeat messages and each end answers the other's in kind. An inbound
 * heartbeat is either the answer to one of ours (it settles the oldest
 * unanswered one, like a pong) or the peer's own keep-alive (answered once).
 * Counting what we still owe is what keeps two ends from echoing each other
 * forever.
 */

/**
 * What an inbound heartbeat message means, given how many of ours are still
 * unanswered.
 */
export interface HeartbeatVerdict {
  /** Heartbeats of ours still unanswered after this one. */
  readonly unanswered: number;
  /** Whether to answer it in kind (it was the peer's own keep-alive). */
  readonly reply: boolean;
}

const REPLY: HeartbeatVerdict = /* @__PURE__ */ Object.freeze({ unanswered: 0, reply: true });

/**
 * Applies the heartbeat-answer rule to one inbound heartbeat message:
 * while any heartbeat of ours is unanswered, it answers the oldest one;
 * otherwise it is the peer's own and must be answered. A negative or
 * non-integer count is treated as zero.
 *
 * @param unanswered - heartbeat messages this end sent and has not seen answered.
 *
 * @example
 * ```ts
 * import { answerHeartbeat } from '@keepalive/core';
 * let owed = 0;
 * owed++; // we sent a heartbeat message
 * const verdict = answerHeartbeat(owed); // the peer's answer arrives
 * owed = verdict.unanswered; // 0, and verdict.reply is false
 * ```
 */
export function answerHeartbeat(unanswered: number): HeartbeatVerdict {
  if (!Number.isInteger(unanswered) || unanswered <= 0) return REPLY;
  return { unanswered: unanswered - 1, reply: false };
}

/**
 * The length of `text` in UTF-8 bytes, as it goes on the wire (a lone
 * surrogate counts as the 3-byte replacement character, as encoders write it).
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The largest heartbeat message: a control frame's payload limit, so a heartbeat never costs more than a ping. */
export const MAX_HEARTBEAT_BYTES = 125;

/**
 * Validates a heartbeat-message option (B1): a string of at most
 * {@link MAX_HEARTBEAT_BYTES} UTF-8 bytes; throws {@link KeepaliveOptionError}
 * naming `option` otherwise.
 */
export function checkHeartbeatMessage(option: string, value: unknown): string {
  if (typeof value !== 'string' || utf8Length(value) > MAX_HEARTBEAT_BYTES) {
    throw new KeepaliveOptionError(option, value, `a string of at most ${MAX_HEARTBEAT_BYTES} UTF-8 bytes`);
  }
  return value;
}
