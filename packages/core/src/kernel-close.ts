import { CLOSE_CODES, diagnostic } from './commands.js';
import { BACK_OFF_CLOSE_CODES, type KernelConfig } from './kernel-options.js';
import {
  ABANDON,
  DESTROY,
  DRAIN,
  NO_LOSS,
  NO_TIMERS,
  anyLayer,
  eachLayer,
  isIdle,
  openSocket,
  runBackoff,
  runSession,
  type Draft,
  type Step,
} from './kernel-step.js';
import {
  IDLE_CHURN_CYCLES,
  IDLE_CHURN_OPTIONS,
  TIMER,
  type CloseInfo,
  type ConnectionCloseCause,
  type ConnectionState,
  type ShutdownReport,
} from './kernel-types.js';
import { readPingFloodReason } from './ping-policy.js';
import { createReconnectState, reconnectStep } from './reconnect.js';
import { rttLost } from './rtt.js';
import { createSessionState } from './session.js';

/**
 * How a client connection ends, and what follows (B10–B12, B16): the socket closing, a loss (an open socket gone, or
 * an attempt that failed) and its decision (rejected for good on a terminal code, parked when a layer says so, else a
 * reconnect with backoff, or exhausted), the streak of idle reconnects (`idle_churn`), the close the application asks
 * for (with its handshake, or immediate), `restart` after a close for good, and `finish`, closed for good.
 *
 * The idle-churn count stays in the kernel, not in a layer: `idleChurn` and `idleReclaims` are fields of the public
 * {@link ConnectionState}, and every client (the kernel alone included) counts them and warns. Work starting also ends
 * a streak (`onWork` in `kernel.ts`).
 */

/**
 * Whether a `restart` event would start the connection again: it closed for good because the peer rejected it
 * (`rejected`, B12) or `reconnect.maxAttempts` attempts failed (`exhausted`, B11). A close that was asked for
 * (`closed`, `aborted`) is final. A driver keeps its listeners across such a close, so a restart finds them.
 */
export function canRestart(state: ConnectionState): boolean {
  return state.phase === 'closed' && (state.cause === 'rejected' || state.cause === 'exhausted');
}

/** Whether the close code (and reason) means "do not retry as is" under `config` (B12, B13). */
export function isTerminalClose(config: KernelConfig, code: number, reason: string): boolean {
  if (code === CLOSE_CODES.policyViolation && readPingFloodReason(reason) !== null) return false;
  return config.terminalCloseCodes.includes(code);
}

/** The socket closed (`socket_closed`): an attempt failed, the open socket was lost, or the close handshake ended. */
export function onSocketClosed(h: Step, info: CloseInfo): boolean {
  const d = h.k;
  switch (d.phase) {
    case 'connecting':
      d.timers[TIMER.connect] = null;
      lost(h, info, false);
      return true;
    case 'open':
      lost(h, info, true);
      return true;
    case 'closing':
      d.timers[TIMER.close] = null;
      // The server echoed the client's close code: it read the client's close frame, and everything before it. A
      // different code is its own close crossing the client's: it may not have read what was in flight.
      if (info.code !== CLOSE_CODES.abnormal && info.code === d.closeRequest?.code) eachLayer(h, (layer, slice) => layer.cleanClose?.(h, slice));
      finish(h, closingCause(d), info);
      return true;
    default:
      return false;
  }
}

/** The socket is gone: it was open (`opened`) or an attempt failed. Decide what comes next. */
export function lost(h: Step, info: CloseInfo, opened: boolean): void {
  const d = h.k;
  // Read before the session detaches: no work in flight and nothing waiting to be written or confirmed.
  const idle = isIdle(h);
  d.canPing = false;
  d.heartbeatsOwed = 0;
  rttLost(d);
  d.lastLoss = info;
  if (opened) {
    runSession(h, { type: 'detach', now: d.now });
    h.out.push(diagnostic('info', 'connection_lost', { code: info.code }));
    eachLayer(h, (layer, slice) => layer.lost?.(h, slice));
  } else {
    h.out.push(diagnostic('warn', 'connect_failed', { attempt: d.attempt }));
  }
  const closeEvent = (willReconnect: boolean): void => {
    if (opened) h.emit({ type: 'close', code: info.code, reason: info.reason, willReconnect });
  };
  // B12: a terminal code is not retried as is.
  if (isTerminalClose(d.config, info.code, info.reason)) {
    h.out.push(diagnostic('warn', 'rejected', { code: info.code }));
    closeEvent(false);
    h.emit({ type: 'rejected', code: info.code, reason: info.reason });
    finish(h, 'rejected', info);
    return;
  }
  eachLayer(h, (layer, slice) => layer.closedWith?.(h, slice, info, opened));
  const notNow = BACK_OFF_CLOSE_CODES.includes(info.code);
  // B16: a connection lost while idle, after it opened (a reclaimer's cut, a server restart), is not a failure: the
  // reconnect does not grow the backoff, whatever the connection's lifetime.
  const reclaimed = opened && !notNow && idle;
  // Counted for a metric whatever follows (a park or a reconnect); a ping-flood close (1008, B13) is the server's
  // answer to keep-alives, not a reclaimer's cut.
  const cut = reclaimed && info.code !== CLOSE_CODES.policyViolation;
  if (cut) d.idleReclaims += 1;
  if (parks(h)) {
    closeEvent(false);
    park(h, info);
    return;
  }
  if (opened) churn(h, cut);
  runBackoff(h, { type: 'disconnected', now: d.now, random: h.random, minDelayMs: d.retryAfterMs ?? undefined, notNow, reclaimed });
  if (d.backoff.phase === 'exhausted') {
    closeEvent(false);
    finish(h, 'exhausted', info);
    return;
  }
  d.phase = 'backoff';
  closeEvent(true);
  // The deadline is now + the delay: read back to the microsecond, so a fractional clock leaves no float noise (a
  // delay of 150 ms read as 149.9999999999999 would seem to break a server's retry floor).
  const waitMs = (d.backoff.deadline ?? /* c8 ignore next */ d.now) - d.now;
  h.emit({ type: 'reconnecting', attempt: d.backoff.attempt, delayMs: Math.round(waitMs * 1_000) / 1_000 });
}

/**
 * Counts a reclaim-then-reconnect cycle while idle (`reclaimed`), or ends the streak (a loss while busy). At
 * {@link IDLE_CHURN_CYCLES} in a row, one warning for the streak, naming the two options that stop it.
 */
function churn(h: Step, reclaimed: boolean): void {
  const d = h.k;
  if (!reclaimed) {
    d.idleChurn = 0;
    return;
  }
  d.idleChurn += 1;
  if (d.idleChurn === IDLE_CHURN_CYCLES) h.out.push(diagnostic('warn', 'idle_churn', { cycles: d.idleChurn, options: IDLE_CHURN_OPTIONS }));
}

/** Whether a layer parks the connection instead of reconnecting (the lazy park, B10). */
function parks(h: Step): boolean {
  return anyLayer(h, (layer, slice) => layer.parks?.(h, slice));
}

/** Parked (B10): no socket and nothing armed until work starts or a message is sent. */
function park(h: Step, info: CloseInfo): void {
  const d = h.k;
  runBackoff(h, { type: 'stop', now: d.now });
  d.phase = 'parked';
  d.parkedAt = d.now;
  // A parked client does not churn: the streak of idle reconnects ends here.
  d.idleChurn = 0;
  h.out.push(diagnostic('info', 'parked', { code: info.code }));
  h.emit({ type: 'parked', code: info.code, reason: info.reason });
  // The deprecated alias, for one minor version: "idle" now means only "no work in flight".
  h.emit({ type: 'idle', code: info.code, reason: info.reason });
}

/** A reconnect's delay is over (or the network is back): connect now, unless a layer parks the connection. */
export function retry(h: Step): void {
  if (parks(h)) {
    park(h, h.k.lastLoss);
    return;
  }
  runBackoff(h, { type: 'timer', now: h.k.now });
  openSocket(h, h.k.backoff.attempt);
}

/** The application's `close` (B6, B10): a close handshake from `open`, else closed for good now (`immediate`: no handshake). */
export function onClose(h: Step, cause: 'closed' | 'aborted', info: CloseInfo, immediate: boolean, abandon: boolean): void {
  const d = h.k;
  if (d.phase === 'closed') return;
  if (immediate && (d.phase === 'open' || d.phase === 'closing' || d.phase === 'connecting')) {
    // No time for a handshake: destroy the socket (or leave it to the platform) and close for good now.
    if (d.phase === 'open') runSession(h, { type: 'detach', now: d.now });
    h.out.push(abandon ? ABANDON : DESTROY);
    finish(h, d.cause ?? cause, info);
    return;
  }
  if (d.phase === 'closing') return;
  // B6, B10: no attempt starts after a deliberate close.
  runBackoff(h, { type: 'stop', now: d.now });
  d.cause = cause;
  d.closeRequest = info;
  switch (d.phase) {
    case 'open':
      // No keep-alives (and no dead-peer kill) during the close handshake.
      runSession(h, { type: 'detach', now: d.now });
      d.phase = 'closing';
      d.timers[TIMER.close] = d.now + d.config.closeTimeoutMs;
      h.out.push({ type: 'close_socket', code: info.code, reason: info.reason });
      return;
    case 'connecting':
      d.timers[TIMER.connect] = null;
      h.out.push(DESTROY);
      finish(h, cause, info);
      return;
    default:
      finish(h, cause, info);
  }
}

/**
 * `restart` (see {@link canRestart}): a connection closed for good by `rejected` or `exhausted` starts again, as new:
 * a fresh attempt count and backoff level (the jitter seed goes on), fresh layer slices, a new session (no work in
 * flight: start work again), and a socket for attempt 0. Anywhere else: a warning, no change.
 */
export function onRestart(h: Step): boolean {
  const d = h.k;
  if (!canRestart(d)) {
    h.out.push(diagnostic('warn', 'restart_ignored', { phase: d.phase, cause: d.phase === 'closed' ? d.cause : null }));
    return false;
  }
  const cause = d.cause;
  d.backoff = reconnectStep(createReconnectState(d.config.reconnect, d.backoff.seed), { type: 'connect', now: d.now }, []);
  // A new session: the work in flight at the close was reported (S9) and may have ended since, unheard. Tokens go on,
  // so a release of work from before the close is unknown to it, never mistaken for new work.
  d.session = { ...createSessionState(d.session.config, d.now), lastToken: d.session.lastToken };
  d.cause = null;
  d.closeRequest = null;
  d.lastLoss = NO_LOSS;
  d.idleChurn = 0;
  d.layers = d.config.layers.map((layer) => layer.init(d.now));
  h.out.push(diagnostic('info', 'restarted', { cause }));
  openSocket(h, 0);
  return true;
}

/** Why a closing connection is closing (set by the close request that started it). */
export function closingCause(d: Draft): ConnectionCloseCause {
  /* c8 ignore next -- only the close request enters closing, and it sets the cause */
  return d.cause ?? 'closed';
}

/** Closed for good (B10): nothing armed, queued messages handed back, the session shut down (S9). */
export function finish(h: Step, cause: ConnectionCloseCause, info: CloseInfo): void {
  const d = h.k;
  if (d.backoff.phase !== 'stopped' && d.backoff.phase !== 'exhausted') runBackoff(h, { type: 'stop', now: d.now });
  d.phase = 'closed';
  d.cause = cause;
  d.timers = [...NO_TIMERS];
  d.parkedAt = null;
  d.canPing = false;
  d.heartbeatsOwed = 0;
  rttLost(d);
  // Of what is handed back, oldest first: how many were written (they may have arrived); the rest never left.
  let written = 0;
  eachLayer(h, (layer, slice) => {
    written += layer.finish?.(h, slice) ?? 0;
  });
  if (d.queuedMessages > 0) {
    h.out.push(DRAIN);
    h.out.push(diagnostic('warn', 'undelivered', { messages: d.queuedMessages }));
    d.queuedMessages = 0;
    d.queuedBytes = 0;
  }
  const session = d.session;
  const report: ShutdownReport = {
    total: session.total,
    active: session.counts,
    oldestActivityMs: session.busySince === null ? null : d.now - session.busySince,
    keepalivesSent: session.keepalivesSent,
  };
  runSession(h, { type: 'shutdown', now: d.now });
  h.out.push(diagnostic('info', 'client_closed', { cause, code: info.code }));
  h.emit({ type: 'closed', cause, code: info.code, reason: info.reason, report, written });
}
