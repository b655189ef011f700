import type { DemoConfig } from './config.js';
import { startDemoServer, type DemoServer, type HttpLimits } from './server.js';
import { startWorkers, type MarkKind, type WorkerState, type Workers } from './workers.js';
import { startFleet, type Fleet } from './fleet.js';
import type { ShutdownReport } from '@keepalive/node-timers';

/** The whole demo in one process: the reclaiming server, the workers, and the dashboard feed. */
export interface Demo {
  readonly server: DemoServer;
  readonly workers: Workers;
  /** Closes every socket (1001 from the server), stops the workers, returns their shutdown reports. */
  stop(): Promise<{ id: number; report: ShutdownReport }[]>;
}

const SAMPLE_MS = 500;
const HISTORY = 240;

/** A worker's state on the timeline: 0 no connection, 1 idle (connected, quiet), 2 busy, 3 frozen. */
const LANE: Readonly<Record<WorkerState, number>> = { dead: 0, reconnecting: 0, idle: 1, busy: 2, frozen: 3 };

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
  config: Omit<DemoConfig, 'headless' | 'durationMs' | 'http'> & { readonly http?: Partial<HttpLimits> | undefined },
  onLine?: (line: string) => void,
): Promise<Demo> {
  const server = await startDemoServer(config);
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
  });
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

  // One lane per worker: its state at each sample, and the marked moments (reclaims, dead peers, reconnects...).
  const history = {
    t: [] as number[],
    lanes: workers.list.map(() => [] as number[]),
    marks,
  };
  const sampler = setInterval(() => {
    const views = workers.views();
    history.t.push(Date.now() / 1000);
    views.forEach((view, i) => history.lanes[i]?.push(LANE[view.state]));
    if (history.t.length > HISTORY) {
      history.t.shift();
      for (const lane of history.lanes) lane.shift();
      const oldest = history.t[0] ?? 0;
      while (marks.length > 0 && (marks[0]?.t ?? 0) < oldest) marks.shift();
    }
    server.broadcast({
      idleLimitMs: config.idleLimitMs,
      pongTimeoutMs: config.pongTimeoutMs,
      workers: views,
      server: server.reclaimer.stats(),
      events: pending.splice(0),
      history,
      ...(fleet === null ? {} : { fleet: fleet.view() }),
    });
  }, SAMPLE_MS);

  let stopped: Promise<{ id: number; report: ShutdownReport }[]> | null = null;
  return {
    server,
    workers,
    stop: () => {
      stopped ??= (async () => {
        clearInterval(sampler);
        // The workers stop first (each closes its connection with 1000 and reports; none reconnects), then the
        // server closes what is left (the dashboards) with 1001.
        const reports = await workers.shutdown();
        await server.close();
        await fleet?.stop();
        return reports;
      })();
      return stopped;
    },
  };
}
