import { CLOSE_CODES, NO_COMMANDS, diagnostic, type ArmTimer, type CancelTimer, type CloseTransport, type Diagnostic } from './commands.js';
import { KeepaliveOptionError, checkBoolean, checkDuration, checkKnownKeys, checkOptionalDuration, optionOr } from './errors.js';
import { answerHeartbeat } from './heartbeat.js';
import { pongDeadlineAfterSend } from './liveness.js';
import { createPingPolicyState, definePingPolicy, pingPolicyStep, type PingPolicyState } from './ping-policy.js';
import { isUnitInterval } from './random.js';
import { INITIAL_RTT, rttAnswered, rttSent, type RttFields } from './rtt.js';

/**
 * The server side of a connection (spec B5, B8, B16, and an idle policy): the
 * server pings the peer at an interval while the peer is active, expects
 * proof of life within a timeout, optionally closes peers silent for too
 * long, and refuses ping floods. A pure machine like the session one; a
 * driver runs any number of peers on one timer through {@link peerDeadline}.
 *
 * B16, idle is quiet at both ends: a client with no work in flight sends
 * nothing, and the server must not keep it alive either, or no reclaimer on
 * the path (a proxy, a load balancer, a container host) could ever reclaim
 * it: real proxies count pings and pongs as traffic. So the server pings a
 * peer only while it is *active*: it sent something of its own (a message,
 * a heartbeat, a ping; never a pong) since the server's last ping. A peer
 * that went quiet gets one more ping, the probe that tells a quiet peer from
 * one that died while busy, and then nothing until it speaks again. This is
 * gRPC's `permit_without_calls` (A8) applied to the server. A server that
 * must learn about dead idle peers closes them itself after `idleCloseMs`,
 * or probes them every `idlePingIntervalMs`, set knowingly above the path's
 * idle timeout.
 */

/**
 * Options of the peer machine.
 */
export interface PeerOptions {
  /** Time between server pings to an active peer (B16). Default 30 000 ms (the ws README's interval). */
  readonly pingIntervalMs?: number | undefined;
  /**
   * Time between pings to a peer that went quiet (B16), or `null` (default): a quiet peer is not pinged at all, so a
   * reclaimer on the path can reclaim it. Set it above the path's idle timeout to learn about dead idle peers anyway
   * (or use `idleCloseMs`); at most as often as `pingIntervalMs`.
   */
  readonly idlePingIntervalMs?: number | null | undefined;
  /** Proof of life is due this long after a ping. Default 10 000 ms. */
  readonly pongTimeoutMs?: number | undefined;
  /**
   * Close connections with no traffic for this long, like a proxy's idle timeout: every frame of the peer counts
   * (messages, heartbeats, pings and pongs), and so does every keep-alive the server sends (B16: an idle peer is
   * pinged at most twice, so it is closed `idleCloseMs` after that). `null` (default) is off.
   */
  readonly idleCloseMs?: number | null | undefined;
  /** The shortest allowed time between two pings or heartbeats from the peer (B8). Default 5 000 ms. */
  readonly minPingIntervalMs?: number | undefined;
  /** Too-soon pings tolerated before closing with 1008 (B8). Default 2. */
  readonly maxPingStrikes?: number | undefined;
  /** Terminate peers that show no life after a ping (B5). Default `true`. */
  readonly terminateDeadPeers?: boolean | undefined;
  /**
   * What the driver sends for each `ping` command: `'ping'` (default) a
   * protocol ping, answered by a pong; `'message'` a heartbeat message (where
   * the transport cannot ping: Deno, browsers), answered in kind. With
   * `'message'` the machine counts the heartbeats it still owes an answer for
   * and classifies every inbound `heartbeat` with {@link answerHeartbeat}.
   */
  readonly keepaliveFrame?: KeepaliveFrame | undefined;
  /**
   * Whether the server sends keep-alives to the peer at all. `true` (default): it pings an active peer every
   * `pingIntervalMs` and probes a quiet one once (B16). `false`: it never does (no `ping` command, no ping or pong
   * deadline), for a server that must never write a keep-alive of its own (a Cloudflare Durable Object, whose
   * heartbeat would be answered by the runtime forever); the idle close (`idleCloseMs`), the flood policy (B8) and
   * the answers to the peer's heartbeats work as with `true`. Such a server cannot tell a quiet peer from a dead one:
   * it learns about dead peers from `idleCloseMs` only (or from the transport's close), so set `idleCloseMs` unless
   * the transport reports every lost connection. `idlePingIntervalMs` must stay `null` with `false`.
   */
  readonly sendKeepalives?: boolean | undefined;
}

/**
 * The frame a peer's keep-alive travels in: a protocol ping or a heartbeat
 * message.
 */
export type KeepaliveFrame = 'ping' | 'message';

/**
 * Validated, frozen peer options.
 */
export interface PeerConfig {
  readonly pingIntervalMs: number;
  readonly idlePingIntervalMs: number | null;
  readonly pongTimeoutMs: number;
  readonly idleCloseMs: number | null;
  readonly minPingIntervalMs: number;
  readonly maxPingStrikes: number;
  readonly terminateDeadPeers: boolean;
  readonly keepaliveFrame: KeepaliveFrame;
  /** Whether the server sends keep-alives at all ({@link PeerOptions.sendKeepalives}). */
  readonly sendKeepalives: boolean;
}

/**
 * Defaults of the peer machine.
 */
export const PEER_DEFAULTS: PeerConfig = /* @__PURE__ */ Object.freeze({
  pingIntervalMs: 30_000,
  idlePingIntervalMs: null,
  pongTimeoutMs: 10_000,
  idleCloseMs: null,
  minPingIntervalMs: 5_000,
  maxPingStrikes: 2,
  terminateDeadPeers: true,
  keepaliveFrame: 'ping',
  sendKeepalives: true,
});

const PEER_KEYS: readonly string[] = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ Object.keys(PEER_DEFAULTS));

/**
 * Validates peer options once (spec B1); throws {@link KeepaliveOptionError}
 * naming the option and the value. Share the result between peers. Options
 * that contradict each other are refused too (B13): an `idleCloseMs` not
 * above `minPingIntervalMs` would close, as idle, a client that keeps alive
 * as slowly as the flood policy allows; an `idlePingIntervalMs` with
 * `sendKeepalives: false` asks to ping a peer that is never pinged. `sendKeepalives: false`
 * without `idleCloseMs` is accepted: dead peers are then the transport's to
 * report (see {@link PeerOptions.sendKeepalives}).
 */
export function definePeerConfig(options: PeerOptions | PeerConfig = {}): PeerConfig {
  checkKnownKeys(options, PEER_KEYS, 'peer');
  const policy = definePingPolicy({
    minPingIntervalMs: optionOr(options, 'minPingIntervalMs', PEER_DEFAULTS.minPingIntervalMs) as number,
    maxPingStrikes: optionOr(options, 'maxPingStrikes', PEER_DEFAULTS.maxPingStrikes) as number,
  });
  const config: PeerConfig = {
    pingIntervalMs: checkDuration('pingIntervalMs', optionOr(options, 'pingIntervalMs', PEER_DEFAULTS.pingIntervalMs)),
    idlePingIntervalMs: checkOptionalDuration('idlePingIntervalMs', optionOr(options, 'idlePingIntervalMs', PEER_DEFAULTS.idlePingIntervalMs)),
    pongTimeoutMs: checkDuration('pongTimeoutMs', optionOr(options, 'pongTimeoutMs', PEER_DEFAULTS.pongTimeoutMs)),
    idleCloseMs: checkOptionalDuration('idleCloseMs', optionOr(options, 'idleCloseMs', PEER_DEFAULTS.idleCloseMs)),
    minPingIntervalMs: policy.minPingIntervalMs,
    maxPingStrikes: policy.maxPingStrikes,
    terminateDeadPeers: checkBoolean('terminateDeadPeers', optionOr(options, 'terminateDeadPeers', PEER_DEFAULTS.terminateDeadPeers)),
    keepaliveFrame: checkKeepaliveFrame(optionOr(options, 'keepaliveFrame', PEER_DEFAULTS.keepaliveFrame)),
    sendKeepalives: checkBoolean('sendKeepalives', optionOr(options, 'sendKeepalives', PEER_DEFAULTS.sendKeepalives)),
  };
  // B13: the ends agree on the ping rate. A client may keep alive every minPingIntervalMs; the idle policy must let it.
  if (config.idleCloseMs !== null && config.idleCloseMs <= config.minPingIntervalMs) {
    throw new KeepaliveOptionError('idleCloseMs', config.idleCloseMs, `a duration above minPingIntervalMs (${config.minPingIntervalMs})`);
  }
  if (config.idlePingIntervalMs !== null && config.idlePingIntervalMs < config.pingIntervalMs) {
    throw new KeepaliveOptionError('idlePingIntervalMs', config.idlePingIntervalMs, `null, or a duration of at least pingIntervalMs (${config.pingIntervalMs})`);
  }
  // A peer that is never probed has no quiet interval to probe it at: asking for one is a contradiction.
  if (!config.sendKeepalives && config.idlePingIntervalMs !== null) {
    throw new KeepaliveOptionError('idlePingIntervalMs', config.idlePingIntervalMs, 'null when sendKeepalives is false (the peer is never pinged)');
  }
  if (Object.isFrozen(options) && PEER_KEYS.every((key) => Object.hasOwn(options, key))) return options as PeerConfig;
  return Object.freeze(config);
}

function checkKeepaliveFrame(value: unknown): KeepaliveFrame {
  if (value !== 'ping' && value !== 'message') throw new KeepaliveOptionError('keepaliveFrame', value, "'ping' or 'message'");
  return value;
}

/**
 * The timers of a peer.
 */
export type PeerTimer = 'ping' | 'pong' | 'idle';

/**
 * What the peer sent: a `pong` (answers our ping: proof of life only), a
 * `ping` or `heartbeat` of its own (proof of life, not silent, subject to
 * the flood policy), or a `message` (application data: proof of life, not
 * silent, clears flood strikes). With `keepaliveFrame: 'message'` a
 * `heartbeat` that arrives while one of ours is unanswered is its answer,
 * and counts exactly like a pong ({@link answerHeartbeat}).
 */
export type InboundKind = 'pong' | 'ping' | 'heartbeat' | 'message';

/**
 * The state of one peer: plain, serialisable data. Its round-trip fields ({@link RttFields}: the round-trip time
 * measured by the server's answered keep-alives) read as milliseconds with `roundTripTime(state)`.
 */
export interface PeerState extends RttFields {
  readonly config: PeerConfig;
  /** Next ping, or `null` once closed (or while the peer is quiet and quiet peers are not pinged, B16; or always with `sendKeepalives: false`). */
  readonly pingAt: number | null;
  /** Proof of life due by, or `null` while nothing is owed. */
  readonly pongAt: number | null;
  /** When the idle policy next checks, or `null` when off or closed. */
  readonly idleAt: number | null;
  /** Last traffic on the connection: a frame from the peer (pongs included) or a keep-alive to it (the idle policy's clock). */
  readonly lastTrafficAt: number;
  /** Flood-policy standing (B8). */
  readonly flood: PingPolicyState;
  /** Pings sent to the peer. */
  readonly pingsSent: number;
  /** Pings sent since the peer last sent something of its own (B16: past one probe, a quiet peer is left alone). */
  readonly quietPings: number;
  /** Heartbeat messages sent as keep-alives and not answered yet (`keepaliveFrame: 'message'`; always 0 with `'ping'`). */
  readonly heartbeatsOwed: number;
  /** Whether the peer is closed (by us or by the transport). */
  readonly closed: boolean;
  /** When the peer was last heard from: any frame of its own, pongs included (the connection's start before). */
  readonly heardAt: number;
}

/**
 * Events of a peer. `timeout` fires everything due at `now`.
 */
export type PeerEvent =
  | { readonly type: 'inbound'; readonly kind: InboundKind; readonly now: number }
  | { readonly type: 'timeout'; readonly now: number }
  | { readonly type: 'closed'; readonly now: number };

/**
 * Send one keep-alive to the peer: a protocol ping, or the heartbeat message
 * with `keepaliveFrame: 'message'` (where the transport cannot ping).
 */
export interface PingPeer {
  readonly type: 'ping';
}

/**
 * Answer a heartbeat message from the peer (proof of life for clients that
 * cannot see protocol pongs).
 */
export interface ReplyHeartbeat {
  readonly type: 'reply';
}

/**
 * Commands of a peer.
 */
export type PeerCommand = ArmTimer<PeerTimer> | CancelTimer<PeerTimer> | PingPeer | ReplyHeartbeat | CloseTransport | Diagnostic;

/**
 * Diagnostics of a peer: warn `peer_dead` `{timeout_ms}`, info
 * `peer_idle_closed` `{idle_ms}`, warn `ping_flood` `{strikes}`.
 */
export const PEER_DIAGNOSTICS = /* @__PURE__ */ Object.freeze({ dead: 'peer_dead', idleClosed: 'peer_idle_closed', pingFlood: 'ping_flood' } as const);

const PING: PingPeer = /* @__PURE__ */ Object.freeze({ type: 'ping' });
const REPLY: ReplyHeartbeat = /* @__PURE__ */ Object.freeze({ type: 'reply' });
const DEAD_CLOSE: CloseTransport = /* @__PURE__ */ Object.freeze({ type: 'close', reason: 'dead_peer', code: CLOSE_CODES.abnormal, terminate: true });
const IDLE_CLOSE: CloseTransport = /* @__PURE__ */ Object.freeze({ type: 'close', reason: 'idle_timeout', code: CLOSE_CODES.idleTimeout, terminate: false });
const CANCEL: Readonly<Record<PeerTimer, CancelTimer<PeerTimer>>> = /* @__PURE__ */ Object.freeze({
  ping: Object.freeze({ type: 'cancel', timer: 'ping' }),
  pong: Object.freeze({ type: 'cancel', timer: 'pong' }),
  idle: Object.freeze({ type: 'cancel', timer: 'idle' }),
});

/**
 * A newly opened peer. The first ping goes out `phase × pingIntervalMs`
 * after `now` (at least 1 ms after it); every later ping follows one
 * interval after the previous deadline (B9), which keeps detection within
 * interval + timeout. A random phase spreads peers that connect together
 * (after a restart, say) across the interval; phase 1 pings each peer one
 * whole interval after it opened, so a driver's sweep reaches peers in the
 * order they connected.
 *
 * With `sendKeepalives: false` there is no ping at all (`pingAt` stays `null`).
 *
 * @param phase - a value in [0, 1] (randomness as an input, spec B3, or 1 for one whole interval); out of range means 0.
 */
export function createPeerState(config: PeerConfig, now: number, phase: number): PeerState {
  const offset = phase === 1 || isUnitInterval(phase) ? phase : 0;
  return {
    config,
    // A peer that is never probed has no ping deadline, ever.
    pingAt: config.sendKeepalives ? now + Math.max(1, Math.floor(offset * config.pingIntervalMs)) : null,
    pongAt: null,
    idleAt: config.idleCloseMs === null ? null : now + config.idleCloseMs,
    lastTrafficAt: now,
    flood: createPingPolicyState(),
    pingsSent: 0,
    quietPings: 0,
    heartbeatsOwed: 0,
    closed: false,
    rttLatestUs: INITIAL_RTT.rttLatestUs,
    rttSmoothedUs8: INITIAL_RTT.rttSmoothedUs8,
    rttVariationUs4: INITIAL_RTT.rttVariationUs4,
    rttMinUs: INITIAL_RTT.rttMinUs,
    rttSamples: INITIAL_RTT.rttSamples,
    keepalivesAnswered: INITIAL_RTT.keepalivesAnswered,
    keepaliveSentAt: INITIAL_RTT.keepaliveSentAt,
    keepalivesOutstanding: INITIAL_RTT.keepalivesOutstanding,
    heardAt: now,
  };
}

/**
 * The earliest deadline of a peer, or `null` (closed): arm one timer for it
 * and deliver `{ type: 'timeout', now }` when it passes.
 */
export function peerDeadline(state: PeerState): number | null {
  let earliest = state.pingAt;
  if (state.pongAt !== null && (earliest === null || state.pongAt < earliest)) earliest = state.pongAt;
  if (state.idleAt !== null && (earliest === null || state.idleAt < earliest)) earliest = state.idleAt;
  return earliest;
}

/**
 * The pure peer transition, `(state, event) → [next, commands]`.
 *
 * @example
 * ```ts
 * import { createPeerState, definePeerConfig, peerDeadline, peerTransition } from '@keepalive/core';
 *
 * // A server's view of one client, in simulated time: a ping every 1 s, dead when a ping goes unanswered for 500 ms.
 * const config = definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 500, idleCloseMs: null });
 * let peer = createPeerState(config, 0, 0.5); // phase 0.5: the first ping half an interval after connecting
 * let commands;
 * [peer, commands] = peerTransition(peer, { type: 'timeout', now: peerDeadline(peer) ?? 0 }); // at 500
 * console.log(commands.map((command) => command.type)); // [ 'ping', 'arm', 'arm' ]: the ping, its pong deadline, the next ping
 * [peer, commands] = peerTransition(peer, { type: 'inbound', kind: 'pong', now: 520 }); // answered: nothing owed
 * [peer, commands] = peerTransition(peer, { type: 'timeout', now: peerDeadline(peer) ?? 0 }); // at 1500: the next ping
 * [peer, commands] = peerTransition(peer, { type: 'timeout', now: peerDeadline(peer) ?? 0 }); // at 2000: no answer
 * console.log(commands.map((command) => command.type)); // [ 'diagnostic', 'close', 'cancel' ]: peer_dead, close the socket, stop pinging
 * console.log(peer.closed, peerDeadline(peer)); // true null
 * ```
 */
export function peerTransition(state: PeerState, event: PeerEvent): readonly [state: PeerState, commands: readonly PeerCommand[]] {
  const out: PeerCommand[] = [];
  const next = peerStep(state, event, out);
  return [next, out.length === 0 ? NO_COMMANDS : out];
}

type PeerDraft = { -readonly [K in keyof PeerState]: PeerState[K] };

/**
 * Allocation-light peer transition: appends commands to `out`, returns the
 * next state (the same object when nothing changed). Never throws.
 */
export function peerStep(state: PeerState, event: PeerEvent, out: PeerCommand[], options?: PeerStepOptions): PeerState {
  return peerDispatch(state, event, out, options?.timerCommands === false ? 0 : PEER_TIMERS);
}

/**
 * What a peer driver wants appended by {@link peerStep} and
 * {@link peerStepInPlace}: leaving `arm`/`cancel` commands out changes
 * nothing else (property-tested against {@link peerTransition}).
 */
export interface PeerStepOptions {
  /** Whether `arm` and `cancel` commands are appended; default `true`. */
  readonly timerCommands?: boolean | undefined;
}

/**
 * A peer state the driver owns and lets {@link peerStepInPlace} update in
 * place: the fields of {@link PeerState}, writable. A driver may keep them
 * on its own connection object, so a connection is one object.
 */
export type MutablePeerState = { -readonly [K in keyof PeerState]: PeerState[K] };

/**
 * {@link peerStep} that updates `state` in place instead of returning a
 * copy: a ping or pong allocates no state. The same fields afterwards and
 * the same commands as {@link peerTransition} (property-tested). Returns
 * whether anything changed.
 */
export function peerStepInPlace(state: MutablePeerState, event: PeerEvent, out: PeerCommand[], options?: PeerStepOptions): boolean {
  const { pingAt, pongAt, idleAt, lastTrafficAt, flood, pingsSent, quietPings, heartbeatsOwed, closed, keepalivesAnswered, keepalivesOutstanding, heardAt } = state;
  peerDispatch(state, event, out, (options?.timerCommands === false ? 0 : PEER_TIMERS) | PEER_IN_PLACE);
  return (
    state.pingAt !== pingAt ||
    state.pongAt !== pongAt ||
    state.idleAt !== idleAt ||
    state.lastTrafficAt !== lastTrafficAt ||
    state.flood !== flood ||
    state.pingsSent !== pingsSent ||
    state.quietPings !== quietPings ||
    state.heartbeatsOwed !== heartbeatsOwed ||
    state.closed !== closed ||
    // A keep-alive sent or answered changes its count (the round-trip sample comes with an answer).
    state.keepalivesAnswered !== keepalivesAnswered ||
    state.keepalivesOutstanding !== keepalivesOutstanding ||
    state.heardAt !== heardAt
  );
}

/**
 * B16: pings a peer may get without sending anything of its own: the one of the interval in which it last spoke,
 * and the probe after it (which tells a quiet peer from one that died while busy).
 */
const QUIET_PINGS = 2;

// The driver's wishes as bits handed down (the core keeps no module state).
/** Arm and cancel commands are appended. */
const PEER_TIMERS = 1;
/** The draft is the state itself. */
const PEER_IN_PLACE = 2;

/** The state to edit: a copy, or (in place) the state itself. */
function peerDraft(state: PeerState, m: number): PeerDraft {
  if ((m & PEER_IN_PLACE) !== 0) return state;
  return {
    config: state.config,
    pingAt: state.pingAt,
    pongAt: state.pongAt,
    idleAt: state.idleAt,
    lastTrafficAt: state.lastTrafficAt,
    flood: state.flood,
    pingsSent: state.pingsSent,
    quietPings: state.quietPings,
    heartbeatsOwed: state.heartbeatsOwed,
    closed: state.closed,
    rttLatestUs: state.rttLatestUs,
    rttSmoothedUs8: state.rttSmoothedUs8,
    rttVariationUs4: state.rttVariationUs4,
    rttMinUs: state.rttMinUs,
    rttSamples: state.rttSamples,
    keepalivesAnswered: state.keepalivesAnswered,
    keepaliveSentAt: state.keepaliveSentAt,
    keepalivesOutstanding: state.keepalivesOutstanding,
    heardAt: state.heardAt,
  };
}

function peerDispatch(state: PeerState, event: PeerEvent, out: PeerCommand[], m: number): PeerState {
  if (state.closed) return state;
  switch (event.type) {
    case 'inbound':
      return onInbound(state, event.kind, event.now, out, m);
    case 'timeout':
      return onPeerTimeout(state, event.now, out, m);
    case 'closed':
      return closePeer(peerDraft(state, m), out, m);
    default:
      return state;
  }
}

function onInbound(state: PeerState, kind: InboundKind, now: number, out: PeerCommand[], m: number): PeerState {
  const pongOwed = state.pongAt !== null;
  if (kind === 'pong') return onPong(peerDraft(state, m), now, out, m);
  if (kind === 'heartbeat') {
    // The one copy of the heartbeat-answer rule: the answer to one of ours counts like a pong; else it is the peer's own.
    const verdict = answerHeartbeat(state.heartbeatsOwed);
    if (!verdict.reply) {
      const d = peerDraft(state, m);
      d.heartbeatsOwed = verdict.unanswered;
      return onPong(d, now, out, m);
    }
  }
  const heard = Math.max(state.lastTrafficAt, now);
  const d = peerDraft(state, m);
  d.lastTrafficAt = heard;
  if (now > d.heardAt) d.heardAt = now;
  // B16: the peer spoke, so it is active: pinged every interval again (from now, when quiet had stopped the pings).
  d.quietPings = 0;
  const active = heard + d.config.pingIntervalMs;
  if (d.config.sendKeepalives && (d.pingAt === null || d.pingAt > active)) {
    d.pingAt = active;
    if ((m & PEER_TIMERS) !== 0) out.push({ type: 'arm', timer: 'ping', deadline: active });
  }
  if (pongOwed) {
    d.pongAt = null;
    if ((m & PEER_TIMERS) !== 0) out.push(CANCEL.pong);
  }
  // B8: the peer's own pings and heartbeats are subject to the flood policy; data clears strikes.
  d.flood = pingPolicyStep(d.flood, d.config, { type: kind === 'message' ? 'data' : 'ping', now }, out);
  if (d.flood.violated) return closePeer(d, out, m);
  if (kind === 'heartbeat') out.push(REPLY);
  return d;
}

/**
 * An answer to our keep-alive: proof of life, and traffic for the idle policy (a proxy counts it too), but not the
 * peer speaking: it does not make the peer active (B16).
 */
function onPong(d: PeerDraft, now: number, out: PeerCommand[], m: number): PeerState {
  if (d.pongAt !== null) {
    if ((m & PEER_TIMERS) !== 0) out.push(CANCEL.pong);
    d.pongAt = null;
  }
  d.lastTrafficAt = Math.max(d.lastTrafficAt, now);
  if (now > d.heardAt) d.heardAt = now;
  // The round-trip sample (Karn's rule: timed only when it was the one keep-alive outstanding).
  rttAnswered(d, now);
  return d;
}

function onPeerTimeout(state: PeerState, now: number, out: PeerCommand[], m: number): PeerState {
  const config = state.config;
  const timers = (m & PEER_TIMERS) !== 0;
  // Read before any write: in place, the draft is the state.
  const { pongAt, idleAt, pingAt, lastTrafficAt } = state;
  let d: PeerDraft | null = null;
  // B5 first: a dead peer is not pinged again.
  if (pongAt !== null && pongAt <= now) {
    d = peerDraft(state, m);
    d.pongAt = null;
    if (config.terminateDeadPeers) {
      out.push(diagnostic('warn', PEER_DIAGNOSTICS.dead, { timeout_ms: config.pongTimeoutMs }));
      out.push(DEAD_CLOSE);
      return closePeer(d, out, m);
    }
  }
  if (idleAt !== null && idleAt <= now) {
    d ??= peerDraft(state, m);
    const silentFor = now - lastTrafficAt;
    if (config.idleCloseMs !== null && silentFor >= config.idleCloseMs) {
      out.push(diagnostic('info', PEER_DIAGNOSTICS.idleClosed, { idle_ms: silentFor }));
      out.push(IDLE_CLOSE);
      return closePeer(d, out, m);
    }
    // Heard from since the check was armed: check again when the silence would be long enough.
    d.idleAt = lastTrafficAt + (config.idleCloseMs ?? 0);
    if (timers) out.push({ type: 'arm', timer: 'idle', deadline: d.idleAt });
  }
  if (pingAt !== null && pingAt <= now && state.quietPings >= QUIET_PINGS && config.idlePingIntervalMs === null) {
    // B16: quiet through an active ping and the probe after it: left alone until it speaks again.
    d ??= peerDraft(state, m);
    d.pingAt = null;
    if (timers) out.push(CANCEL.ping);
  } else if (pingAt !== null && pingAt <= now) {
    d ??= peerDraft(state, m);
    out.push(PING);
    d.pingsSent += 1;
    rttSent(d, now);
    d.quietPings += 1;
    d.lastTrafficAt = Math.max(d.lastTrafficAt, now);
    if (config.keepaliveFrame === 'message') d.heartbeatsOwed += 1;
    if (d.pongAt === null && config.terminateDeadPeers) {
      d.pongAt = pongDeadlineAfterSend(null, now, config.pongTimeoutMs);
      if (timers) out.push({ type: 'arm', timer: 'pong', deadline: d.pongAt });
    }
    // Drift-free (B9), skipping ticks that were missed entirely; a quiet peer at the idle interval (B16).
    const interval = d.quietPings >= QUIET_PINGS && config.idlePingIntervalMs !== null ? config.idlePingIntervalMs : config.pingIntervalMs;
    const periods = Math.max(1, Math.floor((now - pingAt) / interval) + 1);
    d.pingAt = pingAt + periods * interval;
    if (timers) out.push({ type: 'arm', timer: 'ping', deadline: d.pingAt });
  }
  return d ?? state;
}

function closePeer(d: PeerDraft, out: PeerCommand[], m: number): PeerState {
  if ((m & PEER_TIMERS) !== 0) {
    if (d.pingAt !== null) out.push(CANCEL.ping);
    if (d.pongAt !== null) out.push(CANCEL.pong);
    if (d.idleAt !== null) out.push(CANCEL.idle);
  }
  d.pingAt = null;
  d.pongAt = null;
  d.idleAt = null;
  d.closed = true;
  return d;
}
