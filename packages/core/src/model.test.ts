import { describe } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { SimDriver } from './__tests__/driver.js';

/**
 * Model-based test: the core, driven by a simulated clock, against a small
 * reference model written straight from the spec (S1–S9, B7), compared after
 * every command.
 */

interface ModelConfig {
  interval: number;
  idleDelay: number;
  send: boolean;
  permit: boolean;
}

class Model {
  counts = new Map<string, number>();
  attached = false;
  shutdown = false;
  heartbeat: number | null = null;
  idle: number | null = null;
  sends = 0;
  ticks = 0;
  idleNotices = 0;
  now = 0;
  constructor(readonly config: ModelConfig) {}

  get total(): number {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  private reconcile(): void {
    const want = this.attached && !this.shutdown && (this.total > 0 || this.config.permit);
    if (want && this.heartbeat === null) this.heartbeat = this.now + this.config.interval;
    if (!want) this.heartbeat = null;
  }

  start(reason: string): void {
    if (this.shutdown) return;
    if (this.total === 0) this.idle = null;
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.reconcile();
  }

  stop(reason: string): void {
    if (this.shutdown) return;
    const n = this.counts.get(reason) ?? 0;
    if (n === 0) return;
    if (n === 1) this.counts.delete(reason);
    else this.counts.set(reason, n - 1);
    if (this.total === 0 && this.heartbeat !== null && this.attached && this.idle === null) this.idle = this.now + this.config.idleDelay;
    this.reconcile();
  }

  attach(): void {
    if (this.shutdown) return;
    this.attached = true;
    this.reconcile();
  }

  detach(): void {
    if (this.shutdown) return;
    this.attached = false;
    this.idle = null;
    this.reconcile();
  }

  signal(): void {
    if (!this.shutdown && this.attached && this.config.send) this.sends++;
  }

  advance(to: number): void {
    for (;;) {
      const hb = this.heartbeat ?? Infinity;
      const idle = this.idle ?? Infinity;
      const next = Math.min(hb, idle);
      if (next > to) break;
      this.now = next;
      if (hb <= idle) {
        this.ticks++;
        if (this.config.send) this.sends++;
        this.heartbeat = hb + this.config.interval;
      } else {
        this.idleNotices++;
        this.idle = null;
      }
    }
    this.now = to;
  }

  doShutdown(): void {
    this.shutdown = true;
    this.attached = false;
    this.heartbeat = null;
    this.idle = null;
  }
}

interface Real {
  sim: SimDriver;
}

function compare(model: Model, real: Real): void {
  const s = real.sim.state;
  expect(s.counts).toEqual(Object.fromEntries(model.counts));
  expect(s.total).toBe(model.total);
  expect(s.attached).toBe(model.attached);
  expect(s.heartbeatAt).toBe(model.heartbeat);
  expect(s.idleAt).toBe(model.idle);
  expect(real.sim.sends).toBe(model.sends);
  expect(real.sim.named('heartbeat')).toHaveLength(model.ticks);
  expect(real.sim.named('idle')).toHaveLength(model.idleNotices);
  expect(s.shutdown).toBe(model.shutdown);
  expect(real.sim.violations).toEqual([]);
}

const reasons = fc.constantFrom('api_call', 'tool_exec', 'constructor');

class Start implements fc.Command<Model, Real> {
  constructor(readonly reason: string) {}
  check = () => true;
  run(m: Model, r: Real): void {
    m.start(this.reason);
    r.sim.send({ type: 'start', reason: this.reason });
    compare(m, r);
  }
  toString = () => `start(${this.reason})`;
}

class Stop implements fc.Command<Model, Real> {
  constructor(readonly reason: string) {}
  check = () => true;
  run(m: Model, r: Real): void {
    m.stop(this.reason);
    r.sim.send({ type: 'stop', reason: this.reason });
    compare(m, r);
  }
  toString = () => `stop(${this.reason})`;
}

class Simple implements fc.Command<Model, Real> {
  constructor(readonly kind: 'attach' | 'detach' | 'signal' | 'shutdown') {}
  check = () => true;
  run(m: Model, r: Real): void {
    if (this.kind === 'shutdown') m.doShutdown();
    else m[this.kind]();
    r.sim.send({ type: this.kind });
    compare(m, r);
  }
  toString = () => this.kind;
}

class Advance implements fc.Command<Model, Real> {
  constructor(readonly dt: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    m.advance(m.now + this.dt);
    r.sim.advance(r.sim.now + this.dt);
    compare(m, r);
  }
  toString = () => `advance(${this.dt})`;
}

const commands = [
  reasons.map((x) => new Start(x)),
  reasons.map((x) => new Stop(x)),
  fc.constantFrom('attach' as const, 'detach' as const, 'signal' as const).map((k) => new Simple(k)),
  fc.integer({ min: 0, max: 400 }).map((dt) => new Advance(dt)),
  fc.constant(new Simple('shutdown')),
];

describe('model-based: the core against a reference model', () => {
  test.prop([
    fc.record({
      interval: fc.integer({ min: 1, max: 200 }),
      idleDelay: fc.integer({ min: 1, max: 200 }),
      send: fc.boolean(),
      permit: fc.boolean(),
    }),
    fc.commands(commands, { maxCommands: 60 }),
  ])('S1–S9, B7: the core behaves like the reference model for every command sequence', (config, cmds) => {
    fc.modelRun(
      () => ({
        model: new Model(config),
        real: {
          sim: new SimDriver({
            heartbeatIntervalMs: config.interval,
            idleDelayMs: config.idleDelay,
            sendKeepalives: config.send,
            permitWithoutActivity: config.permit,
          }),
        },
      }),
      cmds,
    );
  });
});
