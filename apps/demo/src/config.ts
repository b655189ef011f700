import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { HTTP_LIMITS, type HttpLimits } from './server.js';
import { storyTimes } from './story.js';

/** Everything the demo can be told, from flags or the environment. */
export interface DemoConfig {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly workers: number;
  /** The reclaimer's idle limit: connections silent longer than this are closed. */
  readonly idleLimitMs: number;
  /** The workers' keep-alive interval while busy. */
  readonly heartbeatIntervalMs: number;
  /** How long a worker or the server waits for proof of life after a keep-alive. */
  readonly pongTimeoutMs: number;
  readonly maxPayload: number;
  readonly headless: boolean;
  /** Stop after this long (0: run until SIGINT/SIGTERM). Headless without one: long enough for the whole story. */
  readonly durationMs: number;
  /** Seed of the simulated work (reproducible runs). */
  readonly seed: number;
  /** The fleet view: the workers' leases on this Redis, read by a reclaimer in its own process (`null`: off). */
  readonly redisUrl?: string | null | undefined;
  /** The HTTP server's timeouts and connection caps. */
  readonly http: HttpLimits;
  /** `--metrics`: OpenTelemetry metrics, served for Prometheus on 127.0.0.1 (off by default). */
  readonly metrics: boolean;
  /** The scrape endpoint's port (0: a free one). */
  readonly metricsPort: number;
}

export const HELP = `keepalive-demo: a ws server that reclaims idle connections, simulated agent workers
that use @keepalive, and a live dashboard.

Usage: keepalive-demo [options]

Options (environment variable in brackets):
  --host <addr>            bind address, loopback only by default   [KEEPALIVE_DEMO_HOST]   127.0.0.1
  --port <n>               port, 0 picks a free one                [KEEPALIVE_DEMO_PORT]   0
  --token <t>              access token for dashboard and workers  [KEEPALIVE_DEMO_TOKEN]  random
  --workers <n>            simulated workers (1-50)                [KEEPALIVE_DEMO_WORKERS] 4
  --idle-limit <ms>        the reclaimer's idle limit              [KEEPALIVE_DEMO_IDLE_LIMIT_MS] 8000
  --heartbeat <ms>         workers' keep-alive interval            [KEEPALIVE_DEMO_HEARTBEAT_MS] 2000
  --pong-timeout <ms>      proof-of-life timeout                   [KEEPALIVE_DEMO_PONG_TIMEOUT_MS] 2000
  --max-payload <bytes>    largest frame accepted                  [KEEPALIVE_DEMO_MAX_PAYLOAD] 65536
  --duration <ms>          stop after this long, 0 = until Ctrl-C  [KEEPALIVE_DEMO_DURATION_MS] 0
                           (--headless: the whole story, 52 s at the default idle limit)
  --seed <n>               seed of the simulated work              [KEEPALIVE_DEMO_SEED]   random
  --redis <url>            fleet view: leases on Redis, read by a   [KEEPALIVE_DEMO_REDIS_URL] off
                           reclaimer in its own process
  --headers-timeout <ms>   a request's headers must arrive within  [KEEPALIVE_DEMO_HEADERS_TIMEOUT_MS] ${HTTP_LIMITS.headersTimeoutMs}
  --request-timeout <ms>   a whole request must arrive within      [KEEPALIVE_DEMO_REQUEST_TIMEOUT_MS] ${HTTP_LIMITS.requestTimeoutMs}
  --keep-alive-timeout <ms> an idle HTTP keep-alive is closed after [KEEPALIVE_DEMO_KEEP_ALIVE_TIMEOUT_MS] ${HTTP_LIMITS.keepAliveTimeoutMs}
  --max-connections <n>    open connections; beyond: 503 and close [KEEPALIVE_DEMO_MAX_CONNECTIONS] ${HTTP_LIMITS.maxConnections}
  --max-pending <n>        connections still sending headers; a new
                           one beyond this evicts the oldest       [KEEPALIVE_DEMO_MAX_PENDING] ${HTTP_LIMITS.maxPending}
  --metrics                OpenTelemetry metrics for Prometheus     [KEEPALIVE_DEMO_METRICS] off
                           at http://127.0.0.1:<port>/metrics: the
                           server's, the workers' and the reclaimer's
                           (URL printed at start; --headless prints
                           every instrument's values at the end)
  --metrics-port <n>       the scrape endpoint's port, 0 = free    [KEEPALIVE_DEMO_METRICS_PORT] 0
  --headless               tell the story as log lines, no dashboard
  -h, --help               this text

Besides the --workers keepalive workers, one more worker does the same work as worker 1
on a plain socket without keep-alives, and is reclaimed in the middle of its long work.
`;

/** An on/off environment variable: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`, empty (off when unset). */
function flag(name: string, raw: string | undefined): boolean {
  const value = (raw ?? '').trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['', '0', 'false', 'no', 'off'].includes(value)) return false;
  throw new RangeError(`Invalid ${name}: ${JSON.stringify(raw)} (expected 1, true, yes, on, or 0, false, no, off)`);
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Invalid ${name}: ${JSON.stringify(raw)} (expected an integer in [${min}, ${max}])`);
  }
  return value;
}

/** Parses flags (which win) and environment variables. Throws a RangeError naming a bad value. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): DemoConfig | 'help' {
  // `pnpm start -- --headless` hands the `--` on to the script: a leading one is not a positional.
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string' },
      workers: { type: 'string' },
      'idle-limit': { type: 'string' },
      heartbeat: { type: 'string' },
      'pong-timeout': { type: 'string' },
      'max-payload': { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      redis: { type: 'string' },
      'headers-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'keep-alive-timeout': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-pending': { type: 'string' },
      metrics: { type: 'boolean' },
      'metrics-port': { type: 'string' },
      headless: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const token = values.token ?? env.KEEPALIVE_DEMO_TOKEN ?? randomBytes(18).toString('base64url');
  if (token.length < 8 || !/^[\w-]+$/.test(token)) throw new RangeError('Invalid token: expected at least 8 characters of [A-Za-z0-9_-]');
  const idleLimitMs = int('--idle-limit', values['idle-limit'] ?? env.KEEPALIVE_DEMO_IDLE_LIMIT_MS, 8_000, 500, 3_600_000);
  const heartbeatIntervalMs = int('--heartbeat', values.heartbeat ?? env.KEEPALIVE_DEMO_HEARTBEAT_MS, 2_000, 100, 3_600_000);
  if (heartbeatIntervalMs >= idleLimitMs) {
    throw new RangeError(`Invalid --heartbeat: ${heartbeatIntervalMs} (must be shorter than --idle-limit ${idleLimitMs}, or busy workers would be reclaimed)`);
  }
  const redisUrl = values.redis ?? env.KEEPALIVE_DEMO_REDIS_URL ?? null;
  if (redisUrl !== null && !/^rediss?:\/\/\S+$/.test(redisUrl)) throw new RangeError(`Invalid --redis: ${JSON.stringify(redisUrl)} (expected a redis:// URL)`);
  const metrics = values.metrics ?? flag('KEEPALIVE_DEMO_METRICS', env.KEEPALIVE_DEMO_METRICS);
  const metricsPortRaw = values['metrics-port'] ?? env.KEEPALIVE_DEMO_METRICS_PORT;
  if (!metrics && metricsPortRaw !== undefined && metricsPortRaw !== '') {
    throw new RangeError(`Invalid --metrics-port: ${JSON.stringify(metricsPortRaw)} (given without --metrics, which is off)`);
  }
  return {
    redisUrl,
    metrics,
    metricsPort: int('--metrics-port', metricsPortRaw, 0, 0, 65_535),
    host: values.host ?? env.KEEPALIVE_DEMO_HOST ?? '127.0.0.1',
    port: int('--port', values.port ?? env.KEEPALIVE_DEMO_PORT, 0, 0, 65_535),
    token,
    workers: int('--workers', values.workers ?? env.KEEPALIVE_DEMO_WORKERS, 4, 1, 50),
    idleLimitMs,
    heartbeatIntervalMs,
    pongTimeoutMs: int('--pong-timeout', values['pong-timeout'] ?? env.KEEPALIVE_DEMO_PONG_TIMEOUT_MS, 2_000, 50, 600_000),
    maxPayload: int('--max-payload', values['max-payload'] ?? env.KEEPALIVE_DEMO_MAX_PAYLOAD, 65_536, 1_024, 16 << 20),
    headless: values.headless,
    durationMs: int('--duration', values.duration ?? env.KEEPALIVE_DEMO_DURATION_MS, values.headless ? storyTimes(idleLimitMs).full : 0, 0, 86_400_000),
    seed: int('--seed', values.seed ?? env.KEEPALIVE_DEMO_SEED, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31),
    http: httpLimits(values, env),
  };
}

function httpLimits(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): HttpLimits {
  const flag = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const headersTimeoutMs = int('--headers-timeout', flag('headers-timeout') ?? env.KEEPALIVE_DEMO_HEADERS_TIMEOUT_MS, HTTP_LIMITS.headersTimeoutMs, 100, 600_000);
  const requestTimeoutMs = int('--request-timeout', flag('request-timeout') ?? env.KEEPALIVE_DEMO_REQUEST_TIMEOUT_MS, HTTP_LIMITS.requestTimeoutMs, 100, 600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new RangeError(`Invalid --request-timeout: ${requestTimeoutMs} (must be at least --headers-timeout ${headersTimeoutMs})`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: int('--keep-alive-timeout', flag('keep-alive-timeout') ?? env.KEEPALIVE_DEMO_KEEP_ALIVE_TIMEOUT_MS, HTTP_LIMITS.keepAliveTimeoutMs, 100, 600_000),
    maxConnections: int('--max-connections', flag('max-connections') ?? env.KEEPALIVE_DEMO_MAX_CONNECTIONS, HTTP_LIMITS.maxConnections, 16, 100_000),
    maxPending: int('--max-pending', flag('max-pending') ?? env.KEEPALIVE_DEMO_MAX_PENDING, HTTP_LIMITS.maxPending, 1, 100_000),
  };
}
