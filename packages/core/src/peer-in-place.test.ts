import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  createPeerState,
  definePeerConfig,
  peerDeadline,
  peerStep,
  peerStepInPlace,
  peerTransition,
  type MutablePeerState,
  type PeerCommand,
  type PeerEvent,
  type PeerState,
  type PeerStepOptions,
} from './index.js';

/** The peer driver paths against the reference `peerTransition`, for every event sequence. */

const config = fc.integer({ min: 1, max: 1_000 }).chain((pingIntervalMs) =>
  fc.record({
    pingIntervalMs: fc.constant(pingIntervalMs),
    idlePingIntervalMs: fc.option(fc.integer({ min: pingIntervalMs, max: 3_000 }), { nil: null }),
    pongTimeoutMs: fc.integer({ min: 1, max: 800 }),
    idleCloseMs: fc.option(fc.integer({ min: 600, max: 3_000 }), { nil: null }),
    minPingIntervalMs: fc.integer({ min: 1, max: 500 }),
    maxPingStrikes: fc.integer({ min: 1, max: 4 }),
    terminateDeadPeers: fc.boolean(),
    keepaliveFrame: fc.constantFrom('ping' as const, 'message' as const),
    sendKeepalives: fc.boolean(),
  }),
);
type Raw = { k: 'inbound'; kind: 'pong' | 'ping' | 'heartbeat' | 'message' } | { k: 'timeout'; atDeadline: boolean } | { k: 'closed' };
const raw: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('inbound' as const), kind: fc.constantFrom('pong' as const, 'ping' as const, 'heartbeat' as const, 'message' as const) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('timeout' as const), atDeadline: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'closed' as const }) },
);
const options: fc.Arbitrary<PeerStepOptions | undefined> = fc.option(fc.record({ timerCommands: fc.option(fc.boolean(), { nil: undefined }) }), { nil: undefined });

function wanted(commands: readonly PeerCommand[], opts: PeerStepOptions | undefined): PeerCommand[] {
  return commands.filter((command) => opts?.timerCommands !== false || (command.type !== 'arm' && command.type !== 'cancel'));
}

function fieldsDiffer(a: PeerState, b: PeerState): boolean {
  return (Object.keys(a) as (keyof PeerState)[]).some((key) => !Object.is(a[key], b[key]));
}

describe('peer driver paths against peerTransition', () => {
  test.prop([config, fc.double({ min: 0, max: 0.999, noNaN: true }), fc.array(fc.tuple(raw, fc.integer({ min: 0, max: 900 }), options), { maxLength: 80 })], { numRuns: 400 })(
    'B5 B8 B9 B16: peerStep with options and peerStepInPlace give peerTransition’s state and its commands minus what the options leave out',
    (peerOptions, phase, events) => {
      // A peer that is never probed takes no quiet interval (refused with one).
      let reference: PeerState = createPeerState(definePeerConfig(peerOptions.sendKeepalives ? peerOptions : { ...peerOptions, idlePingIntervalMs: null }), 0, phase);
      let stepped = reference;
      const placed: MutablePeerState = { ...reference };
      const snapshots: [PeerState, string][] = [];
      let now = 0;
      const out: PeerCommand[] = [];
      for (const [r, dt, opts] of events) {
        now += dt;
        const deadline = peerDeadline(reference);
        const at = r.k === 'timeout' && r.atDeadline && deadline !== null ? Math.max(now, deadline) : now;
        now = at;
        const event: PeerEvent = r.k === 'inbound' ? { type: 'inbound', kind: r.kind, now } : { type: r.k, now };
        snapshots.push([reference, JSON.stringify(reference)]);
        const [next, commands] = peerTransition(reference, event);
        out.length = 0;
        const steppedNext = peerStep(stepped, event, out, opts);
        expect(out).toEqual(wanted(commands, opts));
        expect(steppedNext === stepped).toBe(next === reference);
        stepped = steppedNext;
        out.length = 0;
        const changed = peerStepInPlace(placed, event, out, opts);
        expect(out).toEqual(wanted(commands, opts));
        // "Whether anything changed": a field differs (transition may hand back an equal copy, e.g. a message heard at the same instant).
        expect(changed).toBe(fieldsDiffer(next, reference));
        expect({ ...placed }).toEqual({ ...next });
        reference = next;
      }
      for (const [state, json] of snapshots) expect(JSON.stringify(state)).toBe(json);
    },
  );
});
