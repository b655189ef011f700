import type { ShutdownReport } from '@keepalive/node-timers';
import type { WireMetric } from './metrics-wire.js';

/**
 * What the demo's parent process and a worker process (worker-process.ts) say to each other over the IPC channel.
 * Each worker is its own Node process, so the freeze control can stop it for real (SIGSTOP): no timer fires, nothing
 * is read, answered or sent, exactly as a hung process.
 */

/**
 * What the dashboard shows: `busy` (work in flight), `idle` (no work: connected and quiet), `parked` (no work and no
 * connection: reclaimed or cut while idle, stays disconnected until work comes back: the lazy reconnect),
 * `reconnecting` (lost while busy, or connecting because work came back), `dead` (closed for good), `frozen` (the
 * freeze control: the process is stopped).
 */
export type WorkerState = 'busy' | 'idle' | 'parked' | 'reconnecting' | 'dead' | 'frozen';

/** The work a worker does, as the library counts it. */
export type WorkReason = 'api_call' | 'tool_exec';

/** What the dashboard shows for one worker. */
export interface WorkerView {
  readonly id: number;
  /** `false` for the worker that does the same work with a plain socket, without keep-alives. */
  readonly keepalive: boolean;
  readonly state: WorkerState;
  readonly reasons: Readonly<Record<string, number>>;
  readonly keepalivesSent: number;
  /**
   * The worker's own view of the server: how long ago the worker last heard from it (a pong or a message), as of
   * the worker's last report, aged by the time since (see `reportedMsAgo`).
   */
  readonly lastProofOfLifeMsAgo: number | null;
  readonly reconnects: number;
  readonly reclaimed: number;
  /** Work cut off by a reclaim (the worker without keep-alives loses what it was doing). */
  readonly lostWork: number;
  /** Times the server gave up on this worker for want of proof of life (set by the parent from the server). */
  readonly deadPeers: number;
  /** Whether the worker holds a connection, as the worker sees it. */
  readonly connected: boolean;
  /** How long ago the worker's process last reported (it grows while the process is frozen). Set by the parent. */
  readonly reportedMsAgo: number;
}

/** How the parent starts a worker process (JSON in its first argument). */
export interface WorkerSpec {
  readonly id: number;
  readonly keepalive: boolean;
  readonly url: string;
  readonly heartbeatIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly idleLimitMs: number;
  readonly seed: number;
  readonly autoWork: boolean;
  /** `--redis`: this worker's activity mirrored there as a lease (the fleet view), else `null`. */
  readonly redisUrl?: string | null | undefined;
  /** `--metrics`: instrument the client and send its readings (`metrics` messages) every second and at the stop. */
  readonly metrics?: boolean | undefined;
}

/** A moment the timeline marks. */
export type MarkKind = 'reclaimed' | 'lost-work' | 'reconnected' | 'dead-peer' | 'frozen' | 'resumed';

/** Parent → worker. */
export type ParentMessage = { readonly type: 'long-tool'; readonly ms: number } | { readonly type: 'cut' } | { readonly type: 'stop' };

/** Worker → parent. */
export type ChildMessage =
  | { readonly type: 'view'; readonly view: Omit<WorkerView, 'deadPeers' | 'reportedMsAgo'> }
  | { readonly type: 'event'; readonly line: string }
  | { readonly type: 'mark'; readonly kind: MarkKind }
  | { readonly type: 'opened' }
  | { readonly type: 'reclaimed' }
  | { readonly type: 'metrics'; readonly metrics: readonly WireMetric[] }
  | { readonly type: 'report'; readonly report: ShutdownReport };
