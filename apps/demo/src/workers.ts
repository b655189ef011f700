import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ShutdownReport } from '@keepalive/node-timers';
import { parseWire, type WireMetric } from './metrics-wire.js';
import type { ChildMessage, MarkKind, ParentMessage, WorkerSpec, WorkerState, WorkerView } from './worker-protocol.js';

export type { MarkKind, WorkerState, WorkerView } from './worker-protocol.js';

/**
 * The simulated agent workers, each in its own Node process (worker-process.ts): `count` workers that use the
 * library, plus one that does the same work as worker 1 on a plain socket without keep-alives. The controls act the
 * way a network or a hung process would: `cut` terminates the connection; `freeze` stops the process (SIGSTOP: no
 * timer fires, nothing is read, answered or sent) and `resume` continues it (SIGCONT).
 */

export interface WorkerOptions {
  readonly url: string;
  readonly count: number;
  readonly heartbeatIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly seed: number;
  /** Run random bursts of simulated work (off in tests that drive work by hand). */
  readonly autoWork: boolean;
  /** The reclaimer's idle limit, to size the simulated work around it. */
  readonly idleLimitMs?: number | undefined;
  /** `--redis`: each keepalive worker mirrors its activity there as a lease (the fleet view). */
  readonly redisUrl?: string | null | undefined;
  /** Add the worker without keep-alives (id `count + 1`). Default true. */
  readonly withBareWorker?: boolean | undefined;
  /** One line per event, for the headless story and the dashboard's event list. */
  readonly onEvent?: ((line: string) => void) | undefined;
  /** A moment to mark on the timeline. */
  readonly onMark?: ((worker: number, kind: MarkKind) => void) | undefined;
  /** A worker's state changed (as its view shows it): the timeline's lanes are drawn from these. */
  readonly onState?: ((worker: number, state: WorkerState) => void) | undefined;
  /** `--metrics`: each keepalive worker instruments its client and sends its readings here (cumulative). */
  readonly onMetrics?: ((worker: number, metrics: readonly WireMetric[]) => void) | undefined;
}

export interface DemoWorker {
  readonly id: number;
  /** Whether this worker uses keep-alives. */
  readonly keepalive: boolean;
  view(): WorkerView;
  /** Starts a `tool_exec` lasting `ms`. */
  startLongTool(ms: number): void;
  /** Cuts the connection abruptly (as a network failure would). */
  cut(): void;
  /** Stops the worker's process (SIGSTOP), as a hung process. */
  freeze(): void;
  /** Continues it (SIGCONT). */
  resume(): void;
  /** The server's dead-peer verdict on this worker (counted in its view). */
  countDeadPeer(): void;
  /** Resolves when the connection is open. */
  opened(): Promise<void>;
  /** Resolves the next time the reclaimer closes this worker's connection (4000). */
  reclaimedOnce(): Promise<void>;
}

export interface Workers {
  readonly list: readonly DemoWorker[];
  views(): WorkerView[];
  get(id: number): DemoWorker | undefined;
  /** Stops the work, closes every client and returns each worker's shutdown report. */
  shutdown(): Promise<{ id: number; report: ShutdownReport }[]>;
}

/** The built worker script (the tests run the sources, the build has made it). */
const WORKER_SCRIPT = fileURLToPath(new URL('../dist/worker-process.js', import.meta.url));
const STOP_TIMEOUT_MS = 5_000;

class WorkerProcess implements DemoWorker {
  private readonly child: ChildProcess;
  private last: Omit<WorkerView, 'deadPeers' | 'reportedMsAgo'>;
  /** When the last view arrived (performance.now()). */
  private lastAt = performance.now();
  private shownState: WorkerState = 'reconnecting';
  private deadPeers = 0;
  private frozen = false;
  private open = false;
  private exited = false;
  private report: ShutdownReport | null = null;
  private readonly waiters: { opened: (() => void)[]; reclaimed: (() => void)[] } = { opened: [], reclaimed: [] };
  private stopping: Promise<ShutdownReport> | null = null;

  constructor(
    private readonly spec: WorkerSpec,
    private readonly options: WorkerOptions,
  ) {
    this.last = {
      id: spec.id,
      keepalive: spec.keepalive,
      state: 'reconnecting',
      reasons: {},
      keepalivesSent: 0,
      lastProofOfLifeMsAgo: null,
      reconnects: 0,
      reclaimed: 0,
      lostWork: 0,
      connected: false,
    };
    this.child = fork(WORKER_SCRIPT, [JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    this.child.on('message', (message: ChildMessage) => this.receive(message));
    this.child.on('exit', () => {
      this.exited = true;
    });
  }

  get id(): number {
    return this.spec.id;
  }

  get keepalive(): boolean {
    return this.spec.keepalive;
  }

  view(): WorkerView {
    // The worker's view is as old as its last report: a frozen process reports nothing, so its view ages here.
    const reportedMsAgo = performance.now() - this.lastAt;
    const proof = this.last.lastProofOfLifeMsAgo;
    return {
      ...this.last,
      state: this.state(),
      lastProofOfLifeMsAgo: proof === null ? null : proof + reportedMsAgo,
      deadPeers: this.deadPeers,
      reportedMsAgo,
    };
  }

  private state(): WorkerState {
    return this.frozen ? 'frozen' : this.last.state;
  }

  /** Tells `onState` when the state shown changes. */
  private stateChanged(): void {
    const state = this.state();
    if (state === this.shownState) return;
    this.shownState = state;
    this.options.onState?.(this.id, state);
  }

  startLongTool(ms: number): void {
    this.post({ type: 'long-tool', ms });
  }

  cut(): void {
    this.post({ type: 'cut' });
  }

  freeze(): void {
    if (this.frozen || this.exited) return;
    this.frozen = true;
    this.child.kill('SIGSTOP');
    this.options.onEvent?.(`worker ${this.id}: frozen (process stopped: no answers, no sends)`);
    this.options.onMark?.(this.id, 'frozen');
    this.stateChanged();
  }

  resume(): void {
    if (!this.frozen) return;
    this.frozen = false;
    if (!this.exited) this.child.kill('SIGCONT');
    this.options.onEvent?.(`worker ${this.id}: resumed (process continued)`);
    this.options.onMark?.(this.id, 'resumed');
    this.stateChanged();
  }

  countDeadPeer(): void {
    this.deadPeers++;
  }

  opened(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => this.waiters.opened.push(resolve));
  }

  reclaimedOnce(): Promise<void> {
    return new Promise((resolve) => this.waiters.reclaimed.push(resolve));
  }

  stop(): Promise<ShutdownReport> {
    this.stopping ??= new Promise<ShutdownReport>((resolve) => {
      const empty: ShutdownReport = { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: this.last.keepalivesSent };
      if (this.exited) {
        resolve(this.report ?? empty);
        return;
      }
      // A stopped process cannot hear the stop: continue it first.
      if (this.frozen) this.resume();
      const force = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      this.child.once('exit', () => {
        clearTimeout(force);
        resolve(this.report ?? empty);
      });
      this.post({ type: 'stop' });
    });
    return this.stopping;
  }

  private post(message: ParentMessage): void {
    if (this.exited || !this.child.connected) return;
    // A child that just died (Ctrl-C reaches the whole process group) may still look connected: the write then fails
    // with EPIPE. Its 'exit' settles whatever waits on it, so the failed message is only reported by that.
    this.child.send(message, (error) => {
      if (error !== null) this.options.onEvent?.(`worker ${String(this.spec.id)}: process gone (${error.name})`);
    });
  }

  private receive(message: ChildMessage): void {
    switch (message.type) {
      case 'view':
        this.last = message.view;
        this.lastAt = performance.now();
        this.open = message.view.connected;
        this.stateChanged();
        return;
      case 'event':
        this.options.onEvent?.(message.line);
        return;
      case 'mark':
        this.options.onMark?.(this.id, message.kind);
        return;
      case 'opened':
        this.open = true;
        for (const resolve of this.waiters.opened.splice(0)) resolve();
        return;
      case 'reclaimed':
        this.open = false;
        for (const resolve of this.waiters.reclaimed.splice(0)) resolve();
        return;
      case 'metrics': {
        const metrics = parseWire(message.metrics);
        if (metrics !== null) this.options.onMetrics?.(this.id, metrics);
        return;
      }
      case 'report':
        this.report = message.report;
        return;
    }
  }
}

/** Starts `count` workers connecting to `url`, plus the one without keep-alives. */
export function startWorkers(options: WorkerOptions): Workers {
  const idleLimitMs = options.idleLimitMs ?? 8_000;
  const spec = (id: number, keepalive: boolean): WorkerSpec => ({
    id,
    keepalive,
    url: `${options.url}&worker=${id}`,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    pongTimeoutMs: options.pongTimeoutMs,
    idleLimitMs,
    seed: options.seed,
    autoWork: options.autoWork,
    redisUrl: options.redisUrl ?? null,
    metrics: options.onMetrics !== undefined,
  });
  const list: WorkerProcess[] = Array.from({ length: options.count }, (_, i) => new WorkerProcess(spec(i + 1, true), options));
  if (options.withBareWorker ?? true) list.push(new WorkerProcess(spec(options.count + 1, false), options));
  return {
    list,
    views: () => list.map((w) => w.view()),
    get: (id) => list.find((w) => w.id === id),
    shutdown: async () => Promise.all(list.map(async (w) => ({ id: w.id, report: await w.stop() }))),
  };
}
