import { fc } from '@fast-check/vitest';
import type { ConnectionOptions, InboundFrame, KernelOptions } from '../index.js';
import type { ConnectionSim } from './connection-sim.js';

/**
 * Random actions on a simulated client connection (socket opens, closes with random codes, frames, time passing,
 * sends, work, close requests, network and visibility changes), shared by the connection's properties and the
 * per-layer properties.
 */

/** One random action. */
export type Action =
  | { k: 'open'; canPing: boolean }
  | { k: 'closeSocket'; code: number; reason: string; random: number | undefined }
  | { k: 'inbound'; frame: InboundFrame }
  | { k: 'advance'; dt: number; random: number | undefined }
  | { k: 'send'; bytes: number }
  | { k: 'start'; reason: string }
  | { k: 'stop'; reason: string }
  | { k: 'signal' }
  | { k: 'close'; aborted: boolean }
  | { k: 'stall'; dt: number }
  | { k: 'network'; online: boolean }
  | { k: 'visible' }
  | { k: 'retryAfter'; delayMs: number | null };

const closes = fc.constantFrom<[number, string]>(
  [1000, ''],
  [1001, 'restart'],
  [1006, ''],
  [1008, 'ping_flood'],
  [1008, 'policy'],
  [1011, ''],
  [4000, 'idle'],
  [4401, 'unauthorized'],
  [3000, ''],
);
const random = fc.option(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { nil: undefined });
const reason = fc.constantFrom('api_call', 'tool_exec');

/** The generator of {@link Action}s, weighted toward time passing and sends. */
export const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.boolean().map((canPing) => ({ k: 'open' as const, canPing })) },
  { weight: 3, arbitrary: fc.tuple(closes, random).map(([[code, why], r]) => ({ k: 'closeSocket' as const, code, reason: why, random: r })) },
  { weight: 3, arbitrary: fc.constantFrom<InboundFrame>('data', 'pong', 'ping', 'heartbeat').map((frame) => ({ k: 'inbound' as const, frame })) },
  { weight: 8, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3_000 }), random).map(([dt, r]) => ({ k: 'advance' as const, dt, random: r })) },
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 40 }).map((bytes) => ({ k: 'send' as const, bytes })) },
  { weight: 3, arbitrary: reason.map((r) => ({ k: 'start' as const, reason: r })) },
  { weight: 3, arbitrary: reason.map((r) => ({ k: 'stop' as const, reason: r })) },
  { weight: 1, arbitrary: fc.constant({ k: 'signal' as const }) },
  { weight: 1, arbitrary: fc.boolean().map((aborted) => ({ k: 'close' as const, aborted })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5_000 }).map((dt) => ({ k: 'stall' as const, dt })) },
  { weight: 1, arbitrary: fc.boolean().map((online) => ({ k: 'network' as const, online })) },
  { weight: 1, arbitrary: fc.constant({ k: 'visible' as const }) },
  { weight: 1, arbitrary: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: null }).map((delayMs) => ({ k: 'retryAfter' as const, delayMs })) },
);

/** Applies one action to the simulation. */
export function run(sim: ConnectionSim, act: Action): void {
  switch (act.k) {
    case 'open':
      if (sim.socket !== null && !sim.socket.open && !sim.socket.closing) sim.open(act.canPing);
      break;
    case 'closeSocket':
      sim.closeSocket(act.code, act.reason, act.random);
      break;
    case 'inbound':
      sim.inbound(act.frame);
      break;
    case 'advance':
      sim.advance(act.dt, act.random);
      break;
    case 'send':
      sim.send(act.bytes);
      break;
    case 'start':
    case 'stop':
      sim.apply({ type: act.k, reason: act.reason });
      break;
    case 'signal':
      sim.apply({ type: 'signal' });
      break;
    case 'close':
      sim.apply({ type: 'close', code: 1000, reason: '', cause: act.aborted ? 'aborted' : 'closed' });
      break;
    case 'stall':
      sim.stall(act.dt);
      break;
    case 'network':
      sim.apply({ type: 'network', online: act.online });
      break;
    case 'visible':
      sim.apply({ type: 'visibility', visible: true });
      break;
    case 'retryAfter':
      sim.apply({ type: 'retry_after', delayMs: act.delayMs });
      break;
  }
}


/** The kernel's options over the ranges the connection properties explore (small bounds, so limits are reached). */
export const kernelOptions: fc.Arbitrary<KernelOptions> = fc.record({
  heartbeatIntervalMs: fc.integer({ min: 50, max: 1_000 }),
  pongTimeoutMs: fc.option(fc.integer({ min: 10, max: 800 }), { nil: null }),
  connectTimeoutMs: fc.integer({ min: 10, max: 2_000 }),
  closeTimeoutMs: fc.integer({ min: 10, max: 1_000 }),
  maxQueuedMessages: fc.integer({ min: 0, max: 6 }),
  maxQueuedBytes: fc.integer({ min: 0, max: 100 }),
  permitWithoutActivity: fc.boolean(),
  lateTimerMs: fc.integer({ min: 1, max: 2_000 }),
  reconnect: fc.record({
    initialDelayMs: fc.integer({ min: 1, max: 200 }),
    maxDelayMs: fc.integer({ min: 200, max: 2_000 }),
    maxAttempts: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
    resetAfterMs: fc.integer({ min: 1, max: 5_000 }),
  }),
});

/** The default connection's options: the kernel's, the idle read timeout on or off, and eager or lazy reconnects. */
export const connectionOptions: fc.Arbitrary<ConnectionOptions> = fc
  .tuple(kernelOptions, fc.option(fc.integer({ min: 10, max: 3_000 }), { nil: null }), fc.constantFrom('eager' as const, 'lazy' as const))
  .map(([kernel, idleReadTimeoutMs, whenIdle]) => ({ ...kernel, idleReadTimeoutMs, reconnect: { ...kernel.reconnect, whenIdle } }));
