import type { Attributes, Counter, Histogram, Meter, ObservableCounter, BatchObservableResult, ObservableUpDownCounter } from '@opentelemetry/api';
import { invalid, meterOf, monotonicMs, perMeter, seconds, type Instrumentation, type InstrumentationOptions } from './meter.js';
import { ATTRIBUTES, DURATION_BUCKETS, METRICS, RTT_BUCKETS, closeClass, type SessionStateValue } from './names.js';

/** The round-trip time a client reports (the `rtt` of `@keepalive/websocket-transport`'s client). */
export interface RoundTripTimeLike {
  /** The latest sample in milliseconds, `null` before the first. */
  readonly latestMs: number | null;
  /** Samples taken so far. */
  readonly samples: number;
  /** Keep-alives answered so far. */
  readonly answered: number;
}

/**
 * What {@link instrumentClient} reads of a client: `@keepalive/websocket-transport`'s `KeepaliveClient` has it all
 * (and so does any client built on `@keepalive/node-timers`' client shell that measures round trips). Only public
 * API: the state, the activity's snapshot and subscription, the round-trip time, the silence, and the events.
 */
export interface InstrumentableClient {
  /** `connecting`, `reconnecting`, `open`, `parked` (`idle` in older versions), `closing` or `closed`. */
  readonly state: string;
  readonly activity: {
    snapshot(): { readonly total: number; readonly keepalivesSent: number };
    subscribe(listener: (state: unknown) => void): () => void;
  };
  readonly rtt: RoundTripTimeLike;
  readonly silentMs: number | null;
  /** Connections lost while idle after they opened: a reclaimer's cuts (absent in older clients). */
  readonly idleReclaims?: number | undefined;
  on(event: 'open', listener: (event: { readonly attempt: number }) => void): () => void;
  on(event: 'close', listener: (event: { readonly code: number; readonly willReconnect: boolean }) => void): () => void;
  on(event: 'reconnecting', listener: (event: { readonly attempt: number; readonly delayMs: number }) => void): () => void;
  on(event: 'dead-peer', listener: (event: { readonly timeoutMs: number }) => void): () => void;
  on(event: 'slowed', listener: (event: object) => void): () => void;
  on(event: 'rejected', listener: (event: { readonly code: number }) => void): () => void;
  on(event: 'closed', listener: (event: { readonly undelivered: readonly unknown[] }) => void): () => void;
  on(event: 'session', listener: (event: { readonly status: string }) => void): () => void;
  on(event: 'forgotten', listener: (event: { readonly messages: readonly unknown[] }) => void): () => void;
  on(event: 'unconfirmed', listener: (event: { readonly messages: readonly unknown[]; readonly uncopied: number }) => void): () => void;
}

/** The shared client instruments of one meter, and the clients they sum over. */
class ClientMetrics {
  readonly clients = new Set<WatchedClient>();
  /** What closed (or no longer watched) clients had sent and had answered: the observable counters never go down. */
  retiredSent = 0;
  retiredAnswered = 0;
  retiredReclaims = 0;
  readonly rtt: Histogram;
  readonly deadPeers: Counter;
  readonly detection: Histogram;
  readonly reconnects: Counter;
  readonly connectDuration: Histogram;
  readonly closes: Counter;
  readonly parks: Counter;
  readonly rejections: Counter;
  readonly slowdowns: Counter;
  readonly handedBack: Counter;
  readonly resumes: Counter;

  constructor(meter: Meter) {
    const sessions: ObservableUpDownCounter = meter.createObservableUpDownCounter(METRICS.clientSessions, {
      description: 'Client sessions by state: busy (open, work in flight), idle (open, none), parked, connecting, reconnecting, closing.',
      unit: '{session}',
    });
    const sent: ObservableCounter = meter.createObservableCounter(METRICS.clientKeepalivesSent, {
      description: 'Keep-alives the clients sent (pings or heartbeat messages).',
      unit: '{keepalive}',
    });
    const answered: ObservableCounter = meter.createObservableCounter(METRICS.clientKeepalivesAnswered, {
      description: 'Keep-alives of the clients that the server answered.',
      unit: '{keepalive}',
    });
    const reclaims: ObservableCounter = meter.createObservableCounter(METRICS.clientIdleReclaims, {
      description: "Connections lost while idle after they opened: a reclaimer's cut (a proxy's or load balancer's idle timeout, the server's idle close, a restart).",
      unit: '{reclaim}',
    });
    meter.addBatchObservableCallback(
      (result) => {
        this.observe(result, sessions, sent, answered, reclaims);
      },
      [sessions, sent, answered, reclaims],
    );
    this.rtt = meter.createHistogram(METRICS.clientRtt, {
      description: "Round-trip time of the clients' answered keep-alives (one sample per unambiguous answer).",
      unit: 's',
      advice: { explicitBucketBoundaries: [...RTT_BUCKETS] },
    });
    this.deadPeers = meter.createCounter(METRICS.clientDeadPeers, { description: 'Servers declared dead: no proof of life in time after a keep-alive (B5).', unit: '{peer}' });
    this.detection = meter.createHistogram(METRICS.clientDeadPeerDetection, {
      description: 'How long a server declared dead had not been heard from: the upper bound of the time its death went unnoticed.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    });
    this.reconnects = meter.createCounter(METRICS.clientReconnects, { description: 'Reconnect attempts scheduled after a loss (B6).', unit: '{attempt}' });
    this.connectDuration = meter.createHistogram(METRICS.clientConnectDuration, {
      description: 'Time from the start of a connection attempt to the socket opening.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    });
    this.closes = meter.createCounter(METRICS.clientCloses, { description: "Open connections closed, by the close code's class and whether a reconnect follows.", unit: '{close}' });
    this.parks = meter.createCounter(METRICS.clientParks, { description: 'Connections parked: lost or cut while idle, not reconnected until work comes back (B16).', unit: '{park}' });
    this.rejections = meter.createCounter(METRICS.clientRejections, { description: 'Closes with a terminal code: the client closed for good (B12).', unit: '{rejection}' });
    this.slowdowns = meter.createCounter(METRICS.clientSlowdowns, { description: 'Ping-flood closes after which the client doubled its keep-alive interval (B13).', unit: '{slowdown}' });
    this.handedBack = meter.createCounter(METRICS.clientMessagesHandedBack, {
      description: 'Messages handed back to the application: forgotten by the server, unconfirmed at a loss, or undelivered at the close (B14).',
      unit: '{message}',
    });
    this.resumes = meter.createCounter(METRICS.clientResumes, { description: 'How the resumable session came up on each connection (B14).', unit: '{session}' });
  }

  private observe(result: BatchObservableResult, sessions: ObservableUpDownCounter, sent: ObservableCounter, answered: ObservableCounter, reclaims: ObservableCounter): void {
    const byState = new Map<SessionStateValue, number>();
    let totalSent = this.retiredSent;
    let totalAnswered = this.retiredAnswered;
    let totalReclaims = this.retiredReclaims;
    for (const watched of this.clients) {
      const state = watched.sessionState();
      if (state !== null) byState.set(state, (byState.get(state) ?? 0) + 1);
      totalSent += watched.sent();
      totalAnswered += watched.answered();
      totalReclaims += watched.reclaims();
      // A sample no state change reported (no pong timeout): the latest one, once.
      watched.catchUp();
    }
    for (const state of SESSION_STATES) result.observe(sessions, byState.get(state) ?? 0, STATE_ATTRIBUTES[state]);
    result.observe(sent, totalSent);
    result.observe(answered, totalAnswered);
    result.observe(reclaims, totalReclaims);
  }
}

const SESSION_STATES: readonly SessionStateValue[] = ['busy', 'idle', 'parked', 'connecting', 'reconnecting', 'closing'];
const STATE_ATTRIBUTES = Object.freeze(
  Object.fromEntries(SESSION_STATES.map((state) => [state, Object.freeze({ [ATTRIBUTES.sessionState]: state })])),
) as unknown as Readonly<Record<SessionStateValue, Attributes>>;

const clientMetrics = new WeakMap<Meter, ClientMetrics>();

/** One watched client: its listeners, and what the instruments last read of it. */
class WatchedClient {
  private readonly offs: (() => void)[] = [];
  private samples: number;
  /** When the attempt now under way started (monotonic ms), or `null` when none is (or its start was not seen). */
  private connectingSince: number | null;
  private closed = false;

  constructor(
    private readonly client: InstrumentableClient,
    private readonly metrics: ClientMetrics,
  ) {
    this.samples = client.rtt.samples;
    this.connectingSince = client.state === 'connecting' || client.state === 'reconnecting' ? monotonicMs() : null;
    const m = metrics;
    this.offs.push(
      client.activity.subscribe(() => {
        this.sampled();
        // Work starting ends a park: the connection attempt starts now.
        if (this.connectingSince === null && client.state === 'connecting') this.connectingSince = monotonicMs();
      }),
      client.on('open', ({ attempt }) => {
        // A backoff cut short (the network came back) starts the attempt before its planned start: never below 0.
        if (this.connectingSince !== null) m.connectDuration.record(seconds(Math.max(0, monotonicMs() - this.connectingSince)), attempt === 0 ? ON_DEMAND : RETRY);
        this.connectingSince = null;
      }),
      client.on('reconnecting', ({ delayMs }) => {
        m.reconnects.add(1);
        this.connectingSince = monotonicMs() + delayMs;
      }),
      client.on('close', ({ code, willReconnect }) => {
        m.closes.add(1, { [ATTRIBUTES.closeClass]: closeClass(code), [ATTRIBUTES.closeReconnect]: willReconnect });
      }),
      client.on('dead-peer', () => {
        m.deadPeers.add(1);
        const silent = client.silentMs;
        if (silent !== null) m.detection.record(seconds(silent));
      }),
      client.on('slowed', () => {
        m.slowdowns.add(1);
      }),
      client.on('rejected', ({ code }) => {
        m.rejections.add(1, { [ATTRIBUTES.closeClass]: closeClass(code) });
      }),
      client.on('session', ({ status }) => {
        m.resumes.add(1, { [ATTRIBUTES.resumeOutcome]: resumeOutcome(status) });
      }),
      client.on('forgotten', ({ messages }) => {
        if (messages.length > 0) m.handedBack.add(messages.length, HAND_BACK.forgotten);
      }),
      client.on('unconfirmed', ({ messages, uncopied }) => {
        if (messages.length + uncopied > 0) m.handedBack.add(messages.length + uncopied, HAND_BACK.unconfirmed);
      }),
      client.on('closed', ({ undelivered }) => {
        if (undelivered.length > 0) m.handedBack.add(undelivered.length, HAND_BACK.undelivered);
        this.close();
      }),
    );
    // The parked event: `parked` (in older versions of the client, `idle`).
    const onPark = (): void => {
      m.parks.add(1);
      this.connectingSince = null;
    };
    const parkEvent = (event: string): (() => void) | null => {
      try {
        return (client.on as (event: string, listener: () => void) => () => void)(event, onPark);
      } catch {
        return null;
      }
    };
    const offPark = parkEvent('parked') ?? parkEvent('idle');
    if (offPark !== null) this.offs.push(offPark);
    metrics.clients.add(this);
  }

  /** The session's state for `keepalive.client.session.count`, or `null` once closed. */
  sessionState(): SessionStateValue | null {
    const state = this.client.state;
    switch (state) {
      case 'open':
        return this.client.activity.snapshot().total > 0 ? 'busy' : 'idle';
      case 'parked':
      case 'idle':
        return 'parked';
      case 'connecting':
      case 'reconnecting':
      case 'closing':
        return state;
      default:
        return null;
    }
  }

  sent(): number {
    return this.client.activity.snapshot().keepalivesSent;
  }

  answered(): number {
    return this.client.rtt.answered;
  }

  reclaims(): number {
    return this.client.idleReclaims ?? 0;
  }

  /** Records the latest round-trip sample when one was taken since the last look. */
  sampled(): void {
    const rtt = this.client.rtt;
    if (rtt.samples === this.samples) return;
    this.samples = rtt.samples;
    if (rtt.latestMs !== null) this.metrics.rtt.record(seconds(rtt.latestMs));
  }

  catchUp(): void {
    this.sampled();
  }

  /** Stops watching: the client's counts so far are kept by the observable counters. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sampled();
    this.metrics.retiredSent += this.sent();
    this.metrics.retiredAnswered += this.answered();
    this.metrics.retiredReclaims += this.reclaims();
    this.metrics.clients.delete(this);
    for (const off of this.offs.splice(0)) off();
  }
}

const ON_DEMAND: Attributes = Object.freeze({ [ATTRIBUTES.connectKind]: 'on_demand' });
const RETRY: Attributes = Object.freeze({ [ATTRIBUTES.connectKind]: 'retry' });
const HAND_BACK = Object.freeze({
  forgotten: Object.freeze({ [ATTRIBUTES.handBackReason]: 'forgotten' }),
  unconfirmed: Object.freeze({ [ATTRIBUTES.handBackReason]: 'unconfirmed' }),
  undelivered: Object.freeze({ [ATTRIBUTES.handBackReason]: 'undelivered' }),
} satisfies Record<string, Attributes>);

/** A client's session status as a closed-set outcome (anything unknown is not reported as itself). */
function resumeOutcome(status: string): 'new' | 'resumed' | 'forgotten' | 'unsupported' {
  return status === 'resumed' || status === 'forgotten' || status === 'unsupported' ? status : 'new';
}

/**
 * Measures one client (see the instrument table of `METRICS`): its session's state, keep-alives sent and answered,
 * each answered keep-alive's round-trip time, dead servers and how long they had been silent, reconnects and how
 * long connecting took, closes by code class, parks, terminal rejections, slow-downs, messages handed back and resume
 * outcomes. Nothing is measured until this is called, and a client that is never instrumented pays nothing. The
 * observable instruments are read only when the SDK collects; the rest are recorded from the client's events. Every
 * client instrumented on one meter is summed into the same instruments; no attribute names a client. Stops by
 * itself when the client closes.
 *
 * Round-trip samples are taken as the answers arrive when the client has a pong timeout (the default); without
 * one, the latest sample is recorded at each collection.
 *
 * @throws TypeError for a bad `client` or option, naming it.
 */
export function instrumentClient(client: InstrumentableClient, options?: InstrumentationOptions): Instrumentation {
  if (typeof client !== 'object' || (client as unknown) === null || typeof client.on !== 'function' || typeof client.activity !== 'object') {
    throw invalid('instrumentClient client', client, 'a keepalive client');
  }
  const metrics = perMeter(clientMetrics, meterOf(options, 'instrumentClient'), (meter) => new ClientMetrics(meter));
  const watched = new WatchedClient(client, metrics);
  if (client.state === 'closed') watched.close();
  const close = (): void => {
    watched.close();
  };
  return { close, [Symbol.dispose]: close };
}
