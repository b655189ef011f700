/**
 * Scenario 1's workload, shared by every runtime (no Node API here): the
 * session options, a seeded, realistic event stream, and a canonical form of
 * the effects each machine asks for, used to prove the XState machine is
 * equivalent to the core on that stream.
 */
import { createSessionState, defineSessionConfig, step } from '@keepalive/core';
import { mulberry32 } from '../lib/prng.mjs';

/** The reference intervals (30 s heartbeat, 30 s idle notice) with liveness on (10 s pong timeout). */
export const SESSION_OPTIONS = Object.freeze({
  heartbeatIntervalMs: 30_000,
  idleDelayMs: 30_000,
  pongTimeoutMs: 10_000,
  sendKeepalives: true,
});

const REASONS = ['api_call', 'tool_exec'];

/**
 * A realistic event stream of one agent session, as an adapter would deliver
 * it: activities start and stop (model calls and tool runs, a few seconds
 * apart, sometimes overlapping), the heartbeat, idle and liveness timers fire
 * at their deadlines (`timer` events naming the timer, as a driver with one
 * OS timer per named timer delivers them), pongs answer keep-alives tens of
 * milliseconds later (3 % are lost, so the liveness timer fires and the
 * transport reconnects: detach, then attach), and now and then a stray pong,
 * a redundant attach or an unmatched stop arrives (events that change
 * nothing). The stream is made by driving the core itself, so every timer
 * event comes at the deadline the machine armed; both machines then replay
 * the same event objects.
 *
 * @param {number} length events in the stream
 * @param {number} seed
 */
export function makeStream(length, seed = 20_251_123) {
  const rand = mulberry32(seed);
  const config = defineSessionConfig(SESSION_OPTIONS);
  let state = createSessionState(config, 0);
  const out = [];
  const events = [];
  let t = 0;
  let pongAt = null;
  let reattachAt = null;
  const push = (event) => {
    state = step(state, event, out);
    for (const command of out) {
      if (command.type === 'send') {
        pongAt = rand() < 0.97 ? event.now + 20 + Math.floor(rand() * 60) : null;
      } else if (command.type === 'close') {
        pongAt = null;
        reattachAt = event.now + 500 + Math.floor(rand() * 1500);
      }
    }
    out.length = 0;
    events.push(event);
    t = event.now;
  };
  push({ type: 'attach', now: 0 });
  while (events.length < length) {
    const external = t + 200 + Math.floor(-Math.log(1 - rand()) * 6_000);
    const timer = nextTimer(state);
    const candidates = [
      pongAt === null ? Infinity : pongAt,
      reattachAt === null ? Infinity : reattachAt,
      timer === null ? Infinity : timer.at,
      external,
    ];
    const soonest = Math.min(...candidates);
    if (soonest === candidates[0]) {
      pongAt = null;
      push({ type: 'alive', now: soonest });
    } else if (soonest === candidates[1]) {
      reattachAt = null;
      push({ type: 'attach', now: soonest });
    } else if (soonest === candidates[2]) {
      push({ type: 'timer', timer: timer.name, now: soonest });
    } else {
      push(externalEvent(state, rand, soonest, reattachAt !== null));
    }
  }
  return events;
}

function nextTimer(state) {
  let best = null;
  for (const [name, at] of [
    ['liveness', state.livenessAt],
    ['heartbeat', state.heartbeatAt],
    ['idle', state.idleAt],
  ]) {
    if (at !== null && (best === null || at < best.at)) best = { name, at };
  }
  return best;
}

function externalEvent(state, rand, now, reconnecting) {
  const r = rand();
  if (r < 0.03) return { type: 'alive', now }; // a stray pong (nothing owed): changes nothing
  if (r < 0.05) return { type: 'attach', now }; // a redundant attach of the same sender
  if (r < 0.06) return { type: 'stop', reason: 'tool_exec', now }; // possibly unmatched
  if (r < 0.08 && !reconnecting && state.attached) return { type: 'detach', now }; // a transport closed by the peer
  if (!state.attached && !reconnecting) return { type: 'attach', now };
  const busy = state.total;
  const startWeight = busy === 0 ? 0.9 : busy === 1 ? 0.5 : busy === 2 ? 0.3 : 0.1;
  if (rand() < startWeight) return { type: 'start', reason: REASONS[rand() < 0.6 ? 0 : 1], now };
  const reasons = Object.keys(state.counts);
  return { type: 'stop', reason: reasons.length === 0 ? REASONS[0] : reasons[Math.floor(rand() * reasons.length)], now };
}

/** Share of each event type (and of the events that change nothing) in a stream. */
export function streamMix(events) {
  const counts = {};
  for (const event of events) {
    const key = event.type === 'timer' ? `timer:${event.timer}` : event.type;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Canonical text of one core command. */
export function coreEffect(command) {
  switch (command.type) {
    case 'arm':
      return `arm ${command.timer} ${command.deadline}`;
    case 'cancel':
      return `cancel ${command.timer}`;
    case 'send':
      return 'send';
    case 'close':
      return `close ${command.reason} ${command.code}`;
    case 'diagnostic':
      return `${command.level} ${command.name} ${JSON.stringify(command.fields)}`;
    default:
      return `? ${command.type}`;
  }
}
