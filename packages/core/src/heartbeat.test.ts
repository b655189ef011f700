import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { KeepaliveOptionError, answerHeartbeat, checkHeartbeatMessage, utf8Length } from './index.js';

/**
 * The heartbeat-answer rule (spec B5, B8 with heartbeat messages): one copy in
 * the core, used by the peer machine and by every driver that sends
 * heartbeat messages instead of protocol pings.
 */

type HeartbeatEvent = 'sent' | 'arrived';

/** Runs the rule over a sequence of events, the way a driver keeps its count. */
function run(events: readonly HeartbeatEvent[]): { replies: boolean[]; owed: number[] } {
  let unanswered = 0;
  const replies: boolean[] = [];
  const owed: number[] = [];
  for (const event of events) {
    if (event === 'sent') {
      unanswered++;
    } else {
      const verdict = answerHeartbeat(unanswered);
      unanswered = verdict.unanswered;
      replies.push(verdict.reply);
    }
    owed.push(unanswered);
  }
  return { replies, owed };
}

describe('answerHeartbeat', () => {
  it('B5: a heartbeat that arrives while one of ours is unanswered is its answer, not echoed', () => {
    expect(answerHeartbeat(1)).toEqual({ unanswered: 0, reply: false });
    expect(answerHeartbeat(3)).toEqual({ unanswered: 2, reply: false });
  });

  it('B5: a heartbeat that arrives while nothing is owed is the peer’s own, answered once', () => {
    expect(answerHeartbeat(0)).toEqual({ unanswered: 0, reply: true });
  });

  it('B5: a negative, fractional or non-finite count is treated as zero (nothing owed)', () => {
    for (const bad of [-1, 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(answerHeartbeat(bad)).toEqual({ unanswered: 0, reply: true });
    }
  });

  it('B5: two ends that both keep alive by heartbeat never echo each other forever', () => {
    // Both send at once; each takes the other's as the answer to its own: nothing more is sent.
    let a = 1;
    let b = 1;
    const atA = answerHeartbeat(a);
    const atB = answerHeartbeat(b);
    a = atA.unanswered;
    b = atB.unanswered;
    expect([atA.reply, atB.reply, a, b]).toEqual([false, false, 0, 0]);
    // One end keeps alive, the other answers: one answer, settled, no reply to the answer.
    const own = answerHeartbeat(0);
    expect(own.reply).toBe(true);
    expect(answerHeartbeat(1).reply).toBe(false);
  });

  it('B3: verdicts are plain, serialisable data', () => {
    for (const count of [0, 2]) expect(JSON.parse(JSON.stringify(answerHeartbeat(count)))).toEqual(answerHeartbeat(count));
  });

  test.prop([fc.array(fc.constantFrom<HeartbeatEvent>('sent', 'arrived'), { maxLength: 200 })])(
    'B5: over any sequence, replies go exactly to the arrivals beyond what we owed; unanswered is never negative',
    (events) => {
      const { replies, owed } = run(events);
      // The oracle: with D = arrivals - sent over a prefix, an arrival is the peer's own (answered)
      // exactly when it raises D above every earlier prefix and above 0.
      let sent = 0;
      let arrived = 0;
      let highest = 0;
      const expected: boolean[] = [];
      for (const event of events) {
        if (event === 'sent') {
          sent++;
          continue;
        }
        arrived++;
        const excess = arrived - sent;
        expected.push(excess > highest);
        highest = Math.max(highest, excess);
      }
      expect(replies).toEqual(expected);
      for (const count of owed) expect(count).toBeGreaterThanOrEqual(0);
      // What is still owed is what we sent minus the arrivals that answered it.
      const answered = replies.filter((reply) => !reply).length;
      expect(owed.at(-1) ?? 0).toBe(sent - answered);
      // Replies never exceed arrivals, answers never exceed what we sent.
      expect(replies.length - answered).toBe(Math.max(0, highest));
      expect(answered).toBeLessThanOrEqual(sent);
    },
  );
});

describe('utf8Length and checkHeartbeatMessage (B1)', () => {
  it('B1: utf8Length matches TextEncoder for any string, lone surrogates included', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(utf8Length(text)).toBe(encoder.encode(text).byteLength);
      }),
    );
    for (const text of ['', 'a', 'é', '€', '😀', '\ud800', '\udc00x', 'a\ud83d']) expect(utf8Length(text)).toBe(encoder.encode(text).byteLength);
  });

  it('B1: a heartbeat message is a string of at most 125 UTF-8 bytes, refused by name otherwise', () => {
    expect(checkHeartbeatMessage('heartbeatMessage', 'x'.repeat(125))).toHaveLength(125);
    expect(() => checkHeartbeatMessage('heartbeatMessage', 'é'.repeat(63))).toThrow(/Invalid option heartbeatMessage: .*at most 125 UTF-8 bytes/);
    expect(() => checkHeartbeatMessage('keepalive.heartbeatMessage', 5)).toThrow(KeepaliveOptionError);
  });
});
