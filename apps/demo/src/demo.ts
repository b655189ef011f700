import type { DemoConfig } from './config.js';
import { startDemoServer, type DemoServer } from './server.js';
import { startWorkers, type Workers } from './workers.js';
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

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Starts the demo; `onLine` receives the story as log lines. */
export async function startDemo(config: Omit<DemoConfig, 'headless' | 'durationMs'>, onLine?: (line: string) => void): Promise<Demo> {
  const server = await startDemoServer(config);
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
    onEvent: log,
  });
  // --redis: the fleet view, the workers' leases read back by a reclaimer in its own process.
  const redisUrl = config.redisUrl ?? null;
  const fleet: Fleet | null =
    redisUrl === null
      ? null
      : startFleet({
          redisUrl,
          sessions: workers.list.map((worker) => ({ id: `worker-${String(worker.id)}`, activity: worker.client.activity })),
          heartbeatIntervalMs: config.heartbeatIntervalMs,
          idleLimitMs: config.idleLimitMs,
          onEvent: log,
        });
  server.onCommand(({ action, worker }) => {
    const target = workers.get(worker);
    if (target === undefined) return;
    log(`dashboard: ${action} on worker ${worker}`);
    if (action === 'long-tool') target.startLongTool(config.idleLimitMs * 3);
    else if (action === 'cut') target.cut();
    else if (action === 'freeze') target.freeze();
    else target.resume();
  });

  const history = {
    t: [] as number[],
    keepalives: workers.list.map(() => [] as number[]),
    activity: workers.list.map(() => [] as number[]),
  };
  const sampler = setInterval(() => {
    const views = workers.views();
    history.t.push(Date.now() / 1000);
    views.forEach((view, i) => {
      history.keepalives[i]?.push(view.keepalivesSent);
      history.activity[i]?.push(Object.values(view.reasons).reduce((a, b) => a + b, 0));
    });
    if (history.t.length > HISTORY) {
      history.t.shift();
      for (const series of [...history.keepalives, ...history.activity]) series.shift();
    }
    server.broadcast({ idleLimitMs: config.idleLimitMs, workers: views, server: server.reclaimer.stats(), events: pending.splice(0), history, ...(fleet === null ? {} : { fleet: fleet.view() }) });
  }, SAMPLE_MS);

  let stopped: Promise<{ id: number; report: ShutdownReport }[]> | null = null;
  return {
    server,
    workers,
    stop: () => {
      stopped ??= (async () => {
        clearInterval(sampler);
        // The server goes away first: every socket is closed with 1001; then the workers stop for good.
        await server.close();
        await fleet?.stop();
        return workers.shutdown();
      })();
      return stopped;
    },
  };
}
