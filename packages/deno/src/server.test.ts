import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeSocket, manualPlatform } from 'keepalive-test-support';
import { PeerTracker } from '@keepalive/websocket-transport/peer';
import type { DenoLike, DenoUpgradeOptions } from './deno-like.ts';
import { createScheduler } from './platform.ts';
import { createKeepaliveTracker, upgradeWithKeepalive } from './server.ts';

/** Unit tests of the Deno.upgradeWebSocket integration with socket doubles on a manual clock (the real Deno runs in keepalive-conformance). */

afterEach(() => {
  vi.unstubAllGlobals();
});

function fakeDeno() {
  const upgrades: { request: Request; options: DenoUpgradeOptions | undefined; socket: FakeSocket }[] = [];
  const deno: DenoLike = {
    unrefTimer: () => undefined,
    refTimer: () => undefined,
    version: { deno: '2.9.6' },
    upgradeWebSocket: (request, options) => {
      const socket = new FakeSocket();
      upgrades.push({ request, options, socket });
      return { socket, response: new Response(null, { status: 200 }) };
    },
  };
  return { deno, upgrades };
}

function setup(options: ConstructorParameters<typeof PeerTracker>[0] = {}) {
  const platform = manualPlatform();
  const tracker = new PeerTracker({ scheduler: createScheduler({ platform }), random: () => 0, keepaliveFrame: 'message', ...options });
  const { deno, upgrades } = fakeDeno();
  const upgrade = (extra: Parameters<typeof upgradeWithKeepalive>[1] = {}) => {
    const result = upgradeWithKeepalive(new Request('http://127.0.0.1/'), { tracker, deno, ...extra });
    const socket = upgrades.at(-1)!.socket;
    return { ...result, socket };
  };
  return { platform, tracker, upgrade, upgrades };
}

describe('upgradeWithKeepalive', () => {
  it('upgrades with Deno’s own idle timeout off unless set, and the subprotocol given', () => {
    const { upgrade, upgrades, tracker } = setup();
    const result = upgrade();
    expect(result.tracker).toBe(tracker);
    expect(result.response.status).toBe(200);
    upgrade({ protocol: 'chat', idleTimeout: 30 });
    expect(upgrades.map((u) => u.options)).toEqual([{ idleTimeout: 0 }, { protocol: 'chat', idleTimeout: 30 }]);
  });

  it('refuses a tracker together with peer options, a bad heartbeat message, and a missing Deno', () => {
    const { tracker, deno } = { ...setup(), deno: fakeDeno().deno };
    const request = new Request('http://127.0.0.1/');
    expect(() => upgradeWithKeepalive(request, { tracker, pingIntervalMs: 1_000, deno })).toThrow(/either a tracker or peer options \(pingIntervalMs\)/);
    expect(() => upgradeWithKeepalive(request, { heartbeatMessage: 1 as unknown as string, deno })).toThrow(/heartbeatMessage/);
    expect(() => upgradeWithKeepalive(request)).toThrow(/not running on Deno/);
    vi.stubGlobal('Deno', deno);
    const own = upgradeWithKeepalive(request, { pingIntervalMs: 1_000 });
    expect(own.tracker).not.toBe(tracker);
    expect(own.tracker.config.pingIntervalMs).toBe(1_000);
    expect(own.tracker.config.keepaliveFrame).toBe('message');
  });

  it('refuses a tracker whose peers expect protocol pings (Deno sends heartbeat messages), and peer options asking for them', () => {
    const { deno } = fakeDeno();
    const request = new Request('http://127.0.0.1/');
    const pinging = new PeerTracker({ scheduler: createScheduler({ platform: manualPlatform() }) });
    expect(() => upgradeWithKeepalive(request, { tracker: pinging, deno })).toThrow(/Invalid option tracker: ping \(expected a tracker with keepaliveFrame 'message'/);
    expect(() => upgradeWithKeepalive(request, { keepaliveFrame: 'ping', deno })).toThrow(/Invalid option keepaliveFrame: ping/);
    expect(() => createKeepaliveTracker({ keepaliveFrame: 'ping' })).toThrow(/keepaliveFrame/);
  });

  it('sends the heartbeat message as the keep-alive from open on; an answer is proof of life, silence closes (B5)', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50 });
    const live = upgrade().socket;
    const dead = upgrade().socket;
    platform.advance(10);
    expect(live.sent).toEqual([]);
    live.emit('open');
    dead.emit('open');
    platform.advance(1);
    expect(live.sent).toEqual(['']);
    // The answer to our heartbeat: like a pong, not answered again (the core counts what it owes).
    expect(tracker.stats().tracked).toBe(2);
    live.emit('message', { data: '' });
    platform.advance(60);
    expect(dead.closes).toEqual([{ code: undefined, reason: undefined }]);
    expect(live.closes).toEqual([]);
    expect(live.sent).toEqual(['']);
    platform.advance(45);
    expect(live.sent).toEqual(['', '']);
    live.emit('message', { data: 'any message' });
    platform.advance(100);
    expect(live.closes).toEqual([]);
    expect(tracker.stats()).toMatchObject({ tracked: 1, deadPeers: 1, heartbeatsAnswered: 0 });
  });

  it('answers a client’s own heartbeat in kind, counts malformed ones, and uses the configured message', () => {
    const { upgrade, tracker } = setup({ pingIntervalMs: 10_000 });
    const { socket } = upgrade({ heartbeatMessage: 'hb' });
    socket.emit('message', { data: 'hb' });
    socket.emit('open');
    socket.emit('message', { data: 'hb' });
    socket.emit('message', { data: new ArrayBuffer(0) });
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['hb']);
    expect(tracker.stats()).toMatchObject({ heartbeatsAnswered: 1, malformedHeartbeats: 2 });
  });

  it('B8: closes a client flooding heartbeats with 1008; idle clients with 4000', () => {
    // B13: the idle close must be above minPingIntervalMs, or a client keeping alive as slowly as allowed would be closed.
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 10_000, minPingIntervalMs: 100, maxPingStrikes: 2, idleCloseMs: 500, random: () => 0.5 });
    const flood = upgrade().socket;
    const idle = upgrade().socket;
    flood.emit('open');
    idle.emit('open');
    for (let i = 0; i < 4; i++) {
      flood.emit('message', { data: '' });
      platform.advance(10);
    }
    expect(flood.closes).toEqual([{ code: 1008, reason: 'ping_flood' }]);
    platform.advance(500);
    expect(idle.closes).toEqual([{ code: 4000, reason: 'idle_timeout' }]);
    expect(tracker.stats()).toMatchObject({ floodClosed: 1, idleClosed: 1, tracked: 0 });
  });

  it('forgets the connection on close and removes its listeners; sends nothing into a closing socket', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100 });
    const closing = upgrade().socket;
    closing.emit('open');
    closing.readyState = 2;
    platform.advance(150);
    expect(closing.sent).toEqual([]);
    closing.emit('message', { data: '' });
    expect(closing.sent).toEqual([]);
    closing.emit('close');
    expect(tracker.size).toBe(0);
    expect(closing.listenerCount()).toBe(0);
    const never = upgrade().socket;
    never.emit('close');
    expect(tracker.size).toBe(0);
  });

  it('counts a socket that throws instead of letting it escape', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100, pongTimeoutMs: 1_000 });
    const socket = upgrade().socket;
    socket.send = () => {
      throw new Error('socket gone');
    };
    socket.emit('open');
    platform.advance(50);
    expect(tracker.stats().handlerErrors).toBe(1);
    const spy = vi.spyOn(tracker, 'track').mockImplementation(() => {
      throw new Error('tracker failure');
    });
    upgrade().socket.emit('open');
    spy.mockRestore();
    expect(tracker.stats().handlerErrors).toBe(2);
  });
});

describe('createKeepaliveTracker', () => {
  it('makes a tracker on the Deno scheduler unless given one', () => {
    const scheduler = createScheduler({ platform: manualPlatform() });
    expect(createKeepaliveTracker({ scheduler }).scheduler).toBe(scheduler);
    expect(createKeepaliveTracker().config.pingIntervalMs).toBe(30_000);
  });

  it('makes a tracker whose keep-alives are heartbeat messages, counted by the core', () => {
    expect(createKeepaliveTracker().config.keepaliveFrame).toBe('message');
    expect(createKeepaliveTracker({ keepaliveFrame: 'message' }).config.keepaliveFrame).toBe('message');
  });

  it('B13: refuses an idle close not above the minimum ping interval, naming both options', () => {
    expect(() => createKeepaliveTracker({ idleCloseMs: 500, minPingIntervalMs: 1_000 })).toThrow(/idleCloseMs: 500 \(expected a duration above minPingIntervalMs \(1000\)\)/);
    expect(() => upgradeWithKeepalive(new Request('http://127.0.0.1/'), { idleCloseMs: 5_000, deno: fakeDeno().deno })).toThrow(/minPingIntervalMs \(5000\)/);
  });
});

describe('heartbeat messages on both ends (the core decides)', () => {
  it('B5: crossing heartbeats settle each other; a client heartbeat after ours was answered is the client’s own and answered once', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50, minPingIntervalMs: 10 });
    const { socket } = upgrade();
    socket.emit('open');
    platform.advance(1);
    expect(socket.sent).toEqual(['']);
    // The client's own heartbeat crosses ours: the core takes it as the answer, nothing is echoed.
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['']);
    // Nothing owed any more: the next one is the client's own, answered once.
    platform.advance(20);
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['', '']);
    expect(tracker.stats()).toMatchObject({ heartbeatsAnswered: 1, pingsSent: 1, deadPeers: 0 });
  });

  it('B8: answers to our heartbeats are not counted as a flood, however fast the server pings', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 20, pongTimeoutMs: 10, minPingIntervalMs: 1_000, maxPingStrikes: 0 });
    const { socket } = upgrade();
    socket.emit('open');
    platform.advance(1);
    for (let i = 0; i < 20; i++) {
      // The client answers each heartbeat at once: 20 answers in 400 ms, far faster than minPingIntervalMs.
      socket.emit('message', { data: '' });
      platform.advance(20);
    }
    expect(socket.closes).toEqual([]);
    expect(tracker.stats()).toMatchObject({ floodClosed: 0, deadPeers: 0, heartbeatsAnswered: 0, pingsSent: 21 });
    expect(socket.sent).toHaveLength(21);
  });
});
