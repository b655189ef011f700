import { CLOSE_CODES, NO_COMMANDS, diagnostic } from './commands.js';
import { pollTimeout } from './deadlines.js';
import { answerHeartbeat } from './heartbeat.js';
import { BACK_OFF_CLOSE_CODES, type KernelConfig } from './kernel-options.js';
import {
  IDLE_CHURN_CYCLES,
  IDLE_CHURN_OPTIONS,
  TIMER,
  type CloseInfo,
  type ConnectionCloseCause,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionState,
  type ConnectionTransition,
  type ConnectionUserEvent,
  type ConnectionWorkEvent,
  type InboundFrame,
  type KernelTimer,
  type ShutdownReport,
} from './kernel-types.js';
import { heldMessages, type Host, type Layer } from './layer.js';
import { readPingFloodReason } from './ping-policy.js';
import { createReconnectState, reconnectStep, type ReconnectCommand, type ReconnectEvent } from './reconnect.js';
import { INITIAL_RTT, rttAnswered, rttLost, rttSent } from './rtt.js';
import { createSessionState, step as sessionStep, type SessionCommand, type SessionEvent } from './session.js';

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

const WRITE: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'write' });
const ENQUEUE: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'enqueue' });
const FLUSH: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'flush' });
const DRAIN: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'drain' });
const DESTROY: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'destroy_socket' });
const ABANDON: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'abandon_socket' });
const REPLY: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'reply_heartbeat', ack: null });
const PING: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'keepalive', frame: 'ping', ack: null });
const HEARTBEAT: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'keepalive', frame: 'heartbeat', ack: null });
const DELIVER: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'deliver' });
const NO_FIELDS = /* @__PURE__ */ Object.freeze({});
const NO_LOSS: CloseInfo = /* @__PURE__ */ Object.freeze({ code: CLOSE_CODES.abnormal, reason: '' });
const NO_TIMERS: readonly (number | null)[] = /* @__PURE__ */ Object.freeze([null, null]);

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
  openSocket(new Step(d, out, undefined), 0);
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
  const h = new Step(d, out, 'random' in event ? event.random : undefined);
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

// ---------------------------------------------------------------------------
// Internals. A step copies the state once into a draft (each layer's slice too) and edits it in place.

/** A connection state being edited in place during one step. */
type Draft = { -readonly [K in keyof ConnectionState]: K extends 'timers' ? (number | null)[] : K extends 'layers' ? object[] : ConnectionState[K] };

/** One step: the draft, its commands, the event's jitter draw, and the decisions layers may ask for ({@link Host}). */
class Step implements Host {
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

function eachLayer(h: Step, visit: (layer: Layer, slice: object) => void): void {
  const { layers } = h.k.config;
  for (let i = 0; i < layers.length; i++) visit(layers[i] as Layer, h.k.layers[i] as object);
}

/** Whether a layer answers `ask` with `true` (the first that does ends the search). */
function anyLayer(h: Step, ask: (layer: Layer, slice: object) => boolean | undefined): boolean {
  return firstOf(h, (layer, slice) => (ask(layer, slice) === true ? true : null)) === true;
}

/** The first non-null answer of the layers to `ask`. */
function firstOf<T>(h: Step, ask: (layer: Layer, slice: object) => T | null | undefined): T | null {
  const { layers } = h.k.config;
  for (let i = 0; i < layers.length; i++) {
    const answer = ask(layers[i] as Layer, h.k.layers[i] as object);
    if (answer != null) return answer;
  }
  return null;
}

function held(state: ConnectionState): boolean {
  const { layers } = state.config;
  for (let i = 0; i < layers.length; i++) if (layers[i]?.holds?.(state.layers[i] as object) === true) return true;
  return false;
}

function eventTime(state: ConnectionState, event: ConnectionEvent, out: ConnectionCommand[]): number {
  const now: unknown = event.now;
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    out.push(diagnostic('warn', 'invalid_time', { event: event.type }));
    return state.now;
  }
  return now < state.now ? state.now : now;
}

function closeInfo(code: unknown, reason: unknown): CloseInfo {
  return {
    code: typeof code === 'number' && Number.isInteger(code) ? code : CLOSE_CODES.abnormal,
    reason: typeof reason === 'string' ? reason : '',
  };
}

function stale(h: Step, event: string): false {
  h.out.push(diagnostic('warn', 'stale_event', { event }));
  return false;
}

/** Runs one event through the composed session machine and translates its commands. */
function runSession(h: Step, event: SessionEvent): void {
  const inner: SessionCommand[] = [];
  h.k.session = sessionStep(h.k.session, event, inner);
  for (const command of inner) {
    switch (command.type) {
      case 'send':
        // The session sends only while attached, and it is attached exactly while open.
        sendKeepalive(h);
        break;
      case 'close':
        // B5: the session declared the peer dead (it has detached itself).
        h.emit({ type: 'dead-peer', timeoutMs: h.k.session.config.pongTimeoutMs ?? /* c8 ignore next */ 0 });
        h.lose({ code: command.code, reason: command.reason });
        break;
      case 'diagnostic':
        h.out.push(command);
        break;
      default:
        // `arm` / `cancel`: the driver arms one timer at connectionDeadline(), and session timers are in it.
        break;
    }
  }
}

/** Runs one event through the composed reconnect machine; its diagnostics pass through. */
function runBackoff(h: Step, event: ReconnectEvent): void {
  const inner: ReconnectCommand[] = [];
  h.k.backoff = reconnectStep(h.k.backoff, event, inner);
  for (const command of inner) if (command.type === 'diagnostic') h.out.push(command);
}

function openSocket(h: Step, attempt: number): void {
  const d = h.k;
  d.phase = 'connecting';
  d.attempt = attempt;
  d.sockets += 1;
  d.parkedAt = null;
  d.timers[TIMER.connect] = d.now + d.config.connectTimeoutMs;
  const resume = firstOf(h, (layer, slice) => layer.ticket?.(h, slice));
  h.out.push({ type: 'open_socket', attempt, serial: d.sockets, resume });
}

/** One keep-alive: a ping or a heartbeat message, carrying an acknowledgement where a layer owes one (B14). */
function sendKeepalive(h: Step): void {
  eachLayer(h, (layer, slice) => layer.keepalive?.(h, slice));
  const d = h.k;
  if (!d.canPing) d.heartbeatsOwed += 1;
  rttSent(d, d.now);
  const ack = firstOf(h, (layer, slice) => layer.ack?.(h, slice, !d.canPing));
  if (ack === null) h.out.push(d.canPing ? PING : HEARTBEAT);
  else h.out.push({ type: 'keepalive', frame: d.canPing ? 'ping' : 'heartbeat', ack });
}

/** No work in flight, nothing queued, and nothing a layer holds unacknowledged: the connection has nothing to do. */
function isIdle(h: Step): boolean {
  return h.k.session.total === 0 && heldMessages(h.k) === 0;
}

function parks(h: Step): boolean {
  return anyLayer(h, (layer, slice) => layer.parks?.(h, slice));
}

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
function retry(h: Step): void {
  if (parks(h)) {
    park(h, h.k.lastLoss);
    return;
  }
  runBackoff(h, { type: 'timer', now: h.k.now });
  openSocket(h, h.k.backoff.attempt);
}

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

function onSocketClosed(h: Step, info: CloseInfo): boolean {
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
function lost(h: Step, info: CloseInfo, opened: boolean): void {
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
  h.emit({ type: 'reconnecting', attempt: d.backoff.attempt, delayMs: (d.backoff.deadline ?? /* c8 ignore next */ d.now) - d.now });
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

function onInbound(h: Step, frame: InboundFrame, ack: number | undefined): boolean {
  const d = h.k;
  // Data still arrives while the client's close handshake runs; nothing else matters then.
  if (d.phase === 'closing' && frame === 'data') {
    deliver(h);
    return true;
  }
  if (d.phase !== 'open') return false;
  eachLayer(h, (layer, slice) => layer.inbound?.(h, slice, frame));
  // B5: any inbound frame is proof of life.
  d.heardAt = d.now;
  runSession(h, { type: 'alive', now: d.now });
  if (typeof ack === 'number') eachLayer(h, (layer, slice) => layer.acked?.(h, slice, ack));
  switch (frame) {
    case 'heartbeat': {
      // The heartbeat-answer rule, one copy for both ends.
      const verdict = answerHeartbeat(d.heartbeatsOwed);
      d.heartbeatsOwed = verdict.unanswered;
      if (verdict.reply) {
        const owed = firstOf(h, (layer, slice) => layer.ack?.(h, slice, true));
        h.out.push(owed === null ? REPLY : { type: 'reply_heartbeat', ack: owed });
      } else {
        rttAnswered(d, d.now);
        eachLayer(h, (layer, slice) => layer.answered?.(h, slice));
      }
      return true;
    }
    case 'pong':
      rttAnswered(d, d.now);
      eachLayer(h, (layer, slice) => layer.answered?.(h, slice));
      return true;
    case 'data':
      deliver(h);
      return true;
    case 'invalid':
      h.out.push(diagnostic('warn', 'protocol_error', { frame: 'control' }));
      return true;
    default:
      return true;
  }
}

/** An inbound data frame: a layer may take it (a resumed connection numbers it); else it is delivered. */
function deliver(h: Step): void {
  if (!anyLayer(h, (layer, slice) => layer.data?.(h, slice))) h.out.push(DELIVER);
}

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

function onSend(h: Step, bytes: number, writable: boolean): void {
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

const REFUSED: Readonly<Record<'closed' | 'messages' | 'bytes', ConnectionCommand>> = /* @__PURE__ */ Object.freeze({
  closed: Object.freeze({ type: 'refuse', reason: 'closed' }),
  messages: Object.freeze({ type: 'refuse', reason: 'messages' }),
  bytes: Object.freeze({ type: 'refuse', reason: 'bytes' }),
});

function written(h: Step, messages: number, bytes: number): void {
  eachLayer(h, (layer, slice) => layer.written?.(h, slice, messages, bytes));
}

function onDequeued(h: Step, messages: number, bytes: number): void {
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

function onClose(h: Step, cause: 'closed' | 'aborted', info: CloseInfo, immediate: boolean, abandon: boolean): void {
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
function onRestart(h: Step): boolean {
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
function closingCause(d: Draft): ConnectionCloseCause {
  /* c8 ignore next -- only the close request enters closing, and it sets the cause */
  return d.cause ?? 'closed';
}

/** Closed for good (B10): nothing armed, queued messages handed back, the session shut down (S9). */
function finish(h: Step, cause: ConnectionCloseCause, info: CloseInfo): void {
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
