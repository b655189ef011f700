import { afterEach, describe, expect, it, vi } from 'vitest';
import { PeerTracker } from '@keepalive/websocket-transport/peer';
import type { DenoLike, DenoUpgradeOptions } from './deno-like.ts';
import { createScheduler } from './platform.ts';
import { createKeepaliveTracker, upgradeWithKeepalive } from './server.ts';
import { FakeSocket, manualPlatform } from './test-support/fakes.ts';

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
  const tracker = new PeerTracker({ scheduler: createScheduler({ platform }), random: () => 0, ...options });
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
    // The answer to our heartbeat: like a pong, not answered again.
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
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 10_000, minPingIntervalMs: 1_000, maxPingStrikes: 2, idleCloseMs: 500, random: () => 0.5 });
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
});
