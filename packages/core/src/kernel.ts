import { CLOSE_CODES, NO_COMMANDS, diagnostic } from './commands.js';
import { pollTimeout } from './deadlines.js';
import { closingCause, finish, lost, onClose, onRestart, onSocketClosed, retry } from './kernel-close.js';
import { onInbound } from './kernel-inbound.js';
import type { KernelConfig } from './kernel-options.js';
import { onDequeued, onSend } from './kernel-queue.js';
import {
  DESTROY,
  FLUSH,
  NO_FIELDS,
  NO_LOSS,
  NO_TIMERS,
  anyLayer,
  eachLayer,
  held,
  isIdle,
  openSocket,
  runBackoff,
  runSession,
  sendKeepalive,
  type Draft,
  type Step,
} from './kernel-step.js';
import {
  TIMER,
  type CloseInfo,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionState,
  type ConnectionTransition,
  type ConnectionUserEvent,
  type ConnectionWorkEvent,
  type KernelTimer,
} from './kernel-types.js';
import { createReconnectState, reconnectStep } from './reconnect.js';
import { INITIAL_RTT, rttLost } from './rtt.js';
import { createSessionState } from './session.js';

export { canRestart, isTerminalClose } from './kernel-close.js';

/**
 * The client connection's kernel (B5, B6, B10–B12, B15): one pure machine per connection, in the shape of
 * quinn-proto's `Connection`. Events in (socket facts, timeouts, sends, work starting and stopping, a close request),
 * the next state and an ordered list of commands out. It executes nothing (like XState's `transition`).
 *
 * Its vocabulary (phases, state, events, commands, user events, diagnostics) is `kernel-types.ts`; its options are
 * `kernel-options.ts`. The kernel holds what every client needs: the phases, the connect and close-handshake timeouts
 * (its timer table, {@link TIMER}), attempts and backoff with jitter (the reconnect machine), keep-alives while busy
 * and the dead-peer rule (the session machine), the heartbeat-answer rule, queue accounting (counts and bytes;
 * payloads stay in the driver) and the close-code policy. Every further rule is a {@link Layer} in its own file, given in the config and
 * called at fixed points of a step: `lazy-park.ts`, `idle-read.ts`, `lifecycle.ts`, `slow-down.ts`,
 * `unconfirmed.ts`, `resume-layer.ts`. `connection.ts` composes the default client from all of them.
 *
 * The kernel's own rules are in files named for them, read in this order: this file (opening the connection, the
 * event dispatch, the socket opening, the timeouts, work starting and stopping, and the {@link Host} the layers are
 * given), `kernel-step.ts` (one step: the draft, the layer visitors, the composed session and reconnect machines, a
 * socket asked for, a keep-alive), `kernel-inbound.ts` (inbound frames and the heartbeat answer), `kernel-queue.ts`
 * (sends, the queue's accounting and its refusals), `kernel-close.ts` (closes and losses: park, reconnect or close for
 * good, the idle-churn streak, `restart`, `finish`).
 *
 * Phases (B10), exactly one at a time (`phase-table.test.ts` checks this table against the machine):
 *
 * | phase | socket | what is armed | leaves on |
 * | --- | --- | --- | --- |
 * | `connecting` | one, not open yet | connect timeout | `socket_opened` → `open`; `socket_closed` or the connect timeout → `backoff`, `parked` or `closed`; `close` → `closed` |
 * | `open` | one, open | session timers (heartbeat while busy, liveness), layers' timers | a loss (`socket_closed`, dead peer, a layer's timeout) → `backoff`, `parked` or `closed`; `close` → `closing` (`closed` when immediate) |
 * | `backoff` | none | reconnect delay (unless a layer holds it: offline) | delay over or back online → `connecting` (or `parked`); `close` → `closed` |
 * | `parked` | none | nothing | work starts or a send → `connecting`; `close` → `closed` |
 * | `closing` | one, closing | close-handshake timeout | `socket_closed` or the timeout → `closed` |
 * | `closed` | none | nothing | `restart` after `rejected` or `exhausted` (see {@link canRestart}) → `connecting`; else never |
 *
 * A driver runs it with one timer at {@link connectionDeadline} and delivers `{ type: 'timeout', now }` when it
 * passes.
 */

/**
 * Opens a client connection (quinn's `connect`) from a config of {@link defineKernelConfig} (or of a composition
 * such as `defineConnectionConfig`): the state in phase `connecting` with its first commands, `open_socket` for
 * attempt 0.
 *
 * @param seed - seed of the jitter generator: the driver draws it from its platform's randomness (B3).
 */
export function connect(config: KernelConfig, now: number, seed: number): ConnectionTransition {
  if (!Number.isFinite(now)) throw new RangeError(`Invalid start time now: ${String(now)} (expected a finite number)`);
  const out: ConnectionCommand[] = [];
  const backoff = reconnectStep(createReconnectState(config.reconnect, seed), { type: 'connect', now }, []);
  const d: Draft = {
    config,
    now,
    phase: 'connecting',
    attempt: 0,
    sockets: 0,
    session: createSessionState(config.session, now),
    backoff,
    idleChurn: 0,
    idleReclaims: 0,
    timers: [...NO_TIMERS],
    retryAfterMs: null,
    canPing: false,
    heartbeatsOwed: 0,
    ...INITIAL_RTT,
    heardAt: null,
    queuedMessages: 0,
    queuedBytes: 0,
    lastLoss: NO_LOSS,
    parkedAt: null,
    cause: null,
    closeRequest: null,
    layers: config.layers.map((layer) => layer.init(now)),
  };
  openSocket(new KernelStep(d, out, undefined), 0);
  return [d, out];
}

/**
 * The pure step `(state, event) → [next, commands]`. It executes nothing and never throws on a bad event: it warns
 * through a diagnostic and keeps the state consistent.
 */
export function connectionTransition(state: ConnectionState, event: ConnectionEvent): ConnectionTransition {
  const out: ConnectionCommand[] = [];
  const next = connectionStep(state, event, out);
  return [next, out.length === 0 ? NO_COMMANDS : out];
}

/** The allocation-light form of {@link connectionTransition}: appends the commands to `out` (a buffer the caller owns) and returns the next state. */
export function connectionStep(state: ConnectionState, event: ConnectionEvent, out: ConnectionCommand[]): ConnectionState {
  if (typeof event !== 'object' || (event as unknown) === null || typeof (event as { type?: unknown }).type !== 'string') {
    out.push(diagnostic('warn', 'invalid_event', NO_FIELDS));
    return state;
  }
  const now = eventTime(state, event, out);
  const d: Draft = { ...state, now, timers: [...state.timers], layers: state.layers.map((slice) => ({ ...slice })) };
  const h = new KernelStep(d, out, 'random' in event ? event.random : undefined);
  if (!stepEvent(h, event)) return state;
  const heard = event.type === 'inbound' || event.type === 'hello';
  eachLayer(h, (layer, slice) => layer.settle?.(h, slice, heard));
  return d;
}

/** Handles one event on the draft; `false` when the event changed nothing (the caller returns the old state). */
function stepEvent(h: Step, event: ConnectionEvent): boolean {
  const d = h.k;
  switch (event.type) {
    case 'socket_opened':
      return onOpened(h, event.canPing) || stale(h, event.type);
    case 'socket_closed':
      return onSocketClosed(h, closeInfo(event.code, event.reason)) || stale(h, event.type);
    case 'inbound':
      return onInbound(h, event.frame, event.ack);
    case 'retry_after':
      return onRetryAfter(h, event.delayMs);
    case 'timeout':
      onTimeout(h, event.sendKeepalives);
      return true;
    case 'send':
      onSend(h, event.bytes, event.writable);
      return true;
    case 'dequeued':
      onDequeued(h, event.messages, event.bytes);
      return true;
    case 'start':
    case 'stop':
    case 'release':
    case 'signal':
      onWork(h, { ...event, now: d.now });
      return true;
    case 'close':
      onClose(h, event.cause === 'aborted' ? 'aborted' : 'closed', closeInfo(event.code, event.reason), event.immediate === true, event.abandon === true);
      return true;
    case 'restart':
      return onRestart(h);
    default: {
      // Events a layer handles (`network`, `visibility`, `hello`).
      if (anyLayer(h, (layer, slice) => layer.event?.(h, slice, event))) return true;
      if (event.type === 'hello') {
        // A hello that no layer asked for (resume is off): the server spoke a protocol the client did not ask for.
        h.out.push(diagnostic('warn', 'protocol_error', { frame: 'hello' }));
        return true;
      }
      h.out.push(diagnostic('warn', 'invalid_event', { event: 'unknown' }));
      return false;
    }
  }
}

/**
 * The earliest deadline of the connection (quinn's `poll_timeout`), or `null` when nothing is armed: arm one timer
 * for it and deliver `{ type: 'timeout', now }` when it passes. Always `null` while parked or closed.
 */
export function connectionDeadline(state: ConnectionState): number | null {
  let earliest = pollTimeout(state.session);
  const consider = (at: number | null | undefined): void => {
    if (at != null && (earliest === null || at < earliest)) earliest = at;
  };
  for (const at of state.timers) consider(at);
  if (state.phase === 'backoff' && !held(state)) consider(state.backoff.deadline);
  const { layers } = state.config;
  for (let i = 0; i < layers.length; i++) consider(layers[i]?.deadline?.(state.layers[i] as object, state));
  return earliest;
}

/**
 * Whether the socket asked for by `open_socket` with `serial` is still wanted: a driver whose target is asynchronous
 * checks it when the socket arrives, and destroys a socket that is no longer wanted.
 */
export function wantsSocket(state: ConnectionState, serial: number): boolean {
  return state.phase === 'connecting' && state.sockets === serial;
}

/**
 * One step's {@link Host}: the draft, its commands, the event's jitter draw, and each decision a layer may ask for,
 * wired to the rule that makes it.
 */
class KernelStep implements Step {
  constructor(
    readonly k: Draft,
    readonly out: ConnectionCommand[],
    readonly random: number | undefined,
  ) {}

  idle(): boolean {
    return isIdle(this);
  }

  emit(event: ConnectionUserEvent): void {
    this.out.push({ type: 'event', event });
  }

  lose(info: CloseInfo): void {
    this.out.push(DESTROY);
    lost(this, info, true);
  }

  keepalive(): void {
    sendKeepalive(this);
  }

  alive(): void {
    runSession(this, { type: 'alive', now: this.k.now });
  }

  signal(): void {
    runSession(this, { type: 'signal', now: this.k.now, sendKeepalives: true });
  }

  reconnectNow(): void {
    retry(this);
  }

  unpark(trigger: 'activity' | 'send'): void {
    const d = this.k;
    const parkedMs = d.now - (d.parkedAt ?? /* c8 ignore next */ d.now);
    runBackoff(this, { type: 'connect', now: d.now });
    openSocket(this, 0);
    this.out.push(diagnostic('info', 'unparked', { trigger, parked_ms: parkedMs }));
  }

  requeue(messages: number, bytes: number): void {
    this.k.queuedMessages += messages;
    this.k.queuedBytes += bytes;
  }

  setHeartbeatInterval(ms: number): void {
    const session = this.k.session;
    // No option checking inside a step: the interval only grows, within a bound checked at construction.
    this.k.session = { ...session, config: Object.freeze({ ...session.config, heartbeatIntervalMs: ms }) };
  }
}

/** The socket opened (`socket_opened`, B10): the session attaches, the queue flushes, `open`; `false` when no attempt waited for it. */
function onOpened(h: Step, canPing: boolean): boolean {
  const d = h.k;
  if (d.phase !== 'connecting') return false;
  d.phase = 'open';
  d.timers[TIMER.connect] = null;
  d.canPing = canPing;
  d.heartbeatsOwed = 0;
  d.heardAt = d.now;
  rttLost(d);
  runBackoff(h, { type: 'connected', now: d.now });
  // S3, S4: attach on open; when work is in flight the heartbeat resumes at once (B6).
  runSession(h, { type: 'attach', now: d.now });
  if (d.queuedMessages > 0) h.out.push(FLUSH);
  h.emit({ type: 'open', attempt: d.attempt });
  eachLayer(h, (layer, slice) => layer.opened?.(h, slice));
  return true;
}

/**
 * The one timer passed (`timeout`): the phase's own timer (the connect timeout, the close-handshake timeout, the
 * reconnect delay), else the layers' timers and the session's.
 */
function onTimeout(h: Step, sendKeepalives: boolean | undefined): void {
  const d = h.k;
  const now = d.now;
  const due = (timer: KernelTimer): boolean => {
    const at = d.timers[timer] ?? null;
    return at !== null && at <= now;
  };
  // At most one phase transition per event, from the phase the event found: a connect timeout whose backoff delay is
  // 0 opens the next socket on the next event (its deadline is now), not in this one.
  switch (d.phase) {
    case 'connecting':
      if (!due(TIMER.connect)) break;
      // B10: an attempt that has not opened in time is a failed attempt.
      d.timers[TIMER.connect] = null;
      h.out.push(diagnostic('warn', 'connect_timeout', { attempt: d.attempt, timeout_ms: d.config.connectTimeoutMs }));
      h.out.push(DESTROY);
      lost(h, { code: CLOSE_CODES.abnormal, reason: 'connect_timeout' }, false);
      return;
    case 'closing':
      if (!due(TIMER.close)) break;
      d.timers[TIMER.close] = null;
      h.out.push(diagnostic('warn', 'close_timeout', { timeout_ms: d.config.closeTimeoutMs }));
      h.out.push(DESTROY);
      finish(h, closingCause(d), { code: CLOSE_CODES.abnormal, reason: 'close_timeout' });
      return;
    case 'backoff':
      if (!held(d) && d.backoff.deadline !== null && d.backoff.deadline <= now) retry(h);
      return;
    default:
      break;
  }
  eachLayer(h, (layer, slice) => layer.timeout?.(h, slice));
  const session = pollTimeout(d.session);
  if (session !== null && session <= now) runSession(h, { type: 'timeout', now, sendKeepalives });
}

/** The peer's least reconnect delay (an SSE `retry:` field), kept for every later backoff; `null` forgets it. */
function onRetryAfter(h: Step, delayMs: unknown): boolean {
  if (delayMs !== null && (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0)) {
    h.out.push(diagnostic('warn', 'invalid_event', { event: 'retry_after' }));
    return true;
  }
  h.k.retryAfterMs = delayMs;
  return true;
}

/** Work on the activity (`start`, `stop`, `release`, `signal`), through the session: work starting ends a park and a streak of idle reconnects. */
function onWork(h: Step, event: ConnectionWorkEvent): void {
  const d = h.k;
  const busy = d.session.total > 0;
  runSession(h, event);
  // Work starting ends a streak of idle reconnects: the connection was kept for something after all.
  if (!busy && d.session.total > 0) d.idleChurn = 0;
  // S1: work starting (total 0 → 1) ends a park.
  if (d.phase === 'parked' && d.session.total > 0) h.unpark('activity');
  if (busy && d.session.total === 0) eachLayer(h, (layer, slice) => layer.workEnded?.(h, slice));
}

/** The event's time: the state's own when the event's is not a finite number (a warning), and never earlier than it. */
function eventTime(state: ConnectionState, event: ConnectionEvent, out: ConnectionCommand[]): number {
  const now: unknown = event.now;
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    out.push(diagnostic('warn', 'invalid_time', { event: event.type }));
    return state.now;
  }
  return now < state.now ? state.now : now;
}

/** A close's code and reason as an event gave them: an integer code (else `abnormal`) and a string reason (else none). */
function closeInfo(code: unknown, reason: unknown): CloseInfo {
  return {
    code: typeof code === 'number' && Number.isInteger(code) ? code : CLOSE_CODES.abnormal,
    reason: typeof reason === 'string' ? reason : '',
  };
}

/** An event about a socket the connection no longer has: a warning, no change. */
function stale(h: Step, event: string): false {
  h.out.push(diagnostic('warn', 'stale_event', { event }));
  return false;
}
