import WebSocket from 'ws';
import { nextRandom } from '@keepalive/core';
import type { ShutdownReport } from '@keepalive/node-timers';
import { createKeepaliveClient, type KeepaliveClient } from '@keepalive/websocket-transport';
import { createLeaseWriter } from '@keepalive/redis';
import { instrumentClient } from '@keepalive/opentelemetry';
import { METRICS_PUSH_MS } from './metrics-wire.js';
import { FLEET_PREFIX } from './fleet.js';
import { SCHEDULE } from './story.js';
import type { ChildMessage, MarkKind, ParentMessage, WorkReason, WorkerSpec, WorkerState } from './worker-protocol.js';

/**
 * One simulated agent worker, in its own process (started by workers.ts with `fork`). Two kinds:
 *
 * - a keepalive worker is a user of the library exactly as in the package READMEs: a `createKeepaliveClient`
 *   connection whose activity brackets the simulated work (`api_call`, `tool_exec`) with `run()`. While busy it
 *   sends keep-alives and survives the reclaimer; idle, it goes quiet, is reclaimed, and stays disconnected
 *   (`reconnect.whenIdle: 'lazy'`) until work comes back. A connection lost while busy reconnects with backoff.
 * - the bare worker does the same work (the same seed as worker 1) on a plain `ws` socket with no keep-alives: the
 *   reclaimer closes it in the middle of any work longer than the idle limit, and that work is lost.
 */

const spec = JSON.parse(process.argv[2] ?? '') as WorkerSpec;
/** `--metrics`: this process's meter provider (the keepalive worker's client is instrumented on it). */
const metrics = spec.metrics === true && spec.keepalive ? (await import('./metrics-process.js')).processMetrics() : null;

function tell(message: ChildMessage): void {
  // What the parent waits on comes after a fresh view, so the view it reads then is up to date.
  if (message.type === 'opened' || message.type === 'reclaimed') report();
  if (process.connected) process.send?.(message);
}

function say(line: string): void {
  tell({ type: 'event', line: `worker ${spec.id}: ${line}` });
}

function mark(kind: MarkKind): void {
  tell({ type: 'mark', kind });
}

const timers = new Set<NodeJS.Timeout>();
let stopped = false;
let lastProof: number | null = null;
let reconnects = 0;
let reclaimed = 0;
let lostWork = 0;
let open = false;
let seed = (spec.seed + (spec.keepalive ? spec.id : 1) * 7919) >>> 0;
/** Bursts started so far: the first is long, and the quiet after it longer than the idle limit (story.ts). */
let bursts = 0;

function later(ms: number, fn: () => void): NodeJS.Timeout {
  const timer = setTimeout(() => {
    timers.delete(timer);
    if (!stopped) fn();
  }, ms);
  timers.add(timer);
  return timer;
}

function random(): number {
  const draw = nextRandom(seed);
  seed = draw.seed;
  return draw.value;
}

/** The transport of one kind of worker. */
interface Runner {
  readonly socket: () => WebSocket | null;
  /** Runs `reason` for `ms`; resolves `true` when it completed, `false` when it was lost. */
  work(reason: WorkReason, ms: number): Promise<boolean>;
  view(): { state: WorkerState; reasons: Record<string, number>; keepalivesSent: number };
  stop(): Promise<ShutdownReport>;
}

function keepaliveRunner(): Runner {
  let socket: WebSocket | null = null;
  let parked = false;
  const client: KeepaliveClient = createKeepaliveClient(
    () => {
      const ws = new WebSocket(spec.url);
      socket = ws;
      ws.on('pong', () => (lastProof = performance.now()));
      ws.on('message', () => (lastProof = performance.now()));
      return ws;
    },
    {
      heartbeatIntervalMs: spec.heartbeatIntervalMs,
      pongTimeoutMs: spec.pongTimeoutMs,
      idleDelayMs: spec.idleLimitMs,
      // Lazy: a connection lost while idle (the reclaimer's 4000) is not re-established until work comes back.
      reconnect: { initialDelayMs: 200, maxDelayMs: 3_000, resetAfterMs: 10_000, whenIdle: 'lazy' },
    },
  );
  // --redis: this worker's activity as a lease, for the reclaimer process of the fleet view.
  const redisUrl = spec.redisUrl ?? null;
  const leases = redisUrl === null ? null : createLeaseWriter({ url: redisUrl, prefix: FLEET_PREFIX, owner: `worker-${String(spec.id)}/${String(process.pid)}`, idleRenewalMs: spec.heartbeatIntervalMs * 2 });
  leases?.track(`worker-${String(spec.id)}`, client.activity);
  if (metrics !== null) instrumentClient(client, { meterProvider: metrics.meterProvider });
  client.on('open', ({ attempt }) => {
    open = true;
    lastProof = performance.now();
    const resumed = parked;
    parked = false;
    if (attempt > 0 || resumed) {
      reconnects++;
      mark('reconnected');
    }
    if (resumed) say('work came back: reconnected at once');
    else say(attempt > 0 ? `reconnected (attempt ${attempt})` : 'connected');
    tell({ type: 'opened' });
  });
  client.on('close', ({ code, reason, willReconnect }) => {
    open = false;
    if (stopped) return;
    const then = willReconnect ? '; reconnecting' : '';
    if (code === 4000) {
      reclaimed++;
      mark('reclaimed');
      say(`reclaimed by the server as idle (4000 ${reason})${then}`);
      tell({ type: 'reclaimed' });
    } else {
      say(`connection closed (${code}${reason ? ` ${reason}` : ''})${then}`);
    }
  });
  client.on('parked', () => {
    parked = true;
    if (stopped) return;
    say('parked: stays disconnected until work comes back');
    report();
  });
  client.on('reconnecting', ({ attempt, delayMs }) => {
    if (!stopped) say(`reconnecting: attempt ${attempt} in ${Math.round(delayMs)} ms`);
  });
  client.on('dead-peer', ({ timeoutMs }) => say(`no proof of life from the server within ${timeoutMs} ms: connection terminated`));
  client.on('error', () => undefined);
  return {
    socket: () => socket,
    work: async (reason, ms) => {
      await client.activity.run(reason, () => new Promise<void>((resolve) => later(ms, resolve)));
      return true;
    },
    view: () => {
      const snapshot = client.activity.snapshot();
      let state: WorkerState;
      if (client.state === 'closed') state = 'dead';
      // Parked by the client (lazy reconnect): no connection, quiet on purpose until work comes back.
      else if (client.state === 'parked') state = 'parked';
      else if (!open) state = 'reconnecting';
      else state = snapshot.total > 0 ? 'busy' : 'idle';
      return { state, reasons: { ...snapshot.counts }, keepalivesSent: snapshot.keepalivesSent };
    },
    stop: async () => {
      const { report: shutdown } = await client.close(1000, 'demo shutting down');
      await leases?.close();
      return shutdown;
    },
  };
}

function bareRunner(): Runner {
  let socket: WebSocket | null = null;
  const inFlight = new Map<number, { reason: WorkReason; timer: NodeJS.Timeout; done: (ok: boolean) => void }>();
  let nextWork = 0;
  const connect = (): void => {
    const ws = new WebSocket(spec.url);
    socket = ws;
    ws.on('error', () => undefined);
    ws.on('pong', () => (lastProof = performance.now()));
    ws.on('message', () => (lastProof = performance.now()));
    ws.on('open', () => {
      open = true;
      lastProof = performance.now();
      say(reconnects === 0 && reclaimed === 0 ? 'connected (plain socket, no keep-alives)' : 'reconnected');
      tell({ type: 'opened' });
    });
    ws.on('close', (code: number) => {
      open = false;
      if (stopped) return;
      if (code === 4000) {
        reclaimed++;
        mark('reclaimed');
        tell({ type: 'reclaimed' });
        const cut = [...inFlight.values()];
        if (cut.length > 0) {
          lostWork += cut.length;
          mark('lost-work');
          say(`reclaimed by the server in the middle of ${cut.map((w) => w.reason).join(' + ')} (no keep-alives): the work is lost`);
        } else {
          say('reclaimed by the server as idle (4000)');
        }
        for (const [key, work] of inFlight) {
          clearTimeout(work.timer);
          timers.delete(work.timer);
          inFlight.delete(key);
          work.done(false);
        }
      } else {
        say(`connection closed (${code})`);
      }
      later(300, () => {
        reconnects++;
        mark('reconnected');
        connect();
      });
    });
  };
  connect();
  return {
    socket: () => socket,
    work: (reason, ms) =>
      new Promise<boolean>((resolve) => {
        const key = nextWork++;
        const timer = later(ms, () => {
          inFlight.delete(key);
          resolve(true);
        });
        inFlight.set(key, { reason, timer, done: resolve });
      }),
    view: () => {
      const reasons: Record<string, number> = {};
      for (const { reason } of inFlight.values()) reasons[reason] = (reasons[reason] ?? 0) + 1;
      const state: WorkerState = !open ? 'reconnecting' : inFlight.size > 0 ? 'busy' : 'idle';
      return { state, reasons, keepalivesSent: 0 };
    },
    stop: async () => {
      const ws = socket;
      if (ws !== null && ws.readyState !== WebSocket.CLOSED) {
        const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
        ws.close(1000, 'demo shutting down');
        await closed;
      }
      const active: Record<string, number> = {};
      for (const { reason } of inFlight.values()) active[reason] = (active[reason] ?? 0) + 1;
      return { total: inFlight.size, active, oldestActivityMs: null, keepalivesSent: 0 };
    },
  };
}

const runner = spec.keepalive ? keepaliveRunner() : bareRunner();

function work(reason: WorkReason, ms: number): void {
  say(`${reason} started (${(ms / 1000).toFixed(1)} s)`);
  void runner.work(reason, ms).then((completed) => {
    if (stopped || !completed) return;
    say(`${reason} finished`);
    const socket = runner.socket();
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ worker: spec.id, done: reason, ms }));
  });
}

/**
 * Bursts of work (story.ts): the first one long, the quiet after it longer than the idle limit (so the worker is
 * reclaimed and parks), then random: gaps sometimes longer than the idle limit, work sometimes much longer.
 */
function scheduleWork(): void {
  const idle = spec.idleLimitMs;
  const { FIRST_GAP, FIRST_MIN, FIRST_MAX, LONG_MIN, LONG_MAX, PARK_GAP_MIN, PARK_GAP_MAX } = SCHEDULE;
  const gap =
    bursts === 0
      ? idle * FIRST_GAP
      : bursts === 1
        ? idle * (PARK_GAP_MIN + (PARK_GAP_MAX - PARK_GAP_MIN) * random())
        : random() < 0.4
          ? idle * (1.2 + random())
          : idle * 0.5 * random();
  later(gap, () => {
    const first = bursts === 0;
    const long = first || random() < 0.3;
    bursts++;
    const [min, max] = first ? [FIRST_MIN, FIRST_MAX] : [LONG_MIN, LONG_MAX];
    const ms = long ? idle * (min + (max - min) * random()) : idle * (0.2 + 0.6 * random());
    work(random() < 0.6 ? 'api_call' : 'tool_exec', ms);
    // A second, shorter piece of work alongside, sometimes; never in the first burst (its end would send a result
    // midway, and the worker without keep-alives would not be quiet long enough to lose its work).
    if (!first && random() < 0.3) work('tool_exec', ms * 0.5);
    later(ms, scheduleWork);
  });
}

function report(): void {
  tell({
    type: 'view',
    view: {
      id: spec.id,
      keepalive: spec.keepalive,
      ...runner.view(),
      lastProofOfLifeMsAgo: lastProof === null ? null : performance.now() - lastProof,
      reconnects,
      reclaimed,
      lostWork,
      connected: open,
    },
  });
}

const reporter = setInterval(report, 200);

/** Sends this process's instrument readings to the parent (metrics-wire.ts). */
async function sendMetrics(): Promise<void> {
  if (metrics === null) return;
  try {
    tell({ type: 'metrics', metrics: await metrics.read() });
  } catch {
    // A failed read is skipped: the next one replaces it (the readings are cumulative).
  }
}
const metricsPusher = metrics === null ? null : setInterval(() => void sendMetrics(), METRICS_PUSH_MS);

process.on('message', (message: ParentMessage) => {
  if (message.type === 'long-tool') {
    work('tool_exec', message.ms);
    report();
  } else if (message.type === 'cut') {
    say('connection cut');
    runner.socket()?.terminate();
  } else {
    stopped = true;
    clearInterval(reporter);
    if (metricsPusher !== null) clearInterval(metricsPusher);
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    void runner.stop().then(async (shutdown) => {
      // The last readings, after the close (the counters keep what they counted).
      await sendMetrics();
      await metrics?.close();
      tell({ type: 'report', report: shutdown });
      process.disconnect();
    });
  }
});
// The parent went away: nothing to report to.
process.on('disconnect', () => {
  if (!stopped) process.exit(0);
});
if (spec.autoWork) scheduleWork();
report();
