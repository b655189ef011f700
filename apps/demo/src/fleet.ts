import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LeaseStatus } from '@keepalive/redis';
import { parseWire, type WireMetric } from './metrics-wire.js';

/**
 * The demo's fleet view (`--redis`): each worker process mirrors its activity to Redis as a lease (a lease writer
 * in worker-process.ts, keys under {@link FLEET_PREFIX}), and a reclaimer in a process of its own (the container
 * host's view) reads the leases and reports what it sees.
 */

/** The key prefix of the demo's leases. */
export const FLEET_PREFIX = 'keepalive-demo';

/** One session as the reclaimer process sees it. */
export interface FleetSession {
  readonly session: string;
  readonly status: LeaseStatus;
  readonly idleMs: number | null;
  readonly owner: string;
  readonly counts: Readonly<Record<string, number>>;
}

/** What the reclaimer process reported last. */
export interface FleetView {
  readonly sessions: readonly FleetSession[];
  readonly sweeps: number;
  readonly failedSweeps: number;
  readonly lastReadAgeMs: number | null;
}

/** A running fleet view. */
export interface Fleet {
  /** The reclaimer process's latest view, or `null` before its first. */
  view(): FleetView | null;
  /** Stops the reclaimer process. */
  stop(): Promise<void>;
}

/** Options of {@link startFleet}. */
export interface FleetOptions {
  readonly redisUrl: string;
  readonly idleLimitMs: number;
  readonly sweepMs?: number;
  /** Each status change, as a log line. */
  readonly onEvent?: (line: string) => void;
  /** `--metrics`: the reclaimer process instruments its reclaimer and its readings arrive here (cumulative). */
  readonly onMetrics?: (metrics: readonly WireMetric[]) => void;
}

// The built script (from src/ under the tests, and from dist/ when the demo runs).
const CHILD = fileURLToPath(new URL('../dist/reclaimer-process.js', import.meta.url));

/** Starts the reclaimer in its own process. */
export function startFleet(options: FleetOptions): Fleet {
  const child: ChildProcess = spawn(process.execPath, [CHILD, options.redisUrl, FLEET_PREFIX, String(options.idleLimitMs), String(options.sweepMs ?? 500), ...(options.onMetrics === undefined ? [] : ['metrics'])], { stdio: ['pipe', 'pipe', 'inherit'] });
  let latest: FleetView | null = null;
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let line: { type?: unknown; session?: unknown; previous?: unknown; status?: unknown; metrics?: unknown } & Partial<FleetView>;
      try {
        line = JSON.parse(text) as typeof line;
      } catch {
        continue;
      }
      if (line.type === 'metrics') {
        const metrics = parseWire(line.metrics);
        if (metrics !== null) options.onMetrics?.(metrics);
      } else if (line.type === 'view') latest = { sessions: line.sessions ?? [], sweeps: line.sweeps ?? 0, failedSweeps: line.failedSweeps ?? 0, lastReadAgeMs: line.lastReadAgeMs ?? null };
      else if (line.type === 'change' && typeof line.session === 'string' && typeof line.status === 'string') {
        options.onEvent?.(`reclaimer process: ${line.session} ${typeof line.previous === 'string' ? line.previous : 'new'} -> ${line.status}`);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | null = null;
  return {
    view: () => latest,
    stop: () => {
      stopping ??= (async () => {
        child.stdin?.end();
        const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
        await exited;
        clearTimeout(kill);
      })();
      return stopping;
    },
  };
}
