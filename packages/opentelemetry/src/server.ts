import type { Attributes, Histogram, Meter, ObservableCounter, BatchObservableResult, ObservableUpDownCounter } from '@opentelemetry/api';
import { invalid, meterOf, perMeter, seconds, type Instrumentation, type InstrumentationOptions } from './meter.js';
import { ATTRIBUTES, DURATION_BUCKETS, METRICS, RTT_BUCKETS } from './names.js';

/** The counters of a peer tracker that {@link instrumentServer} reads (`TrackerStats` of `@keepalive/websocket-transport`). */
export interface TrackerStatsLike {
  readonly pingsSent: number;
  readonly heartbeatsAnswered: number;
  readonly deadPeers: number;
  readonly idleClosed: number;
  readonly floodClosed: number;
}

/** What a tracker's observer is told (`TrackerObserver` of `@keepalive/websocket-transport`). */
export interface TrackerObserverLike {
  /** A keep-alive was answered; when `sampled`, `state.rttLatestUs` is its round-trip time in microseconds. */
  answered?(state: { readonly rttLatestUs: number }, sampled: boolean): void;
  closed?(reason: 'dead_peer' | 'idle_timeout' | 'ping_flood', silentMs: number): void;
}

/**
 * What {@link instrumentServer} reads of a server's peer tracker (`PeerTracker` of `@keepalive/websocket-transport`):
 * its counters, its connections' states and an observer of answers and closes.
 */
export interface InstrumentableTracker {
  stats(): TrackerStatsLike;
  peers(): readonly { readonly state: { readonly quietPings: number } }[];
  observe(observer: TrackerObserverLike): () => void;
}

/** The counters of a hub of resumable sessions that {@link instrumentServer} reads (`SessionHubStats`). */
export interface SessionHubStatsLike {
  readonly sessions: number;
  readonly connected: number;
  readonly created: number;
  readonly resumed: number;
  readonly forgotten: number;
  readonly replaced: number;
  readonly expired: number;
  readonly ended: number;
  readonly handedOver: number;
  readonly refused: number;
  readonly wrongProofs: number;
  readonly refusedAdmissions: number;
  readonly handshakeTimeouts: number;
  readonly invalidRequests: number;
}

/**
 * A server as {@link instrumentServer} takes it: what `keepAlive(wss)` (or `createKeepaliveServer`) returns, Bun's
 * and Deno's servers alike: its `tracker`, and its hub of resumable `sessions` (or `null`).
 */
export interface InstrumentableServer {
  readonly tracker: InstrumentableTracker;
  readonly sessions?: { stats(): SessionHubStatsLike } | null | undefined;
}

/** One watched server. */
interface WatchedServer {
  readonly tracker: InstrumentableTracker;
  readonly hub: { stats(): SessionHubStatsLike } | null;
}

/** B16: a connection pinged twice without a word of its own is left alone (quiet) until it speaks. */
const QUIET_PINGS = 2;

const RESUME_OUTCOMES = ['new', 'resumed', 'forgotten', 'replaced', 'expired', 'ended', 'handed_over', 'refused'] as const;
type ResumeOutcome = (typeof RESUME_OUTCOMES)[number];

function attributes<K extends string>(key: string, values: readonly K[]): Readonly<Record<K, Attributes>> {
  return Object.freeze(Object.fromEntries(values.map((value) => [value, Object.freeze({ [key]: value })]))) as Readonly<Record<K, Attributes>>;
}

const CONNECTION_STATE = attributes(ATTRIBUTES.connectionState, ['active', 'quiet']);
const CLOSE_REASON = attributes(ATTRIBUTES.closeReason, ['dead_peer', 'idle_timeout', 'ping_flood']);
const RESUME_STATE = attributes(ATTRIBUTES.resumeSessionState, ['connected', 'waiting']);
const RESUME_OUTCOME = attributes(ATTRIBUTES.resumeOutcome, RESUME_OUTCOMES);

/** The shared server instruments of one meter, and the servers they sum over. */
class ServerMetrics {
  readonly servers = new Set<WatchedServer>();
  /** Counts of servers no longer watched, so that the observable counters never go down. */
  readonly retired = { sent: 0, heartbeats: 0, dead: 0, idle: 0, flood: 0, resume: new Map<ResumeOutcome, number>() };
  /** Keep-alives answered, counted by the observers (a plain number: the SDK reads it when it collects). */
  answered = 0;
  readonly rtt: Histogram;
  readonly detection: Histogram;

  constructor(meter: Meter) {
    const connections = meter.createObservableUpDownCounter(METRICS.serverConnections, {
      description: 'Connections tracked by the servers: active (pinged every interval) or quiet (left alone until they speak, B16).',
      unit: '{connection}',
    });
    const sent = meter.createObservableCounter(METRICS.serverKeepalivesSent, { description: 'Keep-alives the servers sent (pings or heartbeat messages).', unit: '{keepalive}' });
    const heartbeats = meter.createObservableCounter(METRICS.serverHeartbeatsAnswered, { description: "Clients' own heartbeat messages answered in kind.", unit: '{heartbeat}' });
    const closes = meter.createObservableCounter(METRICS.serverCloses, {
      description: 'Connections the servers closed: dead peers (B5), idle closes, ping floods (B8).',
      unit: '{connection}',
    });
    const resumeSessions = meter.createObservableUpDownCounter(METRICS.serverResumeSessions, {
      description: 'Resumable sessions held: connected, or waiting for their client to come back (B14).',
      unit: '{session}',
    });
    const resumes = meter.createObservableCounter(METRICS.serverResumes, {
      description: 'Outcomes of resumable sessions: made new, resumed, forgotten, replaced, expired, ended, handed over, refused.',
      unit: '{session}',
    });
    const answered = meter.createObservableCounter(METRICS.serverKeepalivesAnswered, { description: "Servers' keep-alives that the clients answered.", unit: '{keepalive}' });
    const observables = { connections, sent, answered, heartbeats, closes, resumeSessions, resumes };
    meter.addBatchObservableCallback(
      (result) => {
        this.observe(result, observables);
      },
      [connections, sent, answered, heartbeats, closes, resumeSessions, resumes],
    );
    this.rtt = meter.createHistogram(METRICS.serverRtt, {
      description: "Round-trip time of the servers' answered keep-alives, every connection's (one sample per unambiguous answer).",
      unit: 's',
      advice: { explicitBucketBoundaries: [...RTT_BUCKETS] },
    });
    this.detection = meter.createHistogram(METRICS.serverDeadPeerDetection, {
      description: 'How long a connection declared dead had not been heard from: the upper bound of the time its death went unnoticed.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    });
  }

  private observe(
    result: BatchObservableResult,
    o: {
      connections: ObservableUpDownCounter;
      sent: ObservableCounter;
      answered: ObservableCounter;
      heartbeats: ObservableCounter;
      closes: ObservableCounter;
      resumeSessions: ObservableUpDownCounter;
      resumes: ObservableCounter;
    },
  ): void {
    const retired = this.retired;
    let active = 0;
    let quiet = 0;
    let sent = retired.sent;
    let heartbeats = retired.heartbeats;
    let dead = retired.dead;
    let idle = retired.idle;
    let flood = retired.flood;
    let connected = 0;
    let waiting = 0;
    const outcomes = new Map(retired.resume);
    let hubs = false;
    for (const server of this.servers) {
      for (const peer of server.tracker.peers()) {
        if (peer.state.quietPings >= QUIET_PINGS) quiet++;
        else active++;
      }
      const stats = server.tracker.stats();
      sent += stats.pingsSent;
      heartbeats += stats.heartbeatsAnswered;
      dead += stats.deadPeers;
      idle += stats.idleClosed;
      flood += stats.floodClosed;
      if (server.hub !== null) {
        hubs = true;
        const hub = server.hub.stats();
        connected += hub.connected;
        waiting += hub.sessions - hub.connected;
        for (const [outcome, count] of resumeCounts(hub)) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + count);
      }
    }
    result.observe(o.connections, active, CONNECTION_STATE.active);
    result.observe(o.connections, quiet, CONNECTION_STATE.quiet);
    result.observe(o.sent, sent);
    result.observe(o.answered, this.answered);
    result.observe(o.heartbeats, heartbeats);
    result.observe(o.closes, dead, CLOSE_REASON.dead_peer);
    result.observe(o.closes, idle, CLOSE_REASON.idle_timeout);
    result.observe(o.closes, flood, CLOSE_REASON.ping_flood);
    if (hubs || outcomes.size > 0) {
      result.observe(o.resumeSessions, connected, RESUME_STATE.connected);
      result.observe(o.resumeSessions, waiting, RESUME_STATE.waiting);
      for (const outcome of RESUME_OUTCOMES) result.observe(o.resumes, outcomes.get(outcome) ?? 0, RESUME_OUTCOME[outcome]);
    }
  }

  /** Keeps a server's counts when it is no longer watched. */
  retire(server: WatchedServer): void {
    const stats = server.tracker.stats();
    const retired = this.retired;
    retired.sent += stats.pingsSent;
    retired.heartbeats += stats.heartbeatsAnswered;
    retired.dead += stats.deadPeers;
    retired.idle += stats.idleClosed;
    retired.flood += stats.floodClosed;
    if (server.hub !== null) for (const [outcome, count] of resumeCounts(server.hub.stats())) retired.resume.set(outcome, (retired.resume.get(outcome) ?? 0) + count);
    this.servers.delete(server);
  }
}

/** A hub's counters as resume outcomes (`new` counts sessions made for a client the hub did not know too). */
function resumeCounts(hub: SessionHubStatsLike): [ResumeOutcome, number][] {
  return [
    ['new', hub.created],
    ['resumed', hub.resumed],
    ['forgotten', hub.forgotten],
    ['replaced', hub.replaced],
    ['expired', hub.expired],
    ['ended', hub.ended],
    ['handed_over', hub.handedOver],
    ['refused', hub.refused + hub.wrongProofs + hub.refusedAdmissions + hub.handshakeTimeouts + hub.invalidRequests],
  ];
}

const serverMetrics = new WeakMap<Meter, ServerMetrics>();

/**
 * Measures a server (see the instrument table of `METRICS`): its connections (active or quiet), keep-alives sent and
 * answered, each answer's round-trip time, heartbeats answered in kind, the connections it closed (dead, idle, ping
 * flood) and how long each dead one had been silent, and with resumable sessions the sessions held and their
 * outcomes. Counts are read from the tracker's and the hub's counters when the SDK collects (nothing per event);
 * the round-trip and detection histograms come from an observer on the tracker, which a server that is never
 * instrumented does not have. Every server instrumented on one meter is summed into the same instruments.
 *
 * @param server - what `keepAlive(wss)` returns (or Bun's or Deno's server), or a bare `PeerTracker`.
 * @throws TypeError for a bad `server` or option, naming it.
 */
export function instrumentServer(server: InstrumentableServer | InstrumentableTracker, options?: InstrumentationOptions): Instrumentation {
  const watched = watchedServer(server);
  const metrics = perMeter(serverMetrics, meterOf(options, 'instrumentServer'), (meter) => new ServerMetrics(meter));
  const rtt = metrics.rtt;
  const detection = metrics.detection;
  const unobserve = watched.tracker.observe({
    answered: (state, sampled) => {
      metrics.answered++;
      if (sampled) rtt.record(state.rttLatestUs / 1_000_000);
    },
    closed: (reason, silentMs) => {
      if (reason === 'dead_peer') detection.record(seconds(silentMs));
    },
  });
  metrics.servers.add(watched);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    unobserve();
    metrics.retire(watched);
  };
  return { close, [Symbol.dispose]: close };
}

function watchedServer(server: InstrumentableServer | InstrumentableTracker): WatchedServer {
  if (typeof server !== 'object' || (server as unknown) === null) throw invalid('instrumentServer server', server, 'a keepAlive() server or a PeerTracker');
  if (isTracker(server)) return { tracker: server, hub: null };
  const tracker: unknown = (server as Partial<InstrumentableServer>).tracker;
  if (!isTracker(tracker)) throw invalid('instrumentServer server.tracker', tracker, 'a PeerTracker with observe()');
  const hub = server.sessions ?? null;
  if (hub !== null && typeof hub.stats !== 'function') throw invalid('instrumentServer server.sessions', hub, 'a session hub or null');
  return { tracker, hub };
}

function isTracker(value: unknown): value is InstrumentableTracker {
  const tracker = value as Partial<InstrumentableTracker> | null;
  return typeof tracker === 'object' && tracker !== null && typeof tracker.observe === 'function' && typeof tracker.stats === 'function' && typeof tracker.peers === 'function';
}
