import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { action, kernelOptions, run } from './__tests__/connection-actions.js';
import { ConnectionSim } from './__tests__/connection-sim.js';
import {
  connectionDeadline,
  defineKernelConfig,
  idleReadLayer,
  lazyParkLayer,
  lifecycleLayer,
  slowDownLayer,
  unconfirmedLayer,
  type KernelConfig,
  type Layer,
} from './index.js';

/**
 * The kernel alone, and the kernel with each layer on its own (issue 25): every composition keeps the invariants the
 * default connection's properties check (B10: at most one socket, and one exactly in the phases that have one; nothing
 * armed while parked or closed; B14: every accepted message written, queued or handed back; B11: attempts within
 * `maxAttempts`; B6: every reconnect delay within [0, maxDelayMs]). 1,000 runs each by default; `test:deep` runs
 * 100,000. The resumable session's layer has its own properties (`resume.test.ts`, `delivery.test.ts`).
 */

/** Each composition: a name and the layers it runs on top of the kernel. */
const COMPOSITIONS: readonly (readonly [string, () => readonly Layer[]])[] = [
  ['kernel alone', () => []],
  ['kernel + lifecycle', () => [lifecycleLayer]],
  ['kernel + idle-read', () => [idleReadLayer(700)]],
  ['kernel + slow-down', () => [slowDownLayer(5_000)]],
  ['kernel + lazy-park', () => [lazyParkLayer]],
  ['kernel + unconfirmed', () => [unconfirmedLayer]],
];

function check(sim: ConnectionSim, config: KernelConfig): void {
  const state = sim.state;
  expect(sim.violations).toEqual([]);
  expect(sim.socket !== null).toBe(state.phase === 'connecting' || state.phase === 'open' || state.phase === 'closing');
  if (state.phase === 'parked' || state.phase === 'closed') expect(connectionDeadline(state)).toBeNull();
  if (state.phase === 'parked') expect([state.session.total, state.queuedMessages]).toEqual([0, 0]);
  expect(state.session.attached).toBe(state.phase === 'open');
  expect(sim.written.length + sim.queue.length + sim.drained.length).toBe(sim.accepted);
  expect(state.queuedMessages).toBe(sim.queue.length);
  expect(state.queuedMessages).toBeLessThanOrEqual(config.maxQueuedMessages);
  const { maxAttempts, maxDelayMs } = config.reconnect;
  for (const { attempt, delayMs } of sim.eventsOf('reconnecting')) {
    if (maxAttempts !== null) expect(attempt).toBeLessThanOrEqual(maxAttempts);
    expect(delayMs).toBeGreaterThanOrEqual(0);
    expect(delayMs).toBeLessThanOrEqual(maxDelayMs);
  }
}

describe('the kernel alone and with each layer', () => {
  for (const [name, layers] of COMPOSITIONS) {
    test.prop([kernelOptions, fc.array(action, { maxLength: 80 })])(
      `B10 B11 B14 B6 (${name}): one socket at a time, nothing armed while parked or closed, nothing accepted lost, attempts and delays bounded`,
      (options, actions) => {
        const config = defineKernelConfig(options, layers());
        const sim = new ConnectionSim(config);
        check(sim, config);
        for (const act of actions) {
          run(sim, act);
          check(sim, config);
        }
      },
    );
  }
});
