import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { createDeliveryState, deliveryDeadline, deliveryStep, deliveryTransition, defineDeliveryConfig, restoreDeliveryState, type DeliveryCommand, type DeliveryEvent, type DeliveryOptions, type DeliveryState } from './index.js';

/**
 * The delivery machine (spec B14): examples, and properties over two ends joined by a simulated network whose
 * connections are ordered channels that can be cut at any moment (losing whatever is in flight), delayed without
 * bound, and re-established; one end can also forget the session (a restart). Whatever the sequence: every accepted
 * message is delivered exactly once and in order, still waiting in the replay buffer, or handed back; after the
 * network heals and settles, every message not handed back is delivered.
 */

type Frame = { readonly kind: 'data'; readonly seq: number; readonly id: number; readonly ack: number | null } | { readonly kind: 'ack'; readonly through: number };

type EventWithoutNow<E> = E extends unknown ? Omit<E, 'now'> : never;

/** One end with its driver: payloads by number, what it delivered, what it handed back. */
class End {
  state: DeliveryState;
  now = 0;
  readonly payloads = new Map<number, number>();
  readonly delivered: number[] = [];
  readonly handedBack: number[] = [];
  readonly accepted: number[] = [];
  refused = 0;
  duplicates = 0;
  outbox: Frame[] = [];
  private pendingId: number | null = null;

  constructor(options: DeliveryOptions) {
    this.state = createDeliveryState(options);
  }

  step(event: EventWithoutNow<DeliveryEvent>, incoming?: number): void {
    const out: DeliveryCommand[] = [];
    this.state = deliveryStep(this.state, { ...event, now: this.now }, out);
    for (const command of out) this.execute(command, incoming);
  }

  send(id: number, bytes: number): void {
    this.pendingId = id;
    this.step({ type: 'accept', bytes });
    this.pendingId = null;
  }

  private execute(command: DeliveryCommand, incoming: number | undefined): void {
    switch (command.type) {
      case 'number':
        if (this.pendingId !== null) {
          this.payloads.set(command.seq, this.pendingId);
          this.accepted.push(this.pendingId);
        }
        break;
      case 'refuse':
        this.refused++;
        break;
      case 'transmit':
        this.outbox.push({ kind: 'data', seq: command.seq, id: this.payloads.get(command.seq) ?? -1, ack: null });
        break;
      case 'ack':
        this.outbox.push({ kind: 'ack', through: command.through });
        break;
      case 'deliver':
        if (incoming !== undefined) this.delivered.push(incoming);
        break;
      case 'duplicate':
        this.duplicates++;
        break;
      case 'release':
        for (const seq of [...this.payloads.keys()]) if (seq <= command.through) this.payloads.delete(seq);
        break;
      case 'hand_back':
        for (let seq = command.from; seq <= command.to; seq++) {
          this.handedBack.push(this.payloads.get(seq) ?? -1);
          this.payloads.delete(seq);
        }
        break;
      case 'renumber': {
        // Carried into the new session as 1.., in order; nothing else survives the forgetting.
        const carried: number[] = [];
        for (let seq = command.from; seq <= command.to; seq++) carried.push(this.payloads.get(seq) ?? -1);
        this.payloads.clear();
        carried.forEach((id, index) => this.payloads.set(index + 1, id));
        break;
      }
      case 'diagnostic':
        break;
    }
  }
}

/** Two ends and the connection between them: two ordered channels, cut together. */
class Network {
  readonly a: End;
  b: End;
  ab: Frame[] = [];
  ba: Frame[] = [];
  up = false;
  private nextId = 1;

  constructor(options: DeliveryOptions) {
    this.a = new End(options);
    this.b = new End(options);
  }

  /** Moves what each end wrote onto its channel (only while connected: a closed socket takes nothing). */
  pump(): void {
    if (this.up) {
      this.ab.push(...this.a.outbox);
      this.ba.push(...this.b.outbox);
    }
    this.a.outbox = [];
    this.b.outbox = [];
  }

  send(from: 'a' | 'b', bytes: number): void {
    (from === 'a' ? this.a : this.b).send(this.nextId++, bytes);
    this.pump();
  }

  deliver(to: 'a' | 'b'): void {
    const channel = to === 'b' ? this.ab : this.ba;
    const frame = channel.shift();
    if (frame === undefined) return;
    const end = to === 'b' ? this.b : this.a;
    if (frame.kind === 'ack') end.step({ type: 'ack', through: frame.through });
    else end.step({ type: 'frame', seq: frame.seq, ack: frame.ack ?? undefined }, frame.id);
    this.pump();
  }

  cut(): void {
    if (!this.up) return;
    this.up = false;
    this.ab = [];
    this.ba = [];
    this.a.step({ type: 'disconnected' });
    this.b.step({ type: 'disconnected' });
    this.pump();
  }

  /** A new connection: each end presents what it delivered (in-band), and both resume. */
  connect(): void {
    if (this.up) return;
    this.up = true;
    const aDelivered = this.a.state.deliveredThrough;
    const bDelivered = this.b.state.deliveredThrough;
    this.a.step({ type: 'resumed', peerDelivered: bDelivered });
    this.b.step({ type: 'resumed', peerDelivered: aDelivered });
    this.pump();
  }

  /** B restarts and forgets the session; A learns it on the next connection and hands back what may be lost. */
  forget(): void {
    this.cut();
    this.b = Object.assign(new End({ ...this.b.state.config }), { accepted: this.b.accepted });
    this.a.step({ type: 'forgotten' });
    // The new session starts from nothing on both sides: what A delivered of B's old session is history.
    this.pump();
  }

  tick(ms: number): void {
    for (const end of [this.a, this.b]) {
      end.now += ms;
      end.step({ type: 'timeout' });
    }
    this.pump();
  }

  keepalive(from: 'a' | 'b'): void {
    (from === 'a' ? this.a : this.b).step({ type: 'outgoing' });
    this.pump();
  }

  private quiet(): boolean {
    return this.ab.length === 0 && this.ba.length === 0;
  }

  /** Heals: connected, every frame and acknowledgement delivered until nothing moves. */
  settle(): void {
    this.connect();
    for (let guard = 0; guard < 10_000; guard++) {
      if (this.quiet()) {
        this.keepalive('a');
        this.keepalive('b');
        if (this.quiet()) return;
      }
      this.deliver('b');
      this.deliver('a');
    }
  }
}

type Action =
  | { k: 'send'; from: 'a' | 'b'; bytes: number }
  | { k: 'deliver'; to: 'a' | 'b' }
  | { k: 'cut' }
  | { k: 'connect' }
  | { k: 'keepalive'; from: 'a' | 'b' }
  | { k: 'tick'; ms: number }
  | { k: 'forget' };

const side = fc.constantFrom<'a' | 'b'>('a', 'b');
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('send' as const), from: side, bytes: fc.integer({ min: 0, max: 50 }) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('deliver' as const), to: side }) },
  { weight: 2, arbitrary: fc.constant({ k: 'cut' as const }) },
  { weight: 3, arbitrary: fc.constant({ k: 'connect' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('keepalive' as const), from: side }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2_000 }).map((ms) => ({ k: 'tick' as const, ms })) },
);

function run(net: Network, act: Action): void {
  switch (act.k) {
    case 'send':
      net.send(act.from, act.bytes);
      break;
    case 'deliver':
      net.deliver(act.to);
      break;
    case 'cut':
      net.cut();
      break;
    case 'connect':
      net.connect();
      break;
    case 'keepalive':
      net.keepalive(act.from);
      break;
    case 'tick':
      net.tick(act.ms);
      break;
    case 'forget':
      net.forget();
      break;
  }
}

/** Exactly once, in order: what `to` delivered is a prefix of what `from` accepted. */
function checkPrefix(from: End, to: End): void {
  expect(to.delivered).toEqual(from.accepted.slice(0, to.delivered.length));
}

const limits = fc.record({ maxUnackedMessages: fc.integer({ min: 1, max: 8 }), maxUnackedBytes: fc.integer({ min: 1, max: 200 }), ackDelayMs: fc.integer({ min: 1, max: 1_000 }) });

describe('delivery machine properties (B14)', () => {
  test.prop([limits, fc.array(action, { maxLength: 120 })])(
    'B14: over cuts, delays and reconnects every accepted message is delivered exactly once and in order, or still waiting; after healing, all are delivered',
    (options, actions) => {
      const net = new Network(options);
      net.connect();
      for (const act of actions) {
        run(net, act);
        checkPrefix(net.a, net.b);
        checkPrefix(net.b, net.a);
        for (const end of [net.a, net.b]) {
          expect(end.state.unacked.length).toBeLessThanOrEqual(options.maxUnackedMessages);
          expect(end.state.unackedBytes).toBeLessThanOrEqual(options.maxUnackedBytes);
          expect(end.state.nextSeq - 1 - end.state.ackedThrough).toBe(end.state.unacked.length);
        }
      }
      net.settle();
      expect(net.b.delivered).toEqual(net.a.accepted);
      expect(net.a.delivered).toEqual(net.b.accepted);
      expect(net.a.state.unacked).toEqual([]);
      expect(net.b.state.unacked).toEqual([]);
      expect(deliveryDeadline(net.a.state)).toBeNull();
    },
  );

  test.prop([limits, fc.array(fc.oneof(action, fc.constant({ k: 'forget' as const })), { maxLength: 120 })])(
    'B14: when the peer forgets the session, nothing is silent: every accepted message is delivered once or handed back',
    (options, actions) => {
      const net = new Network(options);
      net.connect();
      const deliveredToB: number[] = [];
      let b = net.b;
      for (const act of actions) {
        run(net, act);
        if (net.b !== b) {
          deliveredToB.push(...b.delivered);
          b = net.b;
        }
      }
      net.settle();
      deliveredToB.push(...net.b.delivered);
      // Delivered at most once, and together with what was handed back, everything A accepted.
      expect(new Set(deliveredToB).size).toBe(deliveredToB.length);
      const accounted = new Set([...deliveredToB, ...net.a.handedBack]);
      for (const id of net.a.accepted) expect(accounted.has(id)).toBe(true);
    },
  );
});

describe('delivery machine examples (B14)', () => {
  it('B14: numbers, transmits while connected, releases on a cumulative ack, retransmits after a reconnect', () => {
    let state = createDeliveryState({ ackDelayMs: 100 });
    let commands: readonly DeliveryCommand[];
    [state, commands] = deliveryTransition(state, { type: 'resumed', now: 0, peerDelivered: 0 });
    expect(commands).toEqual([]);
    [state, commands] = deliveryTransition(state, { type: 'accept', now: 1, bytes: 5 });
    expect(commands).toEqual([{ type: 'number', seq: 1 }, { type: 'transmit', seq: 1 }]);
    [state] = deliveryTransition(state, { type: 'accept', now: 2, bytes: 5 });
    [state, commands] = deliveryTransition(state, { type: 'ack', now: 3, through: 1 });
    expect(commands).toEqual([{ type: 'release', through: 1 }]);
    expect(state.unacked).toEqual([5]);
    [state] = deliveryTransition(state, { type: 'disconnected', now: 4 });
    [state, commands] = deliveryTransition(state, { type: 'accept', now: 5, bytes: 1 });
    expect(commands).toEqual([{ type: 'number', seq: 3 }]);
    [state, commands] = deliveryTransition(state, { type: 'resumed', now: 6, peerDelivered: 1 });
    expect(commands.filter((c) => c.type === 'transmit')).toEqual([
      { type: 'transmit', seq: 2 },
      { type: 'transmit', seq: 3 },
    ]);
  });

  it('B14: delivers once and in order, drops duplicates and early frames, and the acknowledgement rides or waits ackDelayMs', () => {
    let state = createDeliveryState({ ackDelayMs: 100 });
    let commands: readonly DeliveryCommand[];
    [state, commands] = deliveryTransition(state, { type: 'frame', now: 0, seq: 1 });
    expect(commands).toEqual([{ type: 'deliver', seq: 1 }]);
    expect(deliveryDeadline(state)).toBe(100);
    [state, commands] = deliveryTransition(state, { type: 'frame', now: 1, seq: 1 });
    expect(commands.at(-1)).toEqual({ type: 'duplicate', seq: 1 });
    [state, commands] = deliveryTransition(state, { type: 'frame', now: 2, seq: 3 });
    expect(commands.at(-1)).toEqual({ type: 'duplicate', seq: 3 });
    [state, commands] = deliveryTransition(state, { type: 'outgoing', now: 3 });
    expect(commands).toEqual([{ type: 'ack', through: 1 }]);
    expect(deliveryDeadline(state)).toBeNull();
    [state] = deliveryTransition(state, { type: 'frame', now: 4, seq: 2 });
    [state, commands] = deliveryTransition(state, { type: 'timeout', now: 103 });
    expect(commands).toEqual([]);
    [state, commands] = deliveryTransition(state, { type: 'timeout', now: 104 });
    expect(commands).toEqual([{ type: 'ack', through: 2 }]);
  });

  it('B14: past the replay bound accept is refused, loudly; a forgotten session hands back what may have arrived, and carries on what never left', () => {
    let state = createDeliveryState({ maxUnackedMessages: 2, maxUnackedBytes: 10 });
    let commands: readonly DeliveryCommand[];
    [state] = deliveryTransition(state, { type: 'accept', now: 0, bytes: 4 });
    [state, commands] = deliveryTransition(state, { type: 'accept', now: 0, bytes: 7 });
    expect(commands.at(-1)).toEqual({ type: 'refuse', reason: 'bytes' });
    [state] = deliveryTransition(state, { type: 'accept', now: 0, bytes: 6 });
    [state, commands] = deliveryTransition(state, { type: 'accept', now: 0, bytes: 0 });
    expect(commands.at(-1)).toEqual({ type: 'refuse', reason: 'messages' });
    // Never written (not connected): certainly not received, so carried into the new session as 1, 2.
    [state, commands] = deliveryTransition(state, { type: 'forgotten', now: 1 });
    expect(commands.filter((c) => c.type !== 'diagnostic')).toEqual([{ type: 'renumber', from: 1, to: 2 }]);
    expect([state.nextSeq, state.unacked, state.deliveredThrough]).toEqual([3, [4, 6], 0]);
    // Written and not acknowledged: they may have arrived; handed back, and the rest carried.
    [state] = deliveryTransition(state, { type: 'resumed', now: 2, peerDelivered: 0 });
    [state] = deliveryTransition(state, { type: 'disconnected', now: 3 });
    [state] = deliveryTransition(state, { type: 'ack', now: 3, through: 0 });
    [state, commands] = deliveryTransition(state, { type: 'forgotten', now: 4 });
    expect(commands).toContainEqual({ type: 'hand_back', from: 1, to: 2 });
    expect([state.nextSeq, state.unacked.length, state.deliveredThrough]).toEqual([1, 0, 0]);
  });

  it('B1, B14: an ack of something never sent is refused by name; bad options throw naming the option', () => {
    const state = createDeliveryState();
    const [same, commands] = deliveryTransition(state, { type: 'ack', now: 0, through: 5 });
    expect(same.ackedThrough).toBe(0);
    expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: 'invalid_ack', fields: { through: 5 } }]);
    expect(() => defineDeliveryConfig({ maxUnackedMessages: 0 })).toThrow(/Invalid option maxUnackedMessages: 0/);
    expect(() => defineDeliveryConfig({ ackDelayMs: -1 })).toThrow(/Invalid option ackDelayMs: -1/);
  });
});

describe('restoreDeliveryState (a session taken up by another process)', () => {
  it('B14: restored counters continue the numbering; impossible counters are refused', () => {
    const state = restoreDeliveryState({}, { deliveredThrough: 4, ackedThrough: 2, transmittedThrough: 3, unacked: [5, 8] }, 10);
    expect(state).toMatchObject({ nextSeq: 5, ackedThrough: 2, deliveredThrough: 4, transmittedThrough: 3, unackedBytes: 13, connected: false, ackAt: null });
    expect(restoreDeliveryState({}, { deliveredThrough: -1, ackedThrough: 0, transmittedThrough: 0, unacked: [] })).toBeNull();
    expect(restoreDeliveryState({}, { deliveredThrough: 0, ackedThrough: 3, transmittedThrough: 2, unacked: [] })).toBeNull();
    expect(restoreDeliveryState({}, { deliveredThrough: 0, ackedThrough: 0, transmittedThrough: 3, unacked: [1] })).toBeNull();
    expect(restoreDeliveryState({ maxUnackedMessages: 1 }, { deliveredThrough: 0, ackedThrough: 0, transmittedThrough: 0, unacked: [1, 1] })).toBeNull();
    expect(restoreDeliveryState({}, { deliveredThrough: 0.5, ackedThrough: 0, transmittedThrough: 0, unacked: [] })).toBeNull();
  });

  it('B14: for every counters a delivery reached, the restored state resumes like the original (same next number, same acknowledgement)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('accept'), fc.constant('frame'), fc.constant('ack')), { maxLength: 40 }), (events) => {
        let state = createDeliveryState({}, 0);
        const out: DeliveryCommand[] = [];
        state = deliveryStep(state, { type: 'resumed', now: 0, peerDelivered: 0 }, out);
        for (const [i, kind] of events.entries()) {
          if (kind === 'accept') state = deliveryStep(state, { type: 'accept', now: i, bytes: 3 }, out);
          else if (kind === 'frame') state = deliveryStep(state, { type: 'frame', now: i, seq: state.deliveredThrough + 1 }, out);
          else state = deliveryStep(state, { type: 'ack', now: i, through: state.transmittedThrough }, out);
        }
        const restored = restoreDeliveryState({}, state, 100);
        expect(restored).not.toBeNull();
        expect(restored?.nextSeq).toBe(state.nextSeq);
        expect(restored?.unackedBytes).toBe(state.unackedBytes);
        expect(restored?.deliveredThrough).toBe(state.deliveredThrough);
      }),
      { numRuns: 200 },
    );
  });
});
