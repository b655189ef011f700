import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { HTTP_LIMITS } from './server.js';
import { formatSample, fromWire, mergeReadings, startMetrics } from './metrics.js';
import { parseWire, type WireMetric } from './metrics-wire.js';

/**
 * `--metrics`: the option, how the worker processes' readings are checked and summed, and the endpoint itself (a
 * real HTTP server on 127.0.0.1, the official Prometheus exporter). The whole demo with it: start.test.ts.
 */

const START: [number, number] = [1_700_000_000, 0];

function worker(sent: number, rtts: readonly number[], busy: number): WireMetric[] {
  return [
    { name: 'keepalive.client.keepalive.sent', description: 'sent', unit: '{keepalive}', valueType: 1, kind: 'counter', points: [{ attributes: {}, startTime: START, value: sent }] },
    {
      name: 'keepalive.client.session.count',
      description: 'sessions',
      unit: '{session}',
      valueType: 1,
      kind: 'updown',
      points: [
        { attributes: { 'keepalive.session.state': 'busy' }, startTime: START, value: busy },
        { attributes: { 'keepalive.session.state': 'idle' }, startTime: START, value: 1 - busy },
      ],
    },
    {
      name: 'keepalive.client.rtt',
      description: 'rtt',
      unit: 's',
      valueType: 1,
      kind: 'histogram',
      points: [
        {
          attributes: {},
          startTime: START,
          value: {
            boundaries: [0.001, 0.01],
            counts: [rtts.filter((r) => r <= 0.001).length, rtts.filter((r) => r > 0.001 && r <= 0.01).length, rtts.filter((r) => r > 0.01).length],
            sum: rtts.reduce((a, b) => a + b, 0),
            count: rtts.length,
            min: rtts.length === 0 ? null : Math.min(...rtts),
            max: rtts.length === 0 ? null : Math.max(...rtts),
          },
        },
      ],
    },
  ];
}

describe('--metrics', () => {
  it('is off by default; --metrics or KEEPALIVE_DEMO_METRICS turns it on; a bad value or a port without it throws naming the option', () => {
    const plain = parseConfig([], {});
    expect(plain !== 'help' && plain.metrics).toBe(false);
    const flag = parseConfig(['--metrics', '--metrics-port', '9464'], {});
    expect(flag !== 'help' && [flag.metrics, flag.metricsPort]).toEqual([true, 9464]);
    const env = parseConfig([], { KEEPALIVE_DEMO_METRICS: 'yes', KEEPALIVE_DEMO_METRICS_PORT: '0' });
    expect(env !== 'help' && [env.metrics, env.metricsPort]).toEqual([true, 0]);
    expect(() => parseConfig([], { KEEPALIVE_DEMO_METRICS: 'maybe' })).toThrow(/Invalid KEEPALIVE_DEMO_METRICS: "maybe"/);
    expect(() => parseConfig(['--metrics-port', '9464'], {})).toThrow(/Invalid --metrics-port: "9464" \(given without --metrics/);
    expect(() => parseConfig(['--metrics', '--metrics-port', '70000'], {})).toThrow(/Invalid --metrics-port: "70000"/);
  });

  it("sums the workers' readings per instrument and attribute set, as one meter sums every client instrumented on it", () => {
    const [sent, sessions, rtt] = fromWire(mergeReadings([worker(3, [0.0005, 0.002], 1), worker(4, [0.02], 0)]));
    expect(sent?.dataPoints.map((p) => p.value)).toEqual([7]);
    expect(sessions?.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ 'keepalive.session.state': 'busy' }, 1],
      [{ 'keepalive.session.state': 'idle' }, 1],
    ]);
    expect(rtt?.dataPoints[0]?.value).toEqual({ buckets: { boundaries: [0.001, 0.01], counts: [1, 1, 1] }, sum: 0.0225, count: 3, min: 0.0005, max: 0.02 });
    expect(formatSample([sent!, sessions!, rtt!])).toEqual([
      '  keepalive.client.keepalive.sent [{keepalive}] 7',
      '  keepalive.client.rtt [s] count=3 sum=0.0225 min=0.0005 max=0.02',
      '  keepalive.client.session.count [{session}] {keepalive.session.state=busy} 1; {keepalive.session.state=idle} 1',
    ]);
  });

  it('drops malformed readings from a child process instead of throwing', () => {
    expect(parseWire(worker(1, [0.001], 1))).toHaveLength(3);
    expect(parseWire('nope')).toBeNull();
    expect(parseWire([{ name: 'x', description: '', unit: '', valueType: 1, kind: 'counter', points: [{ attributes: {}, startTime: START, value: 'a lot' }] }])).toBeNull();
    expect(parseWire([{ name: 'x', description: '', unit: '', valueType: 1, kind: 'histogram', points: [{ attributes: {}, startTime: START, value: { boundaries: [1], counts: [1], sum: 1, count: 1, min: 1, max: 1 } }] }])).toBeNull();
  });

  it("serves the official exporter's text on 127.0.0.1 at a free port, this process's instruments beside the reported ones; 404 elsewhere", async () => {
    const metrics = await startMetrics({ port: 0, http: HTTP_LIMITS });
    try {
      expect(metrics.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      metrics.meterProvider.getMeter('demo-test').createCounter('demo.local').add(2);
      metrics.report('worker 1', worker(3, [0.0005], 1));
      metrics.report('worker 2', worker(4, [0.002], 0));
      metrics.report('worker 1', worker(5, [0.0005, 0.0007], 1)); // cumulative: replaces worker 1's earlier reading
      const body = await (await fetch(metrics.url)).text();
      expect(body).toMatch(/^demo_local_total\{otel_scope_name="demo-test"\} 2$/m);
      expect(body).toMatch(/^keepalive_client_keepalive_sent_total\{otel_scope_name="@keepalive\/opentelemetry"\} 9$/m);
      expect(body).toMatch(/^keepalive_client_rtt_count\{otel_scope_name="@keepalive\/opentelemetry"\} 3$/m);
      expect(body).toMatch(/^keepalive_client_rtt_bucket\{otel_scope_name="@keepalive\/opentelemetry",le="0.001"\} 2$/m);
      expect((await fetch(metrics.url.replace('/metrics', '/'))).status).toBe(404);
    } finally {
      await metrics.close();
    }
    // After the close: what it read at the close; the endpoint is gone.
    expect((await metrics.collect()).map((m) => m.descriptor.name)).toContain('keepalive.client.rtt');
    await expect(fetch(metrics.url)).rejects.toThrow();
  });
});
