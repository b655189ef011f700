/**
 * One sample of scenario 2 (Node, --expose-gc): retained heap per idle
 * session. Creates `count` sessions, each attached (a connected session at
 * rest: the common case on a server) and idle, holds them in an array, and
 * reports (heap after − heap before) / count, after full collections. The
 * array slot holding each session (8 bytes) is included for every kind.
 *
 *   memory-child.mjs <kind> <count>   kind: core | xstate-actor | xstate-snapshot
 */
import { createSessionState, defineSessionConfig, step } from '@keepalive/core';
import { createActor, initialTransition, transition } from 'xstate';
import { SESSION_OPTIONS } from './workload.mjs';
import { createSessionMachine } from './xstate-machine.mjs';

const [kind = 'core', countArg = '100000'] = process.argv.slice(2);
const count = Number(countArg);
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('memory-child needs --expose-gc');

function settle() {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

const config = defineSessionConfig(SESSION_OPTIONS);
const machine = createSessionMachine(SESSION_OPTIONS);
const out = [];
// Times as a monotonic clock gives them (fractional milliseconds), not small integers.
const base = performance.now() + 0.123;

function makeOne(i) {
  const now = base + i * 0.731;
  switch (kind) {
    case 'core': {
      const state = step(createSessionState(config, now), { type: 'attach', now }, out);
      out.length = 0;
      return state;
    }
    case 'xstate-actor': {
      const actor = createActor(machine).start();
      actor.send({ type: 'attach', now });
      return actor;
    }
    case 'xstate-snapshot': {
      const [initial] = initialTransition(machine);
      return transition(machine, initial, { type: 'attach', now })[0];
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

// Warm up the code paths (and let one-time allocations happen) before the baseline.
const warm = [];
for (let i = 0; i < 1_000; i++) warm.push(makeOne(i));
warm.length = 0;
const before = settle();
const sessions = new Array(count);
for (let i = 0; i < count; i++) sessions[i] = makeOne(i);
const after = settle();
const bytesPerSession = (after - before) / count;
console.log(
  JSON.stringify({
    kind,
    count,
    bytesPerSession,
    heapBefore: before,
    heapAfter: after,
    held: sessions.length,
  }),
);
