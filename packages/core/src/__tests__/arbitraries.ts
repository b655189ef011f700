import { fc } from '@fast-check/vitest';
import type { SessionOptions } from '../index.js';

/** Session options over the ranges the session properties explore: every gate, liveness on or off, stuck on or off. */
export const sessionOptions: fc.Arbitrary<SessionOptions> = fc.record({
  heartbeatIntervalMs: fc.integer({ min: 1, max: 1_000 }),
  idleDelayMs: fc.integer({ min: 1, max: 1_000 }),
  sendKeepalives: fc.boolean(),
  permitWithoutActivity: fc.boolean(),
  pongTimeoutMs: fc.option(fc.integer({ min: 1, max: 1_500 }), { nil: null }),
  stuckActivityMs: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: null }),
});
