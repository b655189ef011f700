import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { sessionOptions } from './__tests__/arbitraries.js';
import {
  connectionDeadline,
  connectionStep,
  openConnection,
  resumable,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionPhase,
  type ConnectionState,
  type InboundFrame,
} from './index.js';

/**
 * The client connection's phase table (B10) as data: for every phase and every event type, the phases the machine
 * may be in after the event. Written from reading `connection.ts` (not from its module doc, whose table misses some
 * rows: see {@link NOT_IN_MODULE_DOC}). A property drives random event sequences (stale, invalid and out-of-order
 * ones included) through the machine and fails on any transition the table does not list; a deterministic
 * exploration shows every listed transition really happens, so the table is exact. It pins the phase behaviour for
 * the kernel-and-layers refactor (issue 25).
 */

type EventType = ConnectionEvent['type'];
type PhaseTable = Readonly<Record<ConnectionPhase, Readonly<Record<EventType, readonly ConnectionPhase[]>>>>;

/** Every event leaves the phase as it is. */
function staying(phase: ConnectionPhase): Record<EventType, readonly ConnectionPhase[]> {
  const same = [phase];
  return {
    socket_opened: same,
    socket_closed: same,
    inbound: same,
    hello: same,
    retry_after: same,
    timeout: same,
    send: same,
    dequeued: same,
    network: same,
    visibility: same,
    start: same,
    stop: same,
    release: same,
    signal: same,
    close: same,
    restart: same,
  };
}

const PHASE_TABLE: PhaseTable = {
  connecting: {
    ...staying('connecting'),
    // Opened: the session attaches.
    socket_opened: ['open'],
    // A failed attempt: backoff; lazy and idle: parked; a terminal code or maxAttempts exhausted: closed.
    socket_closed: ['backoff', 'parked', 'closed'],
    // Not due: connecting. The connect timeout: as a failed attempt; the next attempt starts on a later event, even when
    // its backoff delay is 0 (one phase transition per event).
    timeout: ['connecting', 'backoff', 'parked', 'closed'],
    // A close request (immediate or not) destroys (or abandons) the socket: closed at once.
    close: ['closed'],
  },
  open: {
    ...staying('open'),
    // Lost: backoff; lazy and idle: parked; a terminal code: closed.
    socket_closed: ['backoff', 'parked', 'closed'],
    // A dead peer (pong timeout, idle read timeout), no hello or no verdict in time: lost as above; else open.
    timeout: ['open', 'backoff', 'parked', 'closed'],
    // The close handshake: closing; immediate: closed.
    close: ['closing', 'closed'],
  },
  backoff: {
    ...staying('backoff'),
    // The delay over (and online): the next attempt, or parked when lazy and idle by then.
    timeout: ['backoff', 'connecting', 'parked'],
    // Back online: the attempt starts at once (or parked when lazy and idle); offline: stays.
    network: ['backoff', 'connecting', 'parked'],
    close: ['closed'],
  },
  parked: {
    ...staying('parked'),
    // A message to send unparks (a refused one does not).
    send: ['parked', 'connecting'],
    // Work starting unparks (an invalid start does not).
    start: ['parked', 'connecting'],
    close: ['closed'],
  },
  closing: {
    ...staying('closing'),
    // The handshake completed (whatever the code).
    socket_closed: ['closed'],
    // The close timeout: the socket destroyed.
    timeout: ['closing', 'closed'],
    // A second close request: ignored, unless immediate.
    close: ['closing', 'closed'],
  },
  closed: {
    ...staying('closed'),
    // Rejected or exhausted: a restart connects again; after a close that was asked for it changes nothing.
    restart: ['closed', 'connecting'],
  },
};

/**
 * Transitions the module doc's phase table did not list before the kernel (issue 25), each `[from, event, to, why]`.
 * The exploration below shows each one happens, and the kernel's module doc (`kernel.ts`) now lists them.
 */
const NOT_IN_MODULE_DOC: readonly (readonly [ConnectionPhase, EventType, ConnectionPhase, string])[] = [
  ['connecting', 'close', 'closed', 'a close request while connecting destroys (or abandons) the socket'],
  ['open', 'close', 'closed', 'an immediate close skips the closing phase'],
  ['backoff', 'network', 'connecting', 'back online: the reconnect starts at once, not when the delay is over'],
  ['backoff', 'network', 'parked', 'back online, lazy and idle by then'],
  ['backoff', 'close', 'closed', 'a close request while waiting to reconnect'],
  ['parked', 'close', 'closed', 'a close request while parked'],
  ['closing', 'close', 'closed', 'an immediate close during the close handshake'],
];

const PHASES = Object.keys(PHASE_TABLE) as ConnectionPhase[];
const EVENT_TYPES = Object.keys(PHASE_TABLE.connecting) as EventType[];

const key = (from: ConnectionPhase, type: EventType, to: ConnectionPhase): string => `${from} --${type}--> ${to}`;

/** Throws unless `table` lists `before --event.type--> after`. */
function checkTransition(table: PhaseTable, before: ConnectionPhase, event: ConnectionEvent, after: ConnectionPhase): void {
  const allowed = table[before][event.type];
  if (!allowed.includes(after)) {
    throw new Error(
      `transition missing from the phase table: ${key(before, event.type, after)} (the table allows ${before} --${event.type}--> ${allowed.join(' | ')}); event ${JSON.stringify(event)}`,
    );
  }
}

/** Steps `state` by `event`, checks the transition against the table, and returns the next state. */
function checkedStep(table: PhaseTable, state: ConnectionState, event: ConnectionEvent, seen?: Set<string>): ConnectionState {
  const out: ConnectionCommand[] = [];
  const next = connectionStep(state, event, out);
  seen?.add(key(state.phase, event.type, next.phase));
  checkTransition(table, state.phase, event, next.phase);
  return next;
}

// ---------------------------------------------------------------------------
// Random event sequences.

type EventInput = ConnectionEvent extends infer E ? (E extends unknown ? Omit<E, 'now'> : never) : never;

type Action =
  /** A raw event at the clock plus `dt` (negative: a clock going backwards, which the machine clamps). */
  | { readonly k: 'event'; readonly dt: number; readonly event: EventInput }
  /** A timeout at the machine's deadline plus `late` (or at the clock plus `late` when nothing is armed). */
  | { readonly k: 'due'; readonly late: number; readonly random: number | undefined }
  /** The driver's report after a flush: every queued message written. */
  | { readonly k: 'dequeue'; readonly dt: number };

const random = fc.option(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { nil: undefined });
const reason = fc.constantFrom('api_call', 'tool_exec', '');
const closes = fc.constantFrom<[number, string]>(
  [1000, ''],
  [1001, 'restart'],
  [1006, ''],
  [1008, 'ping_flood'],
  [1008, 'ping_flood min_interval_ms=2000'],
  [1008, 'policy'],
  [1011, ''],
  [1013, 'try again later'],
  [4000, 'idle'],
  [4001, 'resumed elsewhere'],
  [4401, 'unauthorized'],
);
const SECRET = 'secret_0123456789abcdef';

const eventInput: fc.Arbitrary<EventInput> = fc.oneof(
  { weight: 5, arbitrary: fc.boolean().map((canPing) => ({ type: 'socket_opened' as const, canPing })) },
  { weight: 4, arbitrary: fc.tuple(closes, random).map(([[code, why], r]) => ({ type: 'socket_closed' as const, code, reason: why, random: r })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom<InboundFrame>('data', 'pong', 'ping', 'heartbeat', 'ack', 'invalid'), fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }))
      .map(([frame, ack]) => ({ type: 'inbound' as const, frame, ack })),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom('sess_1', 'sess_2').map((session) => ({ type: 'hello' as const, hello: { status: 'new' as const, session, secret: SECRET, delivered: 0 as const } })),
      fc.constant({ type: 'hello' as const, hello: { status: 'prove' as const } }),
      fc
        .tuple(fc.constantFrom('sess_1', 'sess_2'), fc.integer({ min: 0, max: 3 }))
        .map(([session, delivered]) => ({ type: 'hello' as const, hello: { status: 'resumed' as const, session, delivered } })),
    ),
  },
  { weight: 1, arbitrary: fc.option(fc.integer({ min: -1, max: 2_000 }), { nil: null }).map((delayMs) => ({ type: 'retry_after' as const, delayMs })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(random, fc.option(fc.boolean(), { nil: undefined }))
      .map(([r, sendKeepalives]) => ({ type: 'timeout' as const, random: r, sendKeepalives })),
  },
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 40 }), fc.boolean()).map(([bytes, writable]) => ({ type: 'send' as const, bytes, writable })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: -1, max: 3 }), fc.integer({ min: 0, max: 60 })).map(([messages, bytes]) => ({ type: 'dequeued' as const, messages, bytes })),
  },
  { weight: 2, arbitrary: fc.boolean().map((online) => ({ type: 'network' as const, online })) },
  { weight: 1, arbitrary: fc.boolean().map((visible) => ({ type: 'visibility' as const, visible })) },
  { weight: 3, arbitrary: reason.map((r) => ({ type: 'start' as const, reason: r })) },
  { weight: 3, arbitrary: reason.map((r) => ({ type: 'stop' as const, reason: r })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }).map((token) => ({ type: 'release' as const, token })) },
  { weight: 1, arbitrary: fc.option(fc.boolean(), { nil: undefined }).map((sendKeepalives) => ({ type: 'signal' as const, sendKeepalives })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        code: fc.constantFrom(1000, 1001, 4000),
        reason: fc.constantFrom('', 'bye'),
        cause: fc.constantFrom('closed' as const, 'aborted' as const, undefined),
        // Mostly with the handshake, so that the closing phase sees events too.
        immediate: fc.constantFrom(false, undefined, undefined, false, true),
        abandon: fc.constantFrom(true, false, undefined),
      })
      .map((close) => ({ type: 'close' as const, ...close })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'restart' as const }) },
);

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(fc.integer({ min: -20, max: 300 }), eventInput).map(([dt, event]) => ({ k: 'event' as const, dt, event })) },
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3_000 }), random).map(([late, r]) => ({ k: 'due' as const, late, random: r })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 50 }).map((dt) => ({ k: 'dequeue' as const, dt })) },
);

/** The session options of the shared arbitrary, and the connection's own over small ranges (every gate on or off). */
const options: fc.Arbitrary<ConnectionOptions> = fc
  .tuple(
    sessionOptions,
    fc.record({
      lateTimerMs: fc.integer({ min: 1, max: 2_000 }),
      connectTimeoutMs: fc.integer({ min: 1, max: 2_000 }),
      closeTimeoutMs: fc.integer({ min: 1, max: 1_000 }),
      idleReadTimeoutMs: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: null }),
      maxQueuedMessages: fc.integer({ min: 0, max: 4 }),
      maxQueuedBytes: fc.integer({ min: 0, max: 60 }),
      terminalCloseCodes: fc.constantFrom<readonly number[] | undefined>(undefined, [], [1006, 4401], [1000, 1001, 4000]),
      reconnect: fc.record({
        initialDelayMs: fc.integer({ min: 1, max: 200 }),
        maxDelayMs: fc.integer({ min: 200, max: 2_000 }),
        maxAttempts: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
        resetAfterMs: fc.integer({ min: 1, max: 5_000 }),
        whenIdle: fc.constantFrom('eager' as const, 'lazy' as const),
      }),
      resume: fc.option(
        fc.record({ helloTimeoutMs: fc.integer({ min: 1, max: 1_000 }), ackDelayMs: fc.integer({ min: 1, max: 500 }), maxUnackedMessages: fc.integer({ min: 1, max: 4 }) }).map((o) => resumable(o)),
        { nil: undefined, freq: 3 },
      ),
    }),
  )
  .map(([session, own]) => ({ ...session, ...own }));

function toEvent(state: ConnectionState, clock: number, act: Action): ConnectionEvent {
  switch (act.k) {
    case 'event':
      return { ...act.event, now: clock + act.dt };
    case 'due': {
      const deadline = connectionDeadline(state);
      const now = (deadline === null ? clock : Math.max(clock, deadline)) + act.late;
      return act.random === undefined ? { type: 'timeout', now } : { type: 'timeout', now, random: act.random };
    }
    case 'dequeue':
      return { type: 'dequeued', now: clock + act.dt, messages: state.queuedMessages, bytes: state.queuedBytes };
  }
}

// ---------------------------------------------------------------------------
// A deterministic exploration: representative states of every phase, each stepped by sample events of every type.

const FAST = { heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, connectTimeoutMs: 3_000, closeTimeoutMs: 400, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } } as const;
const LAZY = { ...FAST, reconnect: { ...FAST.reconnect, whenIdle: 'lazy' } } as const;

/** Option sets chosen so that every branch of the table is reachable from some prefix below. */
const EXPLORED_OPTIONS: readonly ConnectionOptions[] = [
  FAST,
  LAZY,
  { ...LAZY, maxQueuedMessages: 0 },
  // Backoff delays of 0: a failed attempt retries in the same step.
  { ...FAST, reconnect: { initialDelayMs: 1, maxDelayMs: 1 } },
  // The abnormal closure (connect timeout, dead peer) is terminal.
  { ...FAST, terminalCloseCodes: [1006] },
  { ...FAST, reconnect: { ...FAST.reconnect, maxAttempts: 1 } },
  { ...FAST, idleReadTimeoutMs: 1_000 },
  { ...FAST, resume: resumable({ helloTimeoutMs: 300 }) },
];

/** Prefixes (events without `now`; 10 ms apart) that reach each phase in a few ways. */
const PREFIXES: readonly (readonly EventInput[])[] = [
  [],
  [{ type: 'socket_closed', code: 1006, reason: '', random: 0.5 }],
  [{ type: 'socket_opened', canPing: true }],
  [{ type: 'socket_opened', canPing: true }, { type: 'start', reason: 'api_call' }],
  [{ type: 'socket_opened', canPing: true }, { type: 'visibility', visible: true }],
  [{ type: 'socket_opened', canPing: true }, { type: 'send', bytes: 5, writable: true }],
  [{ type: 'socket_opened', canPing: true }, { type: 'start', reason: 'api_call' }, { type: 'socket_closed', code: 1006, reason: '', random: 0.5 }],
  [
    { type: 'socket_opened', canPing: true },
    { type: 'start', reason: 'api_call' },
    { type: 'socket_closed', code: 1006, reason: '', random: 0.5 },
    { type: 'stop', reason: 'api_call' },
  ],
  [{ type: 'socket_opened', canPing: true }, { type: 'start', reason: 'api_call' }, { type: 'network', online: false }, { type: 'socket_closed', code: 1006, reason: '', random: 0.5 }],
  [
    { type: 'socket_opened', canPing: true },
    { type: 'start', reason: 'api_call' },
    { type: 'network', online: false },
    { type: 'socket_closed', code: 1006, reason: '', random: 0.5 },
    { type: 'stop', reason: 'api_call' },
  ],
  [{ type: 'socket_opened', canPing: true }, { type: 'socket_closed', code: 1006, reason: '', random: 0.5 }],
  [{ type: 'socket_opened', canPing: true }, { type: 'close', code: 1000, reason: '' }],
  [{ type: 'close', code: 1000, reason: '' }],
  [{ type: 'socket_opened', canPing: true }, { type: 'socket_closed', code: 4401, reason: 'unauthorized', random: 0.5 }],
];

/** Sample events of every type, some computed from the state (its deadline). */
const SAMPLES: readonly ((state: ConnectionState) => EventInput)[] = [
  () => ({ type: 'socket_opened', canPing: true }),
  () => ({ type: 'socket_closed', code: 1006, reason: '', random: 0 }),
  () => ({ type: 'socket_closed', code: 4401, reason: 'unauthorized', random: 0 }),
  () => ({ type: 'socket_closed', code: 1000, reason: '', random: 0 }),
  ...(['data', 'pong', 'heartbeat', 'invalid'] as const).map((frame) => () => ({ type: 'inbound' as const, frame })),
  () => ({ type: 'hello', hello: { status: 'new', session: 'sess_1', secret: SECRET, delivered: 0 } }),
  () => ({ type: 'hello', hello: { status: 'prove' } }),
  () => ({ type: 'retry_after', delayMs: 100 }),
  () => ({ type: 'timeout', random: 0 }),
  () => ({ type: 'timeout', random: 0.5 }),
  () => ({ type: 'send', bytes: 5, writable: true }),
  () => ({ type: 'send', bytes: 5, writable: false }),
  () => ({ type: 'dequeued', messages: 0, bytes: 0 }),
  () => ({ type: 'network', online: false }),
  () => ({ type: 'network', online: true }),
  () => ({ type: 'visibility', visible: true }),
  () => ({ type: 'start', reason: 'api_call' }),
  () => ({ type: 'start', reason: '' }),
  () => ({ type: 'stop', reason: 'api_call' }),
  () => ({ type: 'release', token: 1 }),
  () => ({ type: 'signal' }),
  () => ({ type: 'close', code: 1000, reason: '' }),
  () => ({ type: 'close', code: 1001, reason: 'exit', immediate: true }),
  () => ({ type: 'restart' }),
];

/** Every transition the exploration sees (each checked against the table as it happens). */
function explore(): Set<string> {
  const seen = new Set<string>();
  for (const opts of EXPLORED_OPTIONS) {
    for (const prefix of PREFIXES) {
      let [state] = openConnection(opts, 0, 1);
      let now = 0;
      for (const input of prefix) state = checkedStep(PHASE_TABLE, state, { ...input, now: (now += 10) }, seen);
      for (const sample of SAMPLES) {
        const input = sample(state);
        const at = now + 10;
        checkedStep(PHASE_TABLE, state, { ...input, now: at }, seen);
        // Timeouts twice: at once (nothing due) and at the deadline (what is due fires).
        const deadline = connectionDeadline(state);
        if (input.type === 'timeout' && deadline !== null) checkedStep(PHASE_TABLE, state, { ...input, now: Math.max(at, deadline) }, seen);
      }
    }
  }
  return seen;
}

function tableEntries(table: PhaseTable): string[] {
  return PHASES.flatMap((from) => EVENT_TYPES.flatMap((type) => table[from][type].map((to) => key(from, type, to))));
}

describe('B10: the phase table as data', () => {
  it('covers every phase and every event type', () => {
    expect([...PHASES].sort()).toEqual(['backoff', 'closed', 'closing', 'connecting', 'open', 'parked']);
    for (const phase of PHASES) expect(Object.keys(PHASE_TABLE[phase]).sort(), phase).toEqual([...EVENT_TYPES].sort());
    expect(EVENT_TYPES).toHaveLength(16);
  });

  it('B10: a transition missing from the table fails with a message naming it', () => {
    const withoutReconnect: PhaseTable = { ...PHASE_TABLE, backoff: { ...PHASE_TABLE.backoff, timeout: ['backoff', 'parked'] } };
    let [state] = openConnection(FAST, 0, 1);
    state = checkedStep(withoutReconnect, state, { type: 'socket_closed', now: 10, code: 1006, reason: '', random: 0.5 });
    expect(state.phase).toBe('backoff');
    expect(() => checkedStep(withoutReconnect, state, { type: 'timeout', now: 1_000, random: 0.5 })).toThrow(
      'transition missing from the phase table: backoff --timeout--> connecting (the table allows backoff --timeout--> backoff | parked)',
    );
  });

  test.prop([options, fc.integer(), fc.constantFrom(...PREFIXES), fc.array(action, { maxLength: 60 })])(
    'B10: every transition of random event sequences (stale, invalid and late events included) is in the table',
    (opts, seed, prefix, actions) => {
      let [state] = openConnection(opts, 0, seed);
      let clock = 0;
      // A scripted start into one of the phases (open, backoff offline, parked, closing, ...), then random events.
      for (const input of prefix) state = checkedStep(PHASE_TABLE, state, { ...input, now: (clock += 10) });
      for (const act of actions) {
        const event = toEvent(state, clock, act);
        clock = Math.max(clock, event.now);
        state = checkedStep(PHASE_TABLE, state, event);
      }
    },
  );

  it('B10: every transition in the table happens (the table is exact), including those the module doc does not list', () => {
    const seen = explore();
    const entries = tableEntries(PHASE_TABLE);
    expect(entries.filter((entry) => !seen.has(entry)), 'listed in the table, never seen').toEqual([]);
    expect([...seen].filter((entry) => !entries.includes(entry)), 'seen, not in the table').toEqual([]);
    for (const [from, type, to, why] of NOT_IN_MODULE_DOC) {
      expect(PHASE_TABLE[from][type], why).toContain(to);
      expect(seen.has(key(from, type, to)), why).toBe(true);
    }
  });

  it('B10: the kernel\'s module doc lists every phase and, in its "leaves on" column, every phase each one can move to', () => {
    const file = readFileSync(new URL('./kernel.ts', import.meta.url), 'utf8');
    const source = file.slice(file.indexOf('Phases (B10)'), file.indexOf('A driver runs it'));
    const rows = new Map<string, string>();
    for (const match of source.matchAll(/^ \* \| `(\w+)` \|[^|]*\|[^|]*\|([^|]*)\|$/gm)) rows.set(match[1] ?? '', match[2] ?? '');
    expect([...rows.keys()].sort()).toEqual([...PHASES].sort());
    for (const [from, type, to] of tableEntries(PHASE_TABLE).map((entry) => entry.split(/ --|--> /) as [ConnectionPhase, EventType, ConnectionPhase])) {
      if (to !== from) expect(rows.get(from), `${from} --${type}--> ${to}`).toContain(`\`${to}\``);
    }
  });
});
