import type { DemoConfig } from './config.js';
import { instrumentServer } from '@keepalive/opentelemetry';
import { HTTP_LIMITS, startDemoServer, type DemoServer, type HttpLimits, type ServerWorkerView } from './server.js';
import { startWorkers, type MarkKind, type WorkerState, type Workers } from './workers.js';
import { startFleet, type Fleet } from './fleet.js';
import type { ShutdownReport } from '@keepalive/node-timers';
import type { DemoMetrics } from './metrics.js';
import type { WireMetric } from './metrics-wire.js';

/** The whole demo in one process: the reclaiming server, the workers, and the dashboard feed. */
export interface Demo {
  readonly server: DemoServer;
  readonly workers: Workers;
  /**
   * `--metrics`: the scrape endpoint and the instruments (the server's, the workers', the fleet reclaimer's);
   * `null` when off. After `stop()`, `collect()` gives what they read once every process had stopped.
   */
  readonly metrics: DemoMetrics | null;
  /** Closes every socket (1001 from the server), stops the workers, returns their shutdown reports. */
  stop(): Promise<{ id: number; report: ShutdownReport }[]>;
}

const SAMPLE_MS = 500;
/** How much of the timeline is kept (seconds); the dashboard shows the last minute. */
const HISTORY_S = 120;

/** One stretch of a worker's lane: its state from `from` to `to` (seconds since the epoch; `null`: still on). */
export interface TimelineSegment {
  readonly state: WorkerState;
  readonly from: number;
  readonly to: number | null;
}

/** A marked moment on the timeline (seconds since the epoch, like the samples). */
export interface TimelineMark {
  readonly t: number;
  readonly worker: number;
  readonly kind: MarkKind;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Starts the demo; `onLine` receives the story as log lines. */
export async function startDemo(
  config: Omit<DemoConfig, 'headless' | 'durationMs' | 'http' | 'metrics' | 'metricsPort'> & {
    readonly http?: Partial<HttpLimits> | undefined;
    readonly metrics?: boolean | undefined;
    readonly metricsPort?: number | undefined;
  },
  onLine?: (line: string) => void,
): Promise<Demo> {
  // --metrics: loaded only when asked for (without it, no SDK is loaded and nothing is instrumented).
  const metrics: DemoMetrics | null =
    config.metrics === true ? await (await import('./metrics.js')).startMetrics({ port: config.metricsPort ?? 0, http: { ...HTTP_LIMITS, ...config.http } }) : null;
  let server: DemoServer;
  try {
    server = await startDemoServer(config);
  } catch (error) {
    await metrics?.close();
    throw error;
  }
  if (metrics !== null) instrumentServer(server.reclaimer, { meterProvider: metrics.meterProvider });
  // The timeline: each worker's lane as the stretches of its states, and the marked moments.
  const segments = new Map<number, TimelineSegment[]>();
  const changeState = (worker: number, state: WorkerState): void => {
    const now = Date.now() / 1000;
    const lane = segments.get(worker) ?? [];
    segments.set(worker, lane);
    const last = lane.at(-1);
    if (last !== undefined) lane[lane.length - 1] = { ...last, to: now };
    lane.push({ state, from: now, to: null });
    while (lane.length > 1 && (lane[0]?.to ?? now) < now - HISTORY_S) lane.shift();
  };
  const marks: TimelineMark[] = [];
  const mark = (worker: number, kind: MarkKind): void => {
    marks.push({ t: Date.now() / 1000, worker, kind });
    if (marks.length > 400) marks.shift();
  };
  const pending: string[] = [];
  const log = (line: string): void => {
    const stamped = `${stamp()}  ${line}`;
    onLine?.(stamped);
    pending.push(stamped);
    if (pending.length > 200) pending.shift();
  };
  const workers = startWorkers({
    url: server.workerUrl,
    count: config.workers,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    pongTimeoutMs: config.pongTimeoutMs,
    idleLimitMs: config.idleLimitMs,
    seed: config.seed,
    autoWork: true,
    redisUrl: config.redisUrl ?? null,
    onEvent: log,
    onMark: mark,
    onState: changeState,
    ...(metrics === null ? {} : { onMetrics: (worker: number, readings: readonly WireMetric[]) => metrics.report(`worker ${String(worker)}`, readings) }),
  });
  for (const worker of workers.list) changeState(worker.id, worker.view().state);
  server.onWorkerClose((worker, verdict) => {
    if (verdict !== 'dead_peer') return;
    workers.get(worker)?.countDeadPeer();
    mark(worker, 'dead-peer');
    log(`server: no proof of life from worker ${worker} within ${config.pongTimeoutMs} ms after a ping: dead peer, connection terminated`);
  });
  // --redis: the fleet view, the workers' leases read back by a reclaimer in its own process.
  const redisUrl = config.redisUrl ?? null;
  const fleet: Fleet | null =
    redisUrl === null
      ? null
      : startFleet({
          redisUrl,
          idleLimitMs: config.idleLimitMs,
          onEvent: log,
          ...(metrics === null ? {} : { onMetrics: (readings: readonly WireMetric[]) => metrics.report('reclaimer', readings) }),
        });
  server.onCommand(({ action, worker }) => {
    const target = workers.get(worker);
    if (target === undefined) return;
    log(`dashboard: ${action} on worker ${worker}`);
    if (action === 'long-tool') target.startLongTool(config.idleLimitMs * 4);
    else if (action === 'cut') target.cut();
    else if (action === 'freeze') target.freeze();
    else target.resume();
  });

  const sampler = setInterval(() => {
    const now = Date.now() / 1000;
    while (marks.length > 0 && (marks[0]?.t ?? now) < now - HISTORY_S) marks.shift();
    const views = workers.views().map((view) => ({ ...view, server: server.workerView(view.id) satisfies ServerWorkerView }));
    server.broadcast({
      now,
      idleLimitMs: config.idleLimitMs,
      pongTimeoutMs: config.pongTimeoutMs,
      workers: views,
      server: server.reclaimer.stats(),
      events: pending.splice(0),
      timeline: {
        lanes: workers.list.map((worker) => ({ worker: worker.id, keepalive: worker.keepalive, segments: segments.get(worker.id) ?? [] })),
        marks,
      },
      ...(fleet === null ? {} : { fleet: fleet.view() }),
    });
  }, SAMPLE_MS);

  let stopped: Promise<{ id: number; report: ShutdownReport }[]> | null = null;
  return {
    server,
    workers,
    metrics,
    stop: () => {
      stopped ??= (async () => {
        clearInterval(sampler);
        // The workers stop first (each closes its connection with 1000 and reports; none reconnects), then the
        // server closes what is left (the dashboards) with 1001.
        const reports = await workers.shutdown();
        await server.close();
        await fleet?.stop();
        // Every process has sent its last readings: read them a last time and stop the endpoint.
        await metrics?.close();
        return reports;
      })();
      return stopped;
    },
  };
}
