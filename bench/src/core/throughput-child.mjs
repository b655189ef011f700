/**
 * One sample of scenario 1 (and 7), in a fresh process on Node, Bun or Deno.
 * Prints one JSON line.
 *
 *   throughput <impl> <events> <minCpuMs>   impl: core-step | core-in-place | core-transition | xstate-actor | xstate-transition
 *   paired <events> <minCpuMs>              core-step, xstate-actor, core-step again in this one process (its own ratio)
 *   alloc <impl> <events>                   heap bytes per no-op event (Node with --expose-gc)
 *   equivalence <events>                    replays the stream through both machines and compares every effect
 */
import { clearCommands, createSessionState, defineSessionConfig, step, stepInPlace, transition } from '@keepalive/core';
import { measure } from 'mitata';
import { createActor, initialTransition, transition as xstateTransition } from 'xstate';
import { SESSION_OPTIONS, coreEffect, makeStream, streamMix } from './workload.mjs';
import { createSessionMachine, xstateEffect } from './xstate-machine.mjs';

const [mode = 'throughput', ...rest] = process.argv.slice(2);

function runtime() {
  if (typeof globalThis.Bun !== 'undefined') return { name: 'bun', version: globalThis.Bun.version };
  if (typeof globalThis.Deno !== 'undefined') return { name: 'deno', version: globalThis.Deno.version.deno };
  return { name: 'node', version: process.versions.node };
}

const config = defineSessionConfig(SESSION_OPTIONS);
const machine = createSessionMachine(SESSION_OPTIONS);

/** One replay of the whole stream from a fresh session; returns something derived from the end state. */
function replayer(impl, events) {
  switch (impl) {
    case 'core-step': {
      const out = [];
      return () => {
        let state = createSessionState(config, 0);
        let effects = 0;
        for (let i = 0; i < events.length; i++) {
          state = step(state, events[i], out);
          effects += out.length;
          clearCommands(out);
        }
        return effects + state.total;
      };
    }
    case 'core-in-place': {
      const out = [];
      return () => {
        const state = { ...createSessionState(config, 0) };
        let effects = 0;
        for (let i = 0; i < events.length; i++) {
          stepInPlace(state, events[i], out);
          effects += out.length;
          clearCommands(out);
        }
        return effects + state.total;
      };
    }
    case 'core-transition':
      return () => {
        let state = createSessionState(config, 0);
        let effects = 0;
        for (let i = 0; i < events.length; i++) {
          const [next, commands] = transition(state, events[i]);
          state = next;
          effects += commands.length;
        }
        return effects + state.total;
      };
    case 'xstate-actor':
      return () => {
        const actor = createActor(machine).start();
        for (let i = 0; i < events.length; i++) actor.send(events[i]);
        const total = actor.getSnapshot().context.total;
        actor.stop();
        return total;
      };
    case 'xstate-transition': {
      const [initial] = initialTransition(machine);
      return () => {
        let snapshot = initial;
        let effects = 0;
        for (let i = 0; i < events.length; i++) {
          const [next, actions] = xstateTransition(machine, snapshot, events[i]);
          snapshot = next;
          effects += actions.length;
        }
        return effects + snapshot.context.total;
      };
    }
    default:
      throw new Error(`unknown impl ${impl}`);
  }
}

async function throughput(impl, length, minCpuMs) {
  const events = makeStream(length);
  const replay = replayer(impl, events);
  let sink = 0;
  // Warm up outside the measurement so every implementation is measured optimised.
  const warmEnd = performance.now() + Math.min(300, minCpuMs / 2);
  while (performance.now() < warmEnd) sink ^= replay();
  const stats = await measure(
    () => {
      sink ^= replay();
    },
    { min_cpu_time: minCpuMs * 1e6, min_samples: 8, max_samples: 100_000, warmup_samples: 2 },
  );
  return {
    mode: 'throughput',
    impl,
    runtime: runtime(),
    events: length,
    replays: stats.samples.length,
    nsPerEvent: { p50: stats.p50 / length, p99: stats.p99 / length, avg: stats.avg / length, min: stats.min / length },
    eventsPerSecond: 1e9 / (stats.p50 / length),
    sink,
  };
}

/** Times `replay` with mitata for at least `minCpuMs`; ns per replay (p50). */
async function timeReplays(replay, minCpuMs) {
  let sink = 0;
  const warmEnd = performance.now() + Math.min(300, minCpuMs / 2);
  while (performance.now() < warmEnd) sink ^= replay();
  const stats = await measure(
    () => {
      sink ^= replay();
    },
    { min_cpu_time: minCpuMs * 1e6, min_samples: 8, max_samples: 100_000, warmup_samples: 2 },
  );
  return { p50: stats.p50, samples: stats.samples.length, sink };
}

/**
 * Target 1a in one process: `step`, then XState's `actor.send`, then `step` again on the same stream, so that the
 * process gives its own ratio (the faster of its two `step` figures: the second shows whether the first was still
 * warming up or the process settled on slower code).
 */
async function paired(length, minCpuMs) {
  const events = makeStream(length);
  const first = await timeReplays(replayer('core-step', events), minCpuMs);
  const actor = await timeReplays(replayer('xstate-actor', events), minCpuMs);
  const second = await timeReplays(replayer('core-step', events), minCpuMs);
  const stepNs = Math.min(first.p50, second.p50) / length;
  const actorNs = actor.p50 / length;
  return {
    mode: 'paired',
    runtime: runtime(),
    events: length,
    stepNs,
    stepFirstNs: first.p50 / length,
    stepSecondNs: second.p50 / length,
    actorNs,
    ratio: actorNs / stepNs,
    sink: first.sink ^ actor.sink ^ second.sink,
  };
}

/** Heap allocated per event that changes nothing (no gc in between; young generation made large enough). */
function alloc(impl, count) {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('alloc needs --expose-gc');
  const out = [];
  // Two sessions at rest and the events that change nothing for them.
  let busy = createSessionState(config, 0);
  busy = step(busy, { type: 'attach', now: 0 }, out);
  busy = step(busy, { type: 'start', reason: 'api_call', now: 1 }, out);
  out.length = 0;
  const detached = createSessionState(config, 0);
  const onBusy = [
    { type: 'alive', now: 5 },
    { type: 'attach', now: 5 },
  ];
  const onDetached = [
    { type: 'detach', now: 5 },
    { type: 'alive', now: 5 },
  ];
  let run;
  if (impl === 'core-step') {
    run = (n) => {
      let a = busy;
      let b = detached;
      for (let i = 0; i < n; i++) {
        a = step(a, onBusy[i & 1], out);
        b = step(b, onDetached[i & 1], out);
      }
      if (a !== busy || b !== detached || out.length !== 0) throw new Error('a no-op event changed the state');
      return 2 * n;
    };
  } else if (impl === 'xstate-actor') {
    const busyActor = createActor(machine).start();
    busyActor.send({ type: 'attach', now: 0 });
    busyActor.send({ type: 'start', reason: 'api_call', now: 1 });
    const detachedActor = createActor(machine).start();
    run = (n) => {
      for (let i = 0; i < n; i++) {
        busyActor.send(onBusy[i & 1]);
        detachedActor.send(onDetached[i & 1]);
      }
      return 2 * n;
    };
  } else {
    throw new Error(`alloc: unknown impl ${impl}`);
  }
  run(count); // warm up (compiles the loop)
  run(count);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const events = run(count);
  const after = process.memoryUsage().heapUsed;
  return { mode: 'alloc', impl, runtime: runtime(), events, bytesPerEvent: Math.max(0, after - before) / events, heapDelta: after - before };
}

/** Replays the stream through the core and through XState's transition() and compares states and effects. */
function equivalence(length) {
  const events = makeStream(length);
  const out = [];
  let state = createSessionState(config, 0);
  let [snapshot] = initialTransition(machine);
  let mismatches = 0;
  let first = null;
  let effects = 0;
  let unchanged = 0;
  for (let i = 0; i < events.length; i++) {
    const before = state;
    state = step(state, events[i], out);
    if (state === before && out.length === 0) unchanged++;
    const ours = out.map(coreEffect);
    out.length = 0;
    const [next, actions] = xstateTransition(machine, snapshot, events[i]);
    snapshot = next;
    const theirs = actions.map(xstateEffect).filter((text) => text !== null);
    const context = snapshot.context;
    const same =
      JSON.stringify(ours) === JSON.stringify(theirs) &&
      state.total === context.total &&
      JSON.stringify(state.counts) === JSON.stringify(context.counts) &&
      state.attached === context.attached &&
      state.heartbeatAt === context.heartbeatAt &&
      state.idleAt === context.idleAt &&
      state.livenessAt === context.livenessAt &&
      state.keepalivesSent === context.keepalivesSent &&
      state.busySince === context.busySince;
    effects += ours.length;
    if (!same) {
      mismatches++;
      first ??= { index: i, event: events[i], ours, theirs };
    }
  }
  return { mode: 'equivalence', runtime: runtime(), events: length, effects, unchanged, mismatches, first, mix: streamMix(events) };
}

let result;
if (mode === 'throughput') result = await throughput(rest[0], Number(rest[1] ?? 10_000), Number(rest[2] ?? 1_000));
else if (mode === 'paired') result = await paired(Number(rest[0] ?? 10_000), Number(rest[1] ?? 1_000));
else if (mode === 'alloc') result = alloc(rest[0], Number(rest[1] ?? 10_000));
else if (mode === 'equivalence') result = equivalence(Number(rest[0] ?? 10_000));
else throw new Error(`unknown mode ${mode}`);
console.log(JSON.stringify(result));
