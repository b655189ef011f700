import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeSocket, manualPlatform } from 'keepalive-test-support';
import { createSessionActivity } from './activity.js';
import { connectWithKeepalive, keepaliveSocket, type BunWebSocketLike } from './client.js';
import { createScheduler } from './platform.js';
import { FakeBunSocket } from './test-support/fakes.js';

/** Unit tests of the client helper with socket doubles on a manual clock (the real Bun runs in keepalive-conformance). */

function setup(options: Parameters<typeof createSessionActivity>[0] = {}) {
  const platform = manualPlatform();
  const diagnostics: string[] = [];
  const activity = createSessionActivity({
    heartbeatIntervalMs: 100,
    scheduler: createScheduler({ platform }),
    onDiagnostic: (diagnostic) => diagnostics.push(diagnostic.name),
    ...options,
  });
  return { platform, activity, diagnostics };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('keepaliveSocket', () => {
  it('attaches on open and sends protocol pings while busy (Bun’s socket has ping())', () => {
    const { platform, activity } = setup();
    const socket = new FakeBunSocket();
    keepaliveSocket(socket, activity);
    const release = activity.start('api_call');
    platform.advance(250);
    expect(socket.pings).toBe(0);
    expect(activity.isTrackingActive()).toBe(false);
    socket.emit('open');
    expect(activity.isTrackingActive()).toBe(true);
    platform.advance(250);
    expect(socket.pings).toBe(2);
    release();
    platform.advance(500);
    expect(socket.pings).toBe(2);
    expect(socket.sent).toEqual([]);
  });

  it("attaches at once to a socket that is already open; 'message' mode sends heartbeat messages", () => {
    const { platform, activity } = setup();
    const socket = new FakeBunSocket();
    socket.readyState = 1;
    keepaliveSocket(socket, activity, { keepalive: 'message', heartbeatMessage: 'hb' });
    expect(activity.isTrackingActive()).toBe(true);
    activity.start('api_call');
    platform.advance(200);
    expect(socket.sent).toEqual(['hb', 'hb']);
    expect(socket.pings).toBe(0);
  });

  it('B5: pongs, pings and messages are proof of life; silence is a dead peer and the socket is terminated', () => {
    const { platform, activity, diagnostics } = setup({ pongTimeoutMs: 50 });
    const socket = new FakeBunSocket();
    keepaliveSocket(socket, activity);
    socket.emit('open');
    activity.start('api_call');
    platform.advance(100);
    socket.emit('pong');
    platform.advance(100);
    socket.emit('ping');
    platform.advance(100);
    socket.emit('message', { data: 'hello' });
    expect(diagnostics).not.toContain('dead_peer');
    platform.advance(160);
    expect(diagnostics).toContain('dead_peer');
    expect(socket.terminated).toBe(1);
    expect(activity.isTrackingActive()).toBe(false);
    // The close that follows does not detach again (the verdict already did).
    socket.emit('close');
    expect(diagnostics.filter((name) => name === 'event_after_shutdown')).toEqual([]);
  });

  it('closes a socket without terminate() on a dead peer', () => {
    const { platform, activity } = setup({ pongTimeoutMs: 50 });
    const socket = new FakeSocket();
    keepaliveSocket(socket, activity);
    socket.emit('open');
    activity.start('api_call');
    platform.advance(200);
    expect(socket.sent).toEqual(['']);
    expect(socket.closes).toEqual([{ code: undefined, reason: undefined }]);
  });

  it('answers a server heartbeat, but not the answer to its own (no echo loop)', () => {
    const { platform, activity } = setup();
    const socket = new FakeSocket();
    keepaliveSocket(socket, activity);
    socket.emit('open');
    // The server's own keep-alive: answered.
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['']);
    activity.start('api_call');
    platform.advance(100);
    expect(socket.sent).toEqual(['', '']);
    // The answer to ours: settles it, not echoed.
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['', '']);
    // Two of ours in flight, answers crossing with a server keep-alive: never more than one reply per message.
    platform.advance(200);
    expect(socket.sent).toHaveLength(4);
    for (let i = 0; i < 3; i++) socket.emit('message', { data: '' });
    expect(socket.sent).toHaveLength(5);
    socket.readyState = 2;
    socket.emit('message', { data: '' });
    expect(socket.sent).toHaveLength(5);
  });

  it('detaches on close, but a late close of an old socket never detaches the newer one', () => {
    const { platform, activity } = setup();
    const first = new FakeBunSocket();
    const second = new FakeBunSocket();
    keepaliveSocket(first, activity);
    keepaliveSocket(second, activity);
    activity.start('tool_exec');
    first.emit('open');
    second.emit('open');
    first.emit('close');
    expect(activity.isTrackingActive()).toBe(true);
    platform.advance(100);
    expect(second.pings).toBe(1);
    expect(first.pings).toBe(0);
    second.emit('close');
    expect(activity.isTrackingActive()).toBe(false);
    expect(second.listenerCount()).toBe(0);
  });

  it('the returned function removes its listeners and detaches; after shutdown nothing reaches the activity', () => {
    const { activity, diagnostics } = setup();
    const socket = new FakeBunSocket();
    const dispose = keepaliveSocket(socket, activity);
    socket.emit('open');
    dispose();
    dispose();
    expect(socket.listenerCount()).toBe(0);
    expect(activity.isTrackingActive()).toBe(false);
    const other = new FakeBunSocket();
    keepaliveSocket(other, activity);
    activity.shutdown();
    other.emit('open');
    other.emit('message', { data: 'x' });
    other.emit('pong');
    other.emit('close');
    expect(diagnostics).not.toContain('event_after_shutdown');
  });

  it('refuses bad options', () => {
    const { activity } = setup();
    expect(() => keepaliveSocket(new FakeSocket(), activity, { keepalive: 'pings' as 'auto' })).toThrow(/keepalive/);
    expect(() => keepaliveSocket(new FakeSocket(), activity, { heartbeatMessage: 0 as unknown as string })).toThrow(/heartbeatMessage/);
  });
});

describe('connectWithKeepalive', () => {
  it('opens a socket with the given class and protocols and wires it', () => {
    const { activity } = setup();
    const made: { url: string | URL; protocols: unknown }[] = [];
    class Socket extends FakeBunSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super();
        made.push({ url, protocols });
      }
    }
    const socket = connectWithKeepalive('ws://127.0.0.1:1', activity, { WebSocket: Socket, protocols: ['chat'] });
    const plain = connectWithKeepalive('ws://127.0.0.1:2', activity, { WebSocket: Socket });
    expect(made).toEqual([
      { url: 'ws://127.0.0.1:1', protocols: ['chat'] },
      { url: 'ws://127.0.0.1:2', protocols: undefined },
    ]);
    socket.emit('open');
    expect(activity.isTrackingActive()).toBe(true);
    expect(plain).toBeInstanceOf(Socket);
  });

  it('uses the global WebSocket, and says so when there is none', () => {
    const { activity } = setup();
    vi.stubGlobal('WebSocket', FakeBunSocket);
    expect(connectWithKeepalive('ws://127.0.0.1:1', activity)).toBeInstanceOf(FakeBunSocket);
    vi.stubGlobal('WebSocket', undefined);
    expect(() => connectWithKeepalive('ws://127.0.0.1:1', activity)).toThrow(/no WebSocket class/);
  });

  it('accepts a socket typed by the caller', () => {
    const socket: BunWebSocketLike = new FakeBunSocket();
    expect(typeof keepaliveSocket(socket, setup().activity)).toBe('function');
  });
});
