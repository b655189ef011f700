import { CLOSE_CODES } from '@keepalive/core';

/**
 * What a session hub tells the world, in one place: the close codes it sends and the names of its diagnostics.
 */

/**
 * Close codes the hub sends: 1000 (a session ended by the application), 1001
 * (the hub closed and ended its sessions), 1012 (service restart: the hub closed and
 * handed its sessions over to its store; the client resumes on the next process), 1002 (a resume request this version cannot read, a wire
 * format v1 client, or a frame other than the proof after a challenge), 1013
 * (`maxSessions` reached: try again later), 1011 (a frame could not be written:
 * the client resumes on a new connection), 4001 (the session was resumed on
 * a newer connection that proved its secret; the older one is closed), 4403
 * (a wrong proof, or the `admit` hook refused: nothing changed), 4408 (the
 * handshake took longer than `handshakeTimeoutMs`: nothing changed).
 */
export const RESUME_CLOSE_CODES = Object.freeze({
  normal: 1000,
  goingAway: CLOSE_CODES.goingAway,
  protocolError: 1002,
  internalError: 1011,
  serviceRestart: 1012,
  tryAgainLater: 1013,
  resumedElsewhere: 4001,
  refused: 4403,
  handshakeTimeout: 4408,
} as const);

/**
 * Whether `code` is a close code an application may send: 1000, or an integer from 3000 to 4999 (RFC 6455 section
 * 7.4.2; the rest are the protocol's or reserved). What `session.close(code)` and an `admit` refusal accept, and
 * what a server may echo back when it answers a client's close.
 */
export function isApplicationCloseCode(code: unknown): code is number {
  return code === RESUME_CLOSE_CODES.normal || (typeof code === 'number' && Number.isInteger(code) && code >= 3000 && code <= 4999);
}

/** The close reason a wire format v1 client gets (with 1002): its session ids were bearer credentials in the URL. */
export const LEGACY_REFUSAL_REASON = 'keepalive resume v1 refused: upgrade the client';

/**
 * The close reasons the hub sends with its {@link RESUME_CLOSE_CODES} (the table of `docs/resume-protocol.md`,
 * section 3): `going away` (1001: the hub closed and ended its sessions), `service restart` (1012: the hub closed
 * and handed its sessions over to its store), `resume refused` (4403), `resumed elsewhere` (4001),
 * `handshake timeout` (4408), `try again later` (1013), `send failed` (1011), `invalid resume request`,
 * `proof expected`, `hello expected` and the legacy refusal (1002). Clients decide by the code; the reason is for
 * people.
 */
export const RESUME_CLOSE_REASONS = Object.freeze({
  goingAway: 'going away',
  serviceRestart: 'service restart',
  refused: 'resume refused',
  resumedElsewhere: 'resumed elsewhere',
  handshakeTimeout: 'handshake timeout',
  tryAgainLater: 'try again later',
  sendFailed: 'send failed',
  invalidRequest: 'invalid resume request',
  proofExpected: 'proof expected',
  helloExpected: 'hello expected',
  legacy: LEGACY_REFUSAL_REASON,
} as const);


/**
 * Diagnostics of a {@link SessionHub} (counts, codes, names and durations
 * only, spec S10: never payloads, URLs or session ids), besides the
 * delivery machine's (`DELIVERY_DIAGNOSTICS` of `@keepalive/core`:
 * `replay_full`, `retransmitted`, `invalid_ack`, `duplicate_dropped`,
 * `delivery_gap`):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `session_started` | debug | `sessions` (held now) |
 * | `session_resumed` | info | `away_ms` |
 * | `session_unknown` | info | `reason` (`unknown`, `impossible_delivered` or `unrestorable`) |
 * | `resume_refused` | warn | `reason` (`proof`, `admission`, `timeout`, `legacy`), `failures` (wrong proofs for that session so far, with `proof`) |
 * | `session_evicted` | info | `sessions` (an unconfirmed session made room for a new one) |
 * | `session_replaced` | warn | none (a half-open connection closed with 4001) |
 * | `sessions_full` | warn | `limit` |
 * | `invalid_resume_request` | warn | none (closed with 1002) |
 * | `protocol_error` | warn | `total` (a control frame this version cannot read; not delivered) |
 * | `message_unheard` | warn | `total` (delivered with no `message` listener) |
 * | `session_closed` | info | `by`, `code`, `messages` (handed back) |
 * | `session_expired` | info | `messages` (handed back) |
 * | `listener_failed` | warn | `event`, `error` |
 * | `socket_failed` | warn | `op`, `error` |
 * | `session_restored` | info | `messages` (taken over from the store: another process held it) |
 * | `store_failed` | warn | `op`, `error` (a store that threw or rejected; the session is new, or kept here only; `op` `flush` when the hub closed: the store's last writes may be missing) |
 * | `sessions_handed_over` | info | `sessions` (left in the store when the hub closed), `ms` (from `close()` until the store wrote them) |
 * | `session_ended_unheld` | warn | `code` (1000), `messages` (unacknowledged, lost: a client ended a session this hub held no connection for, and the store's copy was removed) |
 */
export const SESSION_HUB_DIAGNOSTICS = Object.freeze({
  sessionStarted: 'session_started',
  sessionResumed: 'session_resumed',
  sessionUnknown: 'session_unknown',
  resumeRefused: 'resume_refused',
  sessionEvicted: 'session_evicted',
  sessionReplaced: 'session_replaced',
  sessionsFull: 'sessions_full',
  invalidRequest: 'invalid_resume_request',
  protocolError: 'protocol_error',
  messageUnheard: 'message_unheard',
  sessionClosed: 'session_closed',
  sessionExpired: 'session_expired',
  listenerFailed: 'listener_failed',
  socketFailed: 'socket_failed',
  sessionRestored: 'session_restored',
  storeFailed: 'store_failed',
  sessionsHandedOver: 'sessions_handed_over',
  sessionEndedUnheld: 'session_ended_unheld',
} as const);
