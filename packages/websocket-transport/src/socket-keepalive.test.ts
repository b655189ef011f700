import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KeepaliveOptionError, answerHeartbeat } from '@keepalive/core';
import type { KeepaliveSender, SessionActivity } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE } from './heartbeat.js';
import { FakeSocket } from 'keepalive-test-support';
import { keepaliveWhatwgSocket } from './socket-keepalive.js';

/** Unit tests of the light WHATWG-socket helper with a socket double and a recording activity double. */

/** The shared socket double (keepalive-test-support) with the optional ping() and terminate() of Bun's socket. */
class PingingSocket extends FakeSocket {
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminated++;
  }
}

/** Just enough of a session activity: records attach, detach and proof of life. */
function fakeActivity() {
  const calls = { alive: 0, attached: 0, detached: 0 };
  let sender: KeepaliveSender | null = null;
  const state = { shutdown: false };
  const activity = {
    state,
    attach(given: KeepaliveSender) {
      calls.attached++;
      sender = given;
    },
    detach() {
      calls.detached++;
      sender = null;
    },
    alive() {
      calls.alive++;
    },
  } as unknown as SessionActivity;
  const keepalive = (): void => {
    if (sender === null) throw new Error('no sender attached');
    if (typeof sender === 'function') sender();
    else sender.sendKeepalive();
  };
  const closeTransport = (): void => {
    if (sender === null || typeof sender === 'function') throw new Error('no sender with closeTransport');
    sender.closeTransport?.({ type: 'close', reason: 'dead_peer', code: 1006, terminate: true });
  };
  return { activity, calls, state, keepalive, closeTransport, attached: () => sender !== null };
}

describe('keepaliveWhatwgSocket', () => {
  it('B5: a heartbeat message that answers ours is not echoed; the server’s own is answered once', () => {
    const socket = new FakeSocket();
    const { activity, calls, keepalive } = fakeActivity();
    keepaliveWhatwgSocket(socket, activity, { keepalive: 'message', heartbeatMessage: 'hb' });
    socket.emit('open');
    expect(calls.attached).toBe(1);
    keepalive();
    expect(socket.sent).toEqual(['hb']);
    socket.emit('message', { data: 'hb' });
    expect(socket.sent).toEqual(['hb']);
    socket.emit('message', { data: 'hb' });
    expect(socket.sent).toEqual(['hb', 'hb']);
    socket.emit('message', { data: 'data' });
    expect(socket.sent).toEqual(['hb', 'hb']);
    expect(calls.alive).toBe(3);
  });

  it('B5: with protocol pings nothing is owed, so every heartbeat message from the server is answered', () => {
    const socket = new PingingSocket();
    const { activity, calls, keepalive, closeTransport } = fakeActivity();
    socket.readyState = 1;
    keepaliveWhatwgSocket(socket, activity);
    expect(calls.attached).toBe(1);
    keepalive();
    expect(socket.pings).toBe(1);
    socket.emit('message', { data: HEARTBEAT_MESSAGE });
    expect(socket.sent).toEqual([HEARTBEAT_MESSAGE]);
    socket.emit('pong');
    socket.emit('ping');
    expect(calls.alive).toBe(3);
    closeTransport();
    expect(socket.terminated).toBe(1);
  });

  it('sends nothing into a socket that is not open, and answers nothing there', () => {
    const socket = new FakeSocket();
    const { activity, keepalive } = fakeActivity();
    keepaliveWhatwgSocket(socket, activity, { keepalive: 'message' });
    socket.emit('open');
    socket.readyState = 2;
    keepalive();
    socket.emit('message', { data: HEARTBEAT_MESSAGE });
    expect(socket.sent).toEqual([]);
  });

  it('B1: refuses a bad keepalive mode or heartbeat message with a KeepaliveOptionError naming the option', () => {
    const { activity } = fakeActivity();
    const bad: [string, unknown, object][] = [
      ['keepalive', 'pings', { keepalive: 'pings' }],
      ['heartbeatMessage', 0, { heartbeatMessage: 0 }],
    ];
    for (const [option, value, options] of bad) {
      let error: unknown;
      try {
        keepaliveWhatwgSocket(new FakeSocket(), activity, options);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(KeepaliveOptionError);
      expect(error).toMatchObject({ option, value });
      expect((error as Error).message).toContain(`Invalid option ${option}`);
    }
  });

  it('S4: dispose removes the listeners and detaches; a close does the same; a shut-down activity is left alone', () => {
    const socket = new FakeSocket();
    const { activity, calls, state } = fakeActivity();
    const dispose = keepaliveWhatwgSocket(socket, activity);
    socket.emit('open');
    socket.emit('close');
    expect(socket.listenerCount()).toBe(0);
    expect(calls.detached).toBe(1);
    dispose();
    expect(calls.detached).toBe(1);
    state.shutdown = true;
    const later = new FakeSocket();
    keepaliveWhatwgSocket(later, activity);
    later.emit('open');
    later.emit('message', { data: 'x' });
    expect(calls).toMatchObject({ attached: 1, alive: 0 });
  });

  it('B5: over any sequence of our heartbeats and the server’s, replies follow the core’s rule exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 100 }), (events) => {
        const socket = new FakeSocket();
        const { activity, keepalive } = fakeActivity();
        keepaliveWhatwgSocket(socket, activity, { keepalive: 'message' });
        socket.emit('open');
        let owed = 0;
        let replies = 0;
        let sentByUs = 0;
        for (const weSend of events) {
          if (weSend) {
            keepalive();
            owed++;
            sentByUs++;
            continue;
          }
          socket.emit('message', { data: HEARTBEAT_MESSAGE });
          const verdict = answerHeartbeat(owed);
          owed = verdict.unanswered;
          if (verdict.reply) replies++;
        }
        expect(socket.sent).toHaveLength(sentByUs + replies);
      }),
    );
  });
});
