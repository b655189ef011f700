/**
 * The instruments' names, units and attributes: stable, following OpenTelemetry's naming conventions (a dotted
 * lowercase `keepalive.*` namespace, UCUM units, durations in seconds as histograms). Every attribute value comes from
 * a closed set listed here: never an id, a URL, a token, a reason text or a payload (spec S10).
 */

/** The name this package's meter is made with (the instrumentation scope). */
export const INSTRUMENTATION_SCOPE = '@keepalive/opentelemetry';

/**
 * The name of every instrument, by what it measures. Client instruments (`instrumentClient`), server instruments
 * (`instrumentServer`) and a Redis reclaimer's (`instrumentReclaimer`):
 *
 * | name | kind | unit | attributes |
 * | --- | --- | --- | --- |
 * | `keepalive.client.session.count` | observable up-down counter | `{session}` | `keepalive.session.state` |
 * | `keepalive.client.keepalive.sent` | observable counter | `{keepalive}` | |
 * | `keepalive.client.keepalive.answered` | observable counter | `{keepalive}` | |
 * | `keepalive.client.rtt` | histogram | `s` | |
 * | `keepalive.client.dead_peer.count` | counter | `{peer}` | |
 * | `keepalive.client.dead_peer.detection.duration` | histogram | `s` | |
 * | `keepalive.client.reconnect.count` | counter | `{attempt}` | |
 * | `keepalive.client.connect.duration` | histogram | `s` | `keepalive.connect.kind` |
 * | `keepalive.client.close.count` | counter | `{close}` | `keepalive.close.class`, `keepalive.close.reconnect` |
 * | `keepalive.client.park.count` | counter | `{park}` | |
 * | `keepalive.client.idle_reclaim.count` | observable counter | `{reclaim}` | |
 * | `keepalive.client.rejection.count` | counter | `{rejection}` | `keepalive.close.class` |
 * | `keepalive.client.slowdown.count` | counter | `{slowdown}` | |
 * | `keepalive.client.message.handed_back` | counter | `{message}` | `keepalive.hand_back.reason` |
 * | `keepalive.client.resume.count` | counter | `{session}` | `keepalive.resume.outcome` |
 * | `keepalive.server.connection.count` | observable up-down counter | `{connection}` | `keepalive.connection.state` |
 * | `keepalive.server.keepalive.sent` | observable counter | `{keepalive}` | |
 * | `keepalive.server.keepalive.answered` | observable counter | `{keepalive}` | |
 * | `keepalive.server.heartbeat.answered` | observable counter | `{heartbeat}` | |
 * | `keepalive.server.rtt` | histogram | `s` | |
 * | `keepalive.server.close.count` | observable counter | `{connection}` | `keepalive.close.reason` |
 * | `keepalive.server.dead_peer.detection.duration` | histogram | `s` | |
 * | `keepalive.server.resume.session.count` | observable up-down counter | `{session}` | `keepalive.resume.session.state` |
 * | `keepalive.server.resume.count` | observable counter | `{session}` | `keepalive.resume.outcome` |
 * | `keepalive.reclaimer.session.count` | observable up-down counter | `{session}` | `keepalive.lease.status` |
 * | `keepalive.reclaimer.transition.count` | counter | `{session}` | `keepalive.lease.status` |
 * | `keepalive.reclaimer.read.staleness` | observable gauge | `s` | |
 * | `keepalive.reclaimer.sweep.count` | observable counter | `{sweep}` | `keepalive.sweep.outcome` |
 */
export const METRICS = Object.freeze({
  clientSessions: 'keepalive.client.session.count',
  clientKeepalivesSent: 'keepalive.client.keepalive.sent',
  clientKeepalivesAnswered: 'keepalive.client.keepalive.answered',
  clientRtt: 'keepalive.client.rtt',
  clientDeadPeers: 'keepalive.client.dead_peer.count',
  clientDeadPeerDetection: 'keepalive.client.dead_peer.detection.duration',
  clientReconnects: 'keepalive.client.reconnect.count',
  clientConnectDuration: 'keepalive.client.connect.duration',
  clientCloses: 'keepalive.client.close.count',
  clientParks: 'keepalive.client.park.count',
  clientIdleReclaims: 'keepalive.client.idle_reclaim.count',
  clientRejections: 'keepalive.client.rejection.count',
  clientSlowdowns: 'keepalive.client.slowdown.count',
  clientMessagesHandedBack: 'keepalive.client.message.handed_back',
  clientResumes: 'keepalive.client.resume.count',
  serverConnections: 'keepalive.server.connection.count',
  serverKeepalivesSent: 'keepalive.server.keepalive.sent',
  serverKeepalivesAnswered: 'keepalive.server.keepalive.answered',
  serverHeartbeatsAnswered: 'keepalive.server.heartbeat.answered',
  serverRtt: 'keepalive.server.rtt',
  serverCloses: 'keepalive.server.close.count',
  serverDeadPeerDetection: 'keepalive.server.dead_peer.detection.duration',
  serverResumeSessions: 'keepalive.server.resume.session.count',
  serverResumes: 'keepalive.server.resume.count',
  reclaimerSessions: 'keepalive.reclaimer.session.count',
  reclaimerTransitions: 'keepalive.reclaimer.transition.count',
  reclaimerStaleness: 'keepalive.reclaimer.read.staleness',
  reclaimerSweeps: 'keepalive.reclaimer.sweep.count',
} as const);

/** The attribute keys, each with a closed set of values (see {@link ATTRIBUTE_VALUES}). */
export const ATTRIBUTES = Object.freeze({
  sessionState: 'keepalive.session.state',
  connectKind: 'keepalive.connect.kind',
  closeClass: 'keepalive.close.class',
  closeReconnect: 'keepalive.close.reconnect',
  handBackReason: 'keepalive.hand_back.reason',
  resumeOutcome: 'keepalive.resume.outcome',
  connectionState: 'keepalive.connection.state',
  closeReason: 'keepalive.close.reason',
  resumeSessionState: 'keepalive.resume.session.state',
  leaseStatus: 'keepalive.lease.status',
  sweepOutcome: 'keepalive.sweep.outcome',
} as const);

/**
 * Every value each attribute may take (`keepalive.close.reconnect` is a boolean). A client's session is `busy` (open,
 * work in flight), `idle` (open, no work in flight), `parked` (disconnected on purpose until work comes back),
 * `connecting` (the first connection, or one that ends a park), `reconnecting` (lost: backing off or reopening) or
 * `closing`; a server's connection is `active` (pinged every interval) or `quiet` (left alone until it speaks, B16).
 */
export const ATTRIBUTE_VALUES = Object.freeze({
  [ATTRIBUTES.sessionState]: ['busy', 'idle', 'parked', 'connecting', 'reconnecting', 'closing'],
  [ATTRIBUTES.connectKind]: ['on_demand', 'retry'],
  [ATTRIBUTES.closeClass]: [
    'normal',
    'going_away',
    'abnormal',
    'protocol_error',
    'policy_violation',
    'too_big',
    'server_error',
    'service_restart',
    'try_again_later',
    'idle_timeout',
    'replaced',
    'unauthorized',
    'forbidden',
    'other_standard',
    'registered',
    'application',
    'invalid',
  ],
  [ATTRIBUTES.handBackReason]: ['forgotten', 'unconfirmed', 'undelivered'],
  [ATTRIBUTES.resumeOutcome]: ['new', 'resumed', 'restored', 'forgotten', 'unsupported', 'replaced', 'expired', 'ended', 'handed_over', 'refused'],
  [ATTRIBUTES.connectionState]: ['active', 'quiet'],
  [ATTRIBUTES.closeReason]: ['dead_peer', 'idle_timeout', 'ping_flood'],
  [ATTRIBUTES.resumeSessionState]: ['connected', 'waiting'],
  [ATTRIBUTES.leaseStatus]: ['busy', 'idle', 'reclaimable', 'unknown', 'expired', 'ended'],
  [ATTRIBUTES.sweepOutcome]: ['complete', 'failed'],
} as const satisfies Record<string, readonly string[]>);

/** A client session's state, as the `keepalive.session.state` attribute says it. */
export type SessionStateValue = (typeof ATTRIBUTE_VALUES)['keepalive.session.state'][number];

/** A close code's class, as the `keepalive.close.class` attribute says it. */
export type CloseClass = (typeof ATTRIBUTE_VALUES)['keepalive.close.class'][number];

/**
 * The class of a WebSocket close code: the standard codes by name, the library's own 4000 (`idle_timeout`: an idle
 * close or a reclaimer's cut, B16), 4001 (`replaced`), 4401 and 4403 (`unauthorized`, `forbidden`); otherwise
 * `other_standard` (1000–2999), `registered` (3000–3999), `application` (4000–4999) or `invalid`. The code itself is
 * never an attribute (an application code could say who a user is).
 */
export function closeClass(code: number): CloseClass {
  switch (code) {
    case 1000:
      return 'normal';
    case 1001:
      return 'going_away';
    case 1005:
    case 1006:
      return 'abnormal';
    case 1002:
    case 1003:
    case 1007:
      return 'protocol_error';
    case 1008:
      return 'policy_violation';
    case 1009:
      return 'too_big';
    case 1011:
      return 'server_error';
    case 1012:
      return 'service_restart';
    case 1013:
      return 'try_again_later';
    case 4000:
      return 'idle_timeout';
    case 4001:
      return 'replaced';
    case 4401:
      return 'unauthorized';
    case 4403:
      return 'forbidden';
    default:
      if (!Number.isInteger(code)) return 'invalid';
      if (code >= 1000 && code <= 2999) return 'other_standard';
      if (code >= 3000 && code <= 3999) return 'registered';
      if (code >= 4000 && code <= 4999) return 'application';
      return 'invalid';
  }
}

/**
 * Bucket boundaries, in seconds, advised for the round-trip histograms: 1 ms to 10 s (a keep-alive's answer on
 * loopback, across a continent, or behind a stalled peer).
 */
export const RTT_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** Bucket boundaries, in seconds, advised for detection and connect durations: 10 ms to 10 minutes. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]);
