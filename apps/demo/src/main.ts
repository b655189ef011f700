#!/usr/bin/env node
import { HELP, parseConfig, type DemoConfig } from './config.js';
import { startDemo } from './demo.js';
import { storyNotice } from './story.js';

/**
 * The demo: one Node process with a ws server that reclaims idle connections,
 * a dashboard page, and simulated agent workers that keep themselves alive
 * with @keepalive while they are busy.
 */
async function main(config: DemoConfig): Promise<void> {
  const demo = await startDemo(config, config.headless ? (line) => process.stdout.write(`${line}\n`) : undefined);
  if (demo.metrics !== null) process.stdout.write(`keepalive demo: metrics (Prometheus) at ${demo.metrics.url}\n`);
  process.stdout.write(
    config.headless
      ? `keepalive demo (headless): ${config.workers} workers, idle limit ${config.idleLimitMs} ms, heartbeat ${config.heartbeatIntervalMs} ms, seed ${config.seed}, ${config.durationMs === 0 ? 'until Ctrl-C' : `for ${config.durationMs} ms`}\n${storyNotice(config.durationMs, config.idleLimitMs)
          .map((line) => `note: ${line}\n`)
          .join('')}`
      : `keepalive demo: open ${demo.server.dashboardUrl}\n  (${config.workers} workers, idle limit ${config.idleLimitMs} ms, heartbeat ${config.heartbeatIntervalMs} ms; Ctrl-C to stop)\n`,
  );

  const stop = async (why: string): Promise<void> => {
    process.stdout.write(`\n${why}: shutting down\n`);
    const reports = await demo.stop();
    for (const { id, report } of reports) {
      const oldest = report.oldestActivityMs === null ? 'null' : String(Math.round(report.oldestActivityMs));
      process.stdout.write(
        `worker ${id} shutdown report: total=${report.total} active=${JSON.stringify(report.active)} oldest_activity_ms=${oldest} keepalives_sent=${report.keepalivesSent}\n`,
      );
    }
    const stats = demo.server.reclaimer.stats();
    process.stdout.write(`server: reclaimed ${stats.idleClosed} idle connections, terminated ${stats.deadPeers} dead peers, sent ${stats.pingsSent} pings\n`);
    if (config.headless && demo.metrics !== null) {
      const { formatSample } = await import('./metrics.js');
      process.stdout.write(`metrics at the end (every instrument with a value; the server's, the ${config.workers} keepalive workers' summed${config.redisUrl == null ? '' : ", the reclaimer process's"}):\n`);
      for (const line of formatSample(await demo.metrics.collect())) process.stdout.write(`${line}\n`);
    }
  };
  const stopAndReport = (why: string): void => {
    stop(why).catch((error: unknown) => {
      process.stderr.write(`keepalive-demo: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopAndReport(signal));
  if (config.durationMs > 0) setTimeout(() => stopAndReport(`after ${config.durationMs} ms`), config.durationMs).unref();
}

try {
  const config = parseConfig(process.argv.slice(2));
  if (config === 'help') process.stdout.write(HELP);
  else await main(config);
} catch (error) {
  process.stderr.write(`keepalive-demo: ${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
  process.exitCode = 2;
}
