import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { Stepper } from './__tests__/kernel-driver.js';
import {
  INITIAL_RTT,
  createPeerState,
  defineKernelConfig,
  definePeerConfig,
  peerDeadline,
  peerStep,
  peerStepInPlace,
  roundTripTime,
  rttAnswered,
  rttLost,
  rttSample,
  rttSent,
  type MutablePeerState,
  type MutableRttFields,
  type PeerCommand,
  type PeerState,
} from './index.js';

/**
 * The round-trip time measured by keep-alives (B5's keep-alives, no extra frames): RFC 6298's smoothed estimate,
 * Karn's rule for ambiguous answers, and where the client kernel and the server's peer machine take their samples.
 */

/** Fresh round-trip fields with `samples` folded in, read in milliseconds. */
function sampled(...samples: number[]): ReturnType<typeof roundTripTime> {
  const fields: MutableRttFields = { ...INITIAL_RTT };
  for (const sample of samples) rttSample(fields, sample);
  return roundTripTime(fields);
}

describe('rttSample: RFC 6298 smoothing, in TCP\'s scaled integers (microseconds)', () => {
  it('before any sample every time is null; the first sets the smoothed time and half of it as the variation', () => {
    expect(roundTripTime(INITIAL_RTT)).toEqual({ latestMs: null, smoothedMs: null, variationMs: null, minMs: null, samples: 0, answered: 0 });
    expect(sampled(40)).toEqual({ latestMs: 40, smoothedMs: 40, variationMs: 20, minMs: 40, samples: 1, answered: 0 });
  });

  it('later samples move the smoothed time by 1/8 and the variation by 1/4 of the deviation (RTTVAR first, with the old SRTT)', () => {
    // RTTVAR = 3/4 * 20 + 1/4 * |40 - 80| = 25; SRTT = 7/8 * 40 + 1/8 * 80 = 45 (RFC 6298 2.3).
    expect(sampled(40, 80)).toEqual({ latestMs: 80, smoothedMs: 45, variationMs: 25, minMs: 40, samples: 2, answered: 0 });
    // Sub-millisecond samples keep microseconds.
    expect(sampled(0.123).latestMs).toBe(0.123);
  });

  it('a negative or non-finite sample is ignored', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(sampled(10, bad)).toEqual(sampled(10));
  });

  test.prop([fc.array(fc.double({ min: 0, max: 100_000, noNaN: true }), { minLength: 1, maxLength: 200 })])(
    'the smoothed time stays within the smallest and the largest sample, the variation within [0, max(max − min, first/2)] (to a microsecond)',
    (samples) => {
      const rtt = sampled(...samples);
      const us = samples.map((sample) => Math.round(sample * 1_000) / 1_000);
      const min = Math.min(...us);
      const max = Math.max(...us);
      const epsilon = 0.001;
      expect(rtt.samples).toBe(samples.length);
      expect(rtt.latestMs).toBe(us.at(-1));
      expect(rtt.minMs).toBe(min);
      expect(rtt.smoothedMs).toBeGreaterThanOrEqual(min - epsilon);
      expect(rtt.smoothedMs).toBeLessThanOrEqual(max + epsilon);
      expect(rtt.variationMs).toBeGreaterThanOrEqual(0);
      expect(rtt.variationMs).toBeLessThanOrEqual(Math.max(max - min, (us[0] ?? 0) / 2) + epsilon);
    },
  );
});

describe("rttSent / rttAnswered: one timed keep-alive at a time (Karn's rule)", () => {
  it('a keep-alive answered while it was the only one outstanding is a sample', () => {
    const fields: MutableRttFields = { ...INITIAL_RTT };
    rttSent(fields, 1_000);
    expect(rttAnswered(fields, 1_035)).toBe(true);
    expect(fields).toMatchObject({ keepalivesAnswered: 1, keepalivesOutstanding: 0, keepaliveSentAt: null });
    expect(roundTripTime(fields)).toMatchObject({ latestMs: 35, samples: 1, answered: 1 });
  });

  it('with two outstanding neither is timed: the answers are counted, no sample is taken; an unasked answer changes nothing', () => {
    const fields: MutableRttFields = { ...INITIAL_RTT };
    rttSent(fields, 0);
    rttSent(fields, 1_000);
    expect(fields.keepaliveSentAt).toBeNull();
    expect(rttAnswered(fields, 1_200)).toBe(false);
    expect(rttAnswered(fields, 1_210)).toBe(false);
    expect(rttAnswered(fields, 1_220)).toBe(false);
    expect(roundTripTime(fields)).toMatchObject({ samples: 0, answered: 2, latestMs: null });
    // Clean again: the next keep-alive is timed.
    rttSent(fields, 2_000);
    rttAnswered(fields, 2_050);
    expect(roundTripTime(fields).latestMs).toBe(50);
  });

  it('a loss forgets what is outstanding and keeps the estimate; an answer "before" its keep-alive is no sample', () => {
    const fields: MutableRttFields = { ...INITIAL_RTT };
    rttSent(fields, 0);
    rttAnswered(fields, 30);
    rttSent(fields, 100);
    rttLost(fields);
    expect(fields).toMatchObject({ keepalivesOutstanding: 0, keepaliveSentAt: null, rttLatestUs: 30_000, rttSamples: 1 });
    expect(rttAnswered(fields, 5_000)).toBe(false);
    rttSent(fields, 6_000);
    expect(rttAnswered(fields, 5_000)).toBe(false);
    expect(fields).toMatchObject({ rttSamples: 1, keepalivesAnswered: 2 });
  });
});

const kernelOptions = { heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, connectTimeoutMs: 2_000, closeTimeoutMs: 300, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } };

describe('the client kernel measures the round trip of its keep-alives (B5, no extra frames)', () => {
  it('B5: a ping sent on the heartbeat and its pong 42 ms later make one sample; data frames do not', () => {
    const k = new Stepper(defineKernelConfig(kernelOptions), 0, 1);
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    expect(k.state.heardAt).toBe(0);
    k.step({ type: 'start', reason: 'job', now: 0 });
    const commands = k.step({ type: 'timeout', now: 1_000 });
    expect(commands).toContainEqual({ type: 'keepalive', frame: 'ping', ack: null });
    k.step({ type: 'inbound', frame: 'data', now: 1_010 });
    expect(k.state.rttSamples).toBe(0);
    expect(k.state.heardAt).toBe(1_010);
    k.step({ type: 'inbound', frame: 'pong', now: 1_042 });
    expect(roundTripTime(k.state)).toEqual({ latestMs: 42, smoothedMs: 42, variationMs: 21, minMs: 42, samples: 1, answered: 1 });
    k.step({ type: 'timeout', now: 2_000 });
    k.step({ type: 'inbound', frame: 'pong', now: 2_010 });
    expect(roundTripTime(k.state)).toMatchObject({ latestMs: 10, smoothedMs: (42 * 7) / 8 + 10 / 8, samples: 2, answered: 2 });
    expect(k.state.keepalivesOutstanding).toBe(0);
  });

  it("B5: Karn's rule: with two keep-alives outstanding neither answer is timed; the next lone one is", () => {
    const k = new Stepper(defineKernelConfig({ ...kernelOptions, pongTimeoutMs: 5_000 }), 0, 1);
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    k.step({ type: 'start', reason: 'job', now: 0 });
    k.step({ type: 'timeout', now: 1_000 });
    k.step({ type: 'timeout', now: 2_000 });
    expect(k.state).toMatchObject({ keepalivesOutstanding: 2, keepaliveSentAt: null });
    k.step({ type: 'inbound', frame: 'pong', now: 2_100 });
    k.step({ type: 'inbound', frame: 'pong', now: 2_110 });
    // A third pong nobody asked for changes nothing.
    k.step({ type: 'inbound', frame: 'pong', now: 2_120 });
    expect(roundTripTime(k.state)).toMatchObject({ samples: 0, answered: 2 });
    k.step({ type: 'timeout', now: 3_000 });
    k.step({ type: 'inbound', frame: 'pong', now: 3_007 });
    expect(roundTripTime(k.state)).toMatchObject({ latestMs: 7, samples: 1, answered: 3 });
  });

  it("B5: on heartbeat messages only the peer's answer is a sample, not its own heartbeat (answered in kind)", () => {
    const k = new Stepper(defineKernelConfig(kernelOptions), 0, 1);
    k.step({ type: 'socket_opened', now: 0, canPing: false });
    k.step({ type: 'inbound', frame: 'heartbeat', now: 300 });
    expect(k.state.keepalivesAnswered).toBe(0);
    k.step({ type: 'start', reason: 'job', now: 300 });
    k.step({ type: 'timeout', now: 1_300 });
    k.step({ type: 'inbound', frame: 'heartbeat', now: 1_325 });
    expect(roundTripTime(k.state)).toMatchObject({ latestMs: 25, samples: 1, answered: 1 });
    expect(k.state.keepalivesOutstanding).toBe(0);
  });

  it('B5 B6: a loss forgets the keep-alive in flight and keeps the estimate across the reconnect', () => {
    const k = new Stepper(defineKernelConfig(kernelOptions), 0, 1);
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    k.step({ type: 'start', reason: 'job', now: 0 });
    k.step({ type: 'timeout', now: 1_000 });
    k.step({ type: 'inbound', frame: 'pong', now: 1_030 });
    k.step({ type: 'timeout', now: 2_000 });
    expect(k.state.keepalivesOutstanding).toBe(1);
    k.step({ type: 'socket_closed', now: 2_100, code: 1006, reason: '', random: 0 });
    expect(k.state).toMatchObject({ keepalivesOutstanding: 0, keepaliveSentAt: null });
    expect(roundTripTime(k.state)).toMatchObject({ latestMs: 30, samples: 1 });
    // The dead peer's silence is readable after the loss: heard last at 1030.
    expect(k.state.heardAt).toBe(1_030);
  });
});

describe("the server's peer machine measures each peer's round trip (B5, B16)", () => {
  const config = definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 500, minPingIntervalMs: 100 });

  it('B5: a ping and its pong make one sample; the peer is heard at its pong', () => {
    let peer: PeerState = createPeerState(config, 0, 0.5);
    const out: PeerCommand[] = [];
    peer = peerStep(peer, { type: 'inbound', kind: 'message', now: 100 }, out);
    peer = peerStep(peer, { type: 'timeout', now: peerDeadline(peer) ?? 0 }, out);
    expect(out).toContainEqual({ type: 'ping' });
    const sentAt = peer.keepaliveSentAt ?? 0;
    peer = peerStep(peer, { type: 'inbound', kind: 'pong', now: sentAt + 17 }, out);
    expect(roundTripTime(peer)).toEqual({ latestMs: 17, smoothedMs: 17, variationMs: 8.5, minMs: 17, samples: 1, answered: 1 });
    expect(peer.heardAt).toBe(sentAt + 17);
  });

  it('B5: with keepaliveFrame message the answering heartbeat is the sample; the in-place step agrees', () => {
    const messages = definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 500, minPingIntervalMs: 100, keepaliveFrame: 'message' });
    let copy: PeerState = createPeerState(messages, 0, 0.5);
    const inPlace: MutablePeerState = { ...copy };
    const events = [
      { type: 'timeout', now: 500 },
      { type: 'inbound', kind: 'heartbeat', now: 560 },
      { type: 'inbound', kind: 'message', now: 700 },
      { type: 'timeout', now: 1_500 },
      { type: 'inbound', kind: 'heartbeat', now: 1_520 },
    ] as const;
    for (const event of events) {
      copy = peerStep(copy, event, []);
      peerStepInPlace(inPlace, event, []);
    }
    expect(roundTripTime(copy)).toMatchObject({ latestMs: 20, minMs: 20, samples: 2, answered: 2 });
    expect(inPlace).toEqual(copy);
  });
});
