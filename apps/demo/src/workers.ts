import WebSocket from 'ws';
import { nextRandom } from '@keepalive/core';
import type { ShutdownReport } from '@keepalive/node-timers';
import { createKeepaliveClient, type KeepaliveClient } from '@keepalive/websocket-transport';

/**
 * Simulated agent workers. Each one is a user of the library, exactly as in
 * the package READMEs: a `createKeepaliveClient` connection whose activity
 * brackets simulated work (`api_call`, `tool_exec`) with `run()`. The demo
 * only adds bookkeeping for the dashboard and the controls (cut, freeze,
 * resume), which act on the socket the way a network or a hung process would.
 *
 * The story: a busy worker keeps its connection alive; an idle one goes
 * quiet, is reclaimed by the server, and stays disconnected (the client's
 * `reconnect.whenIdle: 'lazy'`) until work comes back, when it reconnects at
 * once. A connection lost while busy reconnects with backoff.
 */

/**
 * What the dashboard shows: `busy` (work in flight, keep-alives going out),
 * `idle` (no work: connected and silent, or reclaimed and parked until work
 * comes back), `reconnecting` (lost while busy, or connecting because work
 * came back), `dead` (closed for good), `frozen` (the freeze control).
 */
export type WorkerState = 'busy' | 'idle' | 'reconnecting' | 'dead' | 'frozen';

/** What the dashboard shows for one worker. */
export interface WorkerView {
  readonly id: number;
  readonly state: WorkerState;
  readonly reasons: Readonly<Record<string, number>>;
  readonly keepalivesSent: number;
  readonly lastProofOfLifeMsAgo: number | null;
  readonly reconnects: number;
  readonly reclaimed: number;
  readonly deadPeers: number;
  /** Whether the worker holds a connection (an `idle` worker may be parked without one). */
  readonly connected: boolean;
}

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
  /** One line per event, for the headless story and the dashboard's event list. */
  readonly onEvent?: ((line: string) => void) | undefined;
}

export interface DemoWorker {
  readonly id: number;
  readonly client: KeepaliveClient;
  view(): WorkerView;
  /** Starts a `tool_exec` lasting `ms`. */
  startLongTool(ms: number): void;
  /** Cuts the connection abruptly (as a network failure would). */
  cut(): void;
  /** Stops answering and sending, as a hung process would. */
  freeze(): void;
  resume(): void;
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

class Worker implements DemoWorker {
  readonly client: KeepaliveClient;
  private socket: WebSocket | null = null;
  private frozen: WebSocket | null = null;
  private frozenWanted = false;
  private lastProof: number | null = null;
  private reconnects = 0;
  private reclaimed = 0;
  private deadPeers = 0;
  private open = false;
  /** Parked by the client (lazy reconnect): disconnected on purpose until work comes back. */
  private parked = false;
  private seed: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters: { opened: (() => void)[]; reclaimed: (() => void)[] } = { opened: [], reclaimed: [] };
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly options: WorkerOptions,
  ) {
    this.seed = (options.seed + id * 7919) >>> 0;
    const url = `${options.url}&worker=${id}`;
    this.client = createKeepaliveClient(
      () => {
        const socket = new WebSocket(url);
        this.socket = socket;
        socket.on('pong', () => (this.lastProof = performance.now()));
        socket.on('message', () => (this.lastProof = performance.now()));
        if (this.frozenWanted) socket.once('open', () => this.applyFreeze());
        return socket;
      },
      {
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        pongTimeoutMs: options.pongTimeoutMs,
        idleDelayMs: options.idleLimitMs ?? 30_000,
        // Lazy: a connection lost while idle (the reclaimer's 4000) is not re-established until work comes back.
        reconnect: { initialDelayMs: 200, maxDelayMs: 3_000, resetAfterMs: 10_000, whenIdle: 'lazy' },
      },
    );
    this.client.on('open', ({ attempt }) => {
      this.open = true;
      this.lastProof = performance.now();
      const resumed = this.parked;
      this.parked = false;
      if (attempt > 0 || resumed) this.reconnects++;
      if (resumed) this.say('work came back: reconnected at once');
      else this.say(attempt > 0 ? `reconnected (attempt ${attempt})` : 'connected');
      for (const resolve of this.waiters.opened.splice(0)) resolve();
    });
    this.client.on('close', ({ code, reason, willReconnect }) => {
      this.open = false;
      const then = willReconnect ? '; reconnecting' : '';
      if (code === 4000) {
        this.reclaimed++;
        this.say(`reclaimed by the server as idle (4000 ${reason})${then}`);
        for (const resolve of this.waiters.reclaimed.splice(0)) resolve();
      } else {
        this.say(`connection closed (${code}${reason ? ` ${reason}` : ''})${then}`);
      }
    });
    this.client.on('idle', () => {
      this.parked = true;
      this.say('idle: stays disconnected until work comes back');
    });
    this.client.on('reconnecting', ({ attempt, delayMs }) => this.say(`reconnecting: attempt ${attempt} in ${delayMs} ms`));
    this.client.on('dead-peer', ({ timeoutMs }) => {
      this.deadPeers++;
      this.say(`no proof of life within ${timeoutMs} ms: connection terminated`);
    });
    this.client.on('error', () => undefined);
    if (options.autoWork) this.scheduleWork();
  }

  view(): WorkerView {
    const snapshot = this.client.activity.snapshot();
    let state: WorkerState;
    if (this.frozenWanted) state = 'frozen';
    else if (this.client.state === 'closed') state = 'dead';
    // Parked by the client: quiet on purpose, not trying to reconnect.
    else if (this.client.state === 'idle') state = 'idle';
    else if (!this.open) state = 'reconnecting';
    else state = snapshot.total > 0 ? 'busy' : 'idle';
    return {
      id: this.id,
      state,
      reasons: snapshot.counts,
      keepalivesSent: snapshot.keepalivesSent,
      lastProofOfLifeMsAgo: this.lastProof === null ? null : performance.now() - this.lastProof,
      reconnects: this.reconnects,
      reclaimed: this.reclaimed,
      deadPeers: this.deadPeers,
      connected: this.open,
    };
  }

  startLongTool(ms: number): void {
    this.work('tool_exec', ms);
  }

  cut(): void {
    this.say('connection cut');
    this.socket?.terminate();
  }

  freeze(): void {
    if (this.frozenWanted) return;
    this.frozenWanted = true;
    this.say('frozen: stops answering');
    this.applyFreeze();
  }

  resume(): void {
    if (!this.frozenWanted) return;
    this.frozenWanted = false;
    const socket = this.frozen;
    if (socket !== null) {
      // Drop the instance overrides: the prototype's ping and send are back.
      Reflect.deleteProperty(socket, 'ping');
      Reflect.deleteProperty(socket, 'send');
      socket.resume();
    }
    this.frozen = null;
    this.say('resumed');
  }

  opened(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => this.waiters.opened.push(resolve));
  }

  reclaimedOnce(): Promise<void> {
    return new Promise((resolve) => this.waiters.reclaimed.push(resolve));
  }

  async stop(): Promise<ShutdownReport> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.frozenWanted) this.resume();
    // The client shuts its activity down as it closes; the closed event carries the report (S9).
    const { report } = await this.client.close(1000, 'demo shutting down');
    return report;
  }

  /** A hung process: nothing is read, nothing is written. */
  private applyFreeze(): void {
    const socket = this.socket;
    if (socket === null || this.frozen !== null || socket.readyState !== WebSocket.OPEN) return;
    this.frozen = socket;
    socket.ping = () => undefined;
    socket.send = () => undefined;
    socket.pause();
  }

  private work(reason: 'api_call' | 'tool_exec', ms: number): void {
    this.say(`${reason} started (${(ms / 1000).toFixed(1)} s)`);
    void this.client.activity.run(reason, () => this.sleep(ms)).then(() => {
      if (this.stopped) return;
      this.say(`${reason} finished`);
      try {
        this.client.send(JSON.stringify({ worker: this.id, done: reason, ms }));
      } catch {
        // Closed while finishing: the shutdown report covers it.
      }
    });
  }

  private random(): number {
    const draw = nextRandom(this.seed);
    this.seed = draw.seed;
    return draw.value;
  }

  /** Random bursts: gaps sometimes longer than the idle limit, work sometimes much longer. */
  private scheduleWork(): void {
    const idle = this.options.idleLimitMs ?? 8_000;
    const gap = this.random() < 0.4 ? idle * (1.2 + this.random()) : idle * 0.5 * this.random();
    this.later(gap, () => {
      const long = this.random() < 0.3;
      const ms = long ? idle * (1.5 + 2 * this.random()) : idle * (0.2 + 0.6 * this.random());
      this.work(this.random() < 0.6 ? 'api_call' : 'tool_exec', ms);
      if (this.random() < 0.3) this.work('tool_exec', ms * 0.5);
      this.later(ms, () => this.scheduleWork());
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(timer);
  }

  private say(line: string): void {
    this.options.onEvent?.(`worker ${this.id}: ${line}`);
  }
}

/** Starts `count` workers connecting to `url`. */
export function startWorkers(options: WorkerOptions): Workers {
  const list = Array.from({ length: options.count }, (_, i) => new Worker(i + 1, options));
  return {
    list,
    views: () => list.map((w) => w.view()),
    get: (id) => list.find((w) => w.id === id),
    shutdown: async () => Promise.all(list.map(async (w) => ({ id: w.id, report: await w.stop() }))),
  };
}
