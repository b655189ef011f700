import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeSocket, manualPlatform } from 'keepalive-test-support';
import { createSessionActivity } from './activity.ts';
import { connectWithKeepalive, keepaliveSocket } from './client.ts';
import type { DenoWebSocketLike } from './deno-like.ts';
import { createScheduler } from './platform.ts';

/** Unit tests of the client helper with socket doubles on a manual clock (the real Deno runs in keepalive-conformance). */

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
  it('attaches on open and sends heartbeat messages while busy, silent while idle (S4)', () => {
    const { platform, activity } = setup();
    const socket = new FakeSocket();
    keepaliveSocket(socket, activity);
    const release = activity.start('api_call');
    platform.advance(250);
    expect(socket.sent).toEqual([]);
    expect(activity.isTrackingActive()).toBe(false);
    socket.emit('open');
    expect(activity.isTrackingActive()).toBe(true);
    platform.advance(250);
    expect(socket.sent).toEqual(['', '']);
    release();
    platform.advance(500);
    expect(socket.sent).toEqual(['', '']);
  });

  it('attaches at once to a socket that is already open, with the configured heartbeat message', () => {
    const { platform, activity } = setup();
    const socket = new FakeSocket();
    socket.readyState = 1;
    keepaliveSocket(socket, activity, { heartbeatMessage: 'hb' });
    expect(activity.isTrackingActive()).toBe(true);
    activity.start('api_call');
    platform.advance(200);
    expect(socket.sent).toEqual(['hb', 'hb']);
  });

  it('B5: any message is proof of life; silence is a dead peer and the socket is closed', () => {
    const { platform, activity, diagnostics } = setup({ pongTimeoutMs: 50 });
    const socket = new FakeSocket();
    keepaliveSocket(socket, activity);
    socket.emit('open');
    activity.start('api_call');
    platform.advance(100);
    socket.emit('message', { data: '' });
    platform.advance(100);
    socket.emit('message', { data: 'hello' });
    expect(diagnostics).not.toContain('dead_peer');
    platform.advance(160);
    expect(diagnostics).toContain('dead_peer');
    expect(socket.closes).toEqual([{ code: undefined, reason: undefined }]);
    expect(activity.isTrackingActive()).toBe(false);
    socket.emit('close');
    expect(diagnostics).not.toContain('event_after_shutdown');
  });

  it('sends nothing into a socket that is no longer open', () => {
    const { platform, activity } = setup();
    const socket = new FakeSocket();
    keepaliveSocket(socket, activity);
    socket.emit('open');
    activity.start('api_call');
    socket.readyState = 2;
    platform.advance(300);
    expect(socket.sent).toEqual([]);
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
    const first = new FakeSocket();
    const second = new FakeSocket();
    keepaliveSocket(first, activity);
    keepaliveSocket(second, activity);
    activity.start('tool_exec');
    first.emit('open');
    second.emit('open');
    first.emit('close');
    expect(activity.isTrackingActive()).toBe(true);
    platform.advance(100);
    expect(second.sent).toEqual(['']);
    expect(first.sent).toEqual([]);
    second.emit('close');
    expect(activity.isTrackingActive()).toBe(false);
    expect(second.listenerCount()).toBe(0);
  });

  it('the returned function removes its listeners and detaches; after shutdown nothing reaches the activity', () => {
    const { activity, diagnostics } = setup();
    const socket = new FakeSocket();
    const dispose = keepaliveSocket(socket, activity);
    socket.emit('open');
    dispose();
    dispose();
    expect(socket.listenerCount()).toBe(0);
    expect(activity.isTrackingActive()).toBe(false);
    const other = new FakeSocket();
    keepaliveSocket(other, activity);
    activity.shutdown();
    other.emit('open');
    other.emit('message', { data: 'x' });
    other.emit('close');
    expect(diagnostics).not.toContain('event_after_shutdown');
  });

  it('refuses bad options', () => {
    const { activity } = setup();
    expect(() => keepaliveSocket(new FakeSocket(), activity, { heartbeatMessage: 0 as unknown as string })).toThrow(/heartbeatMessage/);
  });
});

describe('connectWithKeepalive', () => {
  it('opens a socket with the given class and protocols and wires it', () => {
    const { activity } = setup();
    const made: { url: string | URL; protocols: unknown }[] = [];
    class Socket extends FakeSocket {
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
    vi.stubGlobal('WebSocket', FakeSocket);
    expect(connectWithKeepalive('ws://127.0.0.1:1', activity)).toBeInstanceOf(FakeSocket);
    vi.stubGlobal('WebSocket', undefined);
    expect(() => connectWithKeepalive('ws://127.0.0.1:1', activity)).toThrow(/no WebSocket class/);
  });

  it('accepts a socket typed by the caller', () => {
    const socket: DenoWebSocketLike = new FakeSocket();
    expect(typeof keepaliveSocket(socket, setup().activity)).toBe('function');
  });
});
