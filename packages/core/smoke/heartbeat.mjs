// Smoke test for the published @keepalive/core (see CONTRIBUTING.md, "Smoke tests"): drives a short heartbeat
// session with the runtime's real timers and monotonic clock through one OS timer, the way an adapter would.
import { SESSION_DIAGNOSTICS, createSessionState, pollTimeout, transition } from '@keepalive/core';

const HEARTBEAT_MS = 25;
const IDLE_MS = 50;
const BUSY_MS = HEARTBEAT_MS * 6 + 10;
const origin = performance.now();
const now = () => performance.now() - origin;

let state = createSessionState({ heartbeatIntervalMs: HEARTBEAT_MS, idleDelayMs: IDLE_MS }, 0);
let timer;
let sends = 0;
const diagnostics = [];

function dispatch(event) {
  let commands;
  [state, commands] = transition(state, { ...event, now: now() });
  for (const command of commands) {
    if (command.type === 'send') sends += 1;
    else if (command.type === 'diagnostic') diagnostics.push(command.name);
    else if (command.type === 'close') throw new Error(`unexpected close: ${command.reason}`);
  }
  // One OS timer per session: always aimed at the earliest deadline.
  clearTimeout(timer);
  const deadline = pollTimeout(state);
  if (deadline !== null) timer = setTimeout(() => dispatch({ type: 'timeout' }), Math.max(0, deadline - now()));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

dispatch({ type: 'attach' });
dispatch({ type: 'start', reason: 'smoke' });
await sleep(BUSY_MS);
const busySends = sends;
dispatch({ type: 'stop', reason: 'smoke' });
await sleep(IDLE_MS * 2);
dispatch({ type: 'shutdown' });

// A loaded machine may coalesce late ticks (heartbeat_late), so ask for two keep-alives, not six.
if (busySends < 2) throw new Error(`expected keep-alives every ${HEARTBEAT_MS} ms for ${BUSY_MS} ms, got ${busySends}`);
if (sends !== busySends) throw new Error(`keep-alives were sent while idle (${sends - busySends})`);
if (!diagnostics.includes(SESSION_DIAGNOSTICS.idle)) throw new Error(`no idle notice; diagnostics: ${diagnostics.join(', ')}`);
if (diagnostics.at(-1) !== SESSION_DIAGNOSTICS.activityAtShutdown) throw new Error('no shutdown report');
if (pollTimeout(state) !== null) throw new Error('a timer is still armed after shutdown');
