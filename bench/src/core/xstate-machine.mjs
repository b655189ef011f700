/**
 * The peer of scenario 1: the session-activity behaviour written as an
 * idiomatic XState v5 machine (setup + createMachine, states `idle` and
 * `busy`, guarded transitions, assign actions, named effect actions with
 * params). It is genuinely equivalent to @keepalive/core on the benchmark
 * stream (same counts by reason, heartbeat armed iff busy and attached, idle
 * notice, liveness with pong handling, the same diagnostics with the same
 * fields, in the same order): `equivalence()` in throughput-child.mjs replays
 * the stream through both and compares every effect.
 *
 * Like the core it is sans-I/O: timers are effects (`arm`/`cancel` with an
 * absolute deadline) and a fired timer comes back as a `timer` event, so
 * XState's pure `transition()` can run it. It keeps less state than the core
 * (no per-activity records or release tokens): any difference favours XState.
 */
import { assign, enqueueActions, setup } from 'xstate';
import { SESSION_OPTIONS } from './workload.mjs';

/** Effect action objects with static params are shared, as the core shares its frozen commands. */
const CANCEL_IDLE = { type: 'cancel', params: { timer: 'idle' } };
const CANCEL_HEARTBEAT = { type: 'cancel', params: { timer: 'heartbeat' } };
const CANCEL_LIVENESS = { type: 'cancel', params: { timer: 'liveness' } };
const DEAD_PEER_CLOSE = { type: 'close', params: { reason: 'dead_peer', code: 1006 } };

/** Canonical text of one XState executable action returned by `transition()` (see coreEffect). */
export function xstateEffect(action) {
  const params = action.params;
  switch (action.type) {
    case 'arm':
      return `arm ${params.timer} ${params.deadline}`;
    case 'cancel':
      return `cancel ${params.timer}`;
    case 'send':
      return 'send';
    case 'close':
      return `close ${params.reason} ${params.code}`;
    case 'diagnostic':
      return `${params.level} ${params.name} ${JSON.stringify(params.fields)}`;
    default:
      return null; // built-in actions (assign) are not effects
  }
}

/**
 * The machine. Effect implementations do nothing (the actor benchmark
 * measures the machine, not an I/O layer), exactly as the core's commands are
 * only appended to a buffer.
 */
export function createSessionMachine(options = SESSION_OPTIONS) {
  const interval = options.heartbeatIntervalMs;
  const idleDelay = options.idleDelayMs;
  const pongTimeout = options.pongTimeoutMs;
  const sendKeepalives = options.sendKeepalives;

  return setup({
    actions: {
      arm: (_, _params) => {},
      cancel: (_, _params) => {},
      send: () => {},
      close: (_, _params) => {},
      diagnostic: (_, _params) => {},
      startActivity: assign(({ context, event }) => ({
        now: event.now,
        total: context.total + 1,
        counts: { ...context.counts, [event.reason]: (context.counts[event.reason] ?? 0) + 1 },
        busySince: context.total === 0 ? event.now : context.busySince,
      })),
      stopActivity: assign(({ context, event }) => {
        const count = context.counts[event.reason] - 1;
        let counts;
        if (count > 0) counts = { ...context.counts, [event.reason]: count };
        else {
          const { [event.reason]: _gone, ...rest } = context.counts;
          counts = rest;
        }
        const total = context.total - 1;
        return { now: event.now, total, counts, busySince: total === 0 ? null : context.busySince };
      }),
      armHeartbeat: enqueueActions(({ event, enqueue }) => {
        const deadline = event.now + interval;
        enqueue.assign({ heartbeatAt: deadline });
        enqueue({ type: 'arm', params: { timer: 'heartbeat', deadline } });
      }),
      armIdle: enqueueActions(({ event, enqueue }) => {
        const deadline = event.now + idleDelay;
        enqueue.assign({ idleAt: deadline });
        enqueue({ type: 'arm', params: { timer: 'idle', deadline } });
      }),
      clearIdle: assign({ idleAt: null }),
      clearHeartbeat: assign({ heartbeatAt: null }),
      clearLiveness: assign(({ event }) => ({ livenessAt: null, now: event.now })),
      setAttached: assign(({ event }) => ({ attached: true, now: event.now })),
      unmatchedStop: enqueueActions(({ event, enqueue }) => {
        enqueue({ type: 'diagnostic', params: { level: 'warn', name: 'unmatched_stop', fields: { reason: event.reason } } });
      }),
      detach: enqueueActions(({ context, event, enqueue }) => {
        enqueue.assign({ attached: false, idleAt: null, livenessAt: null, heartbeatAt: null, now: event.now });
        if (context.idleAt !== null) enqueue(CANCEL_IDLE);
        if (context.livenessAt !== null) enqueue(CANCEL_LIVENESS);
        if (context.heartbeatAt !== null) enqueue(CANCEL_HEARTBEAT);
      }),
      fireHeartbeat: enqueueActions(({ context, event, enqueue }) => {
        const now = event.now;
        enqueue({ type: 'diagnostic', params: { level: 'debug', name: 'heartbeat', fields: { total: context.total } } });
        let livenessAt = context.livenessAt;
        let sent = context.keepalivesSent;
        if (sendKeepalives) {
          enqueue('send');
          sent += 1;
          if (pongTimeout !== null && livenessAt === null) {
            livenessAt = now + pongTimeout;
            enqueue({ type: 'arm', params: { timer: 'liveness', deadline: livenessAt } });
          }
        }
        const periods = Math.max(1, Math.floor((now - context.heartbeatAt) / interval) + 1);
        if (periods > 1) {
          enqueue({ type: 'diagnostic', params: { level: 'warn', name: 'heartbeat_late', fields: { missed: periods - 1 } } });
        }
        const heartbeatAt = context.heartbeatAt + periods * interval;
        enqueue.assign({ now, keepalivesSent: sent, livenessAt, heartbeatAt });
        enqueue({ type: 'arm', params: { timer: 'heartbeat', deadline: heartbeatAt } });
      }),
      fireIdle: enqueueActions(({ event, enqueue }) => {
        enqueue.assign({ idleAt: null, now: event.now });
        enqueue({ type: 'diagnostic', params: { level: 'info', name: 'idle', fields: { idle_ms: idleDelay } } });
      }),
      fireLiveness: enqueueActions(({ context, event, enqueue }) => {
        // B5: no proof of life in time: report, close as dead, detach (which stops the heartbeat and idle notice).
        enqueue({ type: 'diagnostic', params: { level: 'warn', name: 'dead_peer', fields: { timeout_ms: pongTimeout } } });
        enqueue(DEAD_PEER_CLOSE);
        enqueue.assign({ attached: false, livenessAt: null, idleAt: null, heartbeatAt: null, now: event.now });
        if (context.idleAt !== null) enqueue(CANCEL_IDLE);
        if (context.heartbeatAt !== null) enqueue(CANCEL_HEARTBEAT);
      }),
      staleTimer: enqueueActions(({ event, enqueue }) => {
        enqueue({ type: 'diagnostic', params: { level: 'warn', name: 'stale_timer', fields: { timer: event.timer } } });
      }),
    },
    guards: {
      attached: ({ context }) => context.attached,
      detached: ({ context }) => !context.attached,
      idleArmed: ({ context }) => context.idleAt !== null,
      awaitingPong: ({ context }) => context.livenessAt !== null,
      attachedAwaitingPong: ({ context }) => context.attached && context.livenessAt !== null,
      unmatched: ({ context, event }) => (context.counts[event.reason] ?? 0) === 0,
      lastWithHeartbeat: ({ context }) => context.total === 1 && context.heartbeatAt !== null,
      last: ({ context }) => context.total === 1,
      heartbeatDue: ({ context, event }) => event.timer === 'heartbeat' && context.heartbeatAt !== null,
      idleDue: ({ context, event }) => event.timer === 'idle' && context.idleAt !== null,
      livenessDue: ({ context, event }) => event.timer === 'liveness' && context.livenessAt !== null,
    },
  }).createMachine({
    id: 'session',
    context: {
      now: 0,
      total: 0,
      counts: {},
      busySince: null,
      attached: false,
      heartbeatAt: null,
      idleAt: null,
      livenessAt: null,
      keepalivesSent: 0,
    },
    initial: 'idle',
    states: {
      idle: {
        on: {
          start: [
            { guard: 'idleArmed', target: 'busy', actions: ['startActivity', 'clearIdle', CANCEL_IDLE, 'armHeartbeat'] },
            { guard: 'attached', target: 'busy', actions: ['startActivity', 'armHeartbeat'] },
            { target: 'busy', actions: 'startActivity' },
          ],
          stop: { actions: 'unmatchedStop' },
          attach: [
            { guard: 'attachedAwaitingPong', actions: ['clearLiveness', CANCEL_LIVENESS] },
            { guard: 'detached', actions: 'setAttached' },
          ],
        },
      },
      busy: {
        on: {
          start: { actions: 'startActivity' },
          stop: [
            { guard: 'unmatched', actions: 'unmatchedStop' },
            { guard: 'lastWithHeartbeat', target: 'idle', actions: ['stopActivity', 'armIdle', 'clearHeartbeat', CANCEL_HEARTBEAT] },
            { guard: 'last', target: 'idle', actions: 'stopActivity' },
            { actions: 'stopActivity' },
          ],
          attach: [
            { guard: 'attachedAwaitingPong', actions: ['clearLiveness', CANCEL_LIVENESS] },
            { guard: 'detached', actions: ['setAttached', 'armHeartbeat'] },
          ],
        },
      },
    },
    on: {
      detach: { guard: 'attached', actions: 'detach' },
      alive: { guard: 'awaitingPong', actions: ['clearLiveness', CANCEL_LIVENESS] },
      timer: [
        { guard: 'livenessDue', actions: 'fireLiveness' },
        { guard: 'heartbeatDue', actions: 'fireHeartbeat' },
        { guard: 'idleDue', actions: 'fireIdle' },
        { actions: 'staleTimer' },
      ],
    },
  });
}
