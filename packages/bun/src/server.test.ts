import { describe, expect, it, vi } from 'vitest';
import { KeepaliveOptionError } from '@keepalive/core';
import { manualPlatform } from 'keepalive-test-support';
import { createScheduler } from './platform.js';
import { withKeepalive, type BunServerWebSocketLike, type BunWebSocketHandlerLike } from './server.js';

/** Unit tests of the Bun.serve wrapper with socket doubles on a manual clock (the real Bun runs in keepalive-conformance). */

class ServerSocket implements BunServerWebSocketLike {
  readonly log: string[] = [];
  ping(): number {
    this.log.push('ping');
    return 0;
  }
  send(data: string): number {
    this.log.push(`send:${JSON.stringify(data)}`);
    return 1;
  }
  close(code?: number, reason?: string): void {
    this.log.push(`close:${String(code)}:${String(reason)}`);
  }
  terminate(): void {
    this.log.push('terminate');
  }
}

function setup(options: Parameters<typeof withKeepalive>[1] = {}, handler: Partial<BunWebSocketHandlerLike> = {}) {
  const platform = manualPlatform();
  const calls: string[] = [];
  const user: BunWebSocketHandlerLike = {
    message: (_ws, message) => {
      calls.push(`message:${typeof message === 'string' ? JSON.stringify(message) : 'binary'}`);
      return 'message-result';
    },
    open: () => calls.push('open'),
    close: (_ws, code, reason) => calls.push(`close:${code}:${reason}`),
    ping: () => calls.push('ping'),
    pong: () => calls.push('pong'),
    ...handler,
  };
  const websocket = withKeepalive(user, { scheduler: createScheduler({ platform }), random: () => 0, ...options });
  return { platform, calls, websocket };
}

describe('withKeepalive', () => {
  it('keeps the handler and its settings, turning Bun’s own idle timeout and pings off unless set', () => {
    const { websocket } = setup();
    expect(websocket.idleTimeout).toBe(0);
    expect(websocket.sendPings).toBe(false);
    const custom = withKeepalive({ message: () => undefined, idleTimeout: 60, sendPings: true, maxPayloadLength: 1024 });
    expect(custom).toMatchObject({ idleTimeout: 60, sendPings: true, maxPayloadLength: 1024 });
    custom.keepalive.close();
  });

  it('refuses what is not a handler (TypeError), and bad options (KeepaliveOptionError naming the option)', () => {
    expect(() => withKeepalive(null as unknown as BunWebSocketHandlerLike)).toThrow(/message\(\) function/);
    expect(() => withKeepalive({} as BunWebSocketHandlerLike)).toThrow(/message\(\) function/);
    expect(() => withKeepalive(null as unknown as BunWebSocketHandlerLike)).toThrow(TypeError);
    const heartbeat = () => withKeepalive({ message: () => undefined }, { heartbeatMessage: 1 as unknown as string });
    expect(heartbeat).toThrow(KeepaliveOptionError);
    expect(heartbeat).toThrow('Invalid option heartbeatMessage: 1 (expected a string)');
    const interval = () => withKeepalive({ message: () => undefined }, { pingIntervalMs: -1 });
    expect(interval).toThrow(KeepaliveOptionError);
    expect(interval).toThrow(/^Invalid option pingIntervalMs: -1 \(expected/);
    expect(() => withKeepalive({ message: () => undefined }, { pingIntervalMS: 1_000 } as never)).toThrow(/Invalid option pingIntervalMS: 1000/);
  });

  it('B5: pings each open socket with ws.ping(); a pong is proof of life; no pong terminates it', () => {
    const { platform, calls, websocket } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50 });
    const live = new ServerSocket();
    const dead = new ServerSocket();
    websocket.open?.(live);
    websocket.open?.(dead);
    expect(calls).toEqual(['open', 'open']);
    expect(websocket.keepalive.size).toBe(2);
    platform.advance(1);
    expect(live.log).toEqual(['ping']);
    websocket.pong?.(live, new Uint8Array());
    expect(calls).toContain('pong');
    platform.advance(60);
    expect(dead.log).toEqual(['ping', 'terminate']);
    expect(live.log).toEqual(['ping']);
    platform.advance(45);
    expect(live.log).toEqual(['ping', 'ping']);
    websocket.message(live, 'any message is proof of life too');
    platform.advance(100);
    expect(live.log).toEqual(['ping', 'ping', 'ping']);
    expect(websocket.keepalive.stats()).toMatchObject({ tracked: 1, deadPeers: 1, pingsSent: 4 });
  });

  it('falls back to close() where a socket has no terminate()', () => {
    const { platform, websocket } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50 });
    const log: string[] = [];
    const socket: BunServerWebSocketLike = {
      ping: () => log.push('ping'),
      send: () => log.push('send'),
      close: (code?: number) => log.push(`close:${String(code)}`),
    };
    websocket.open?.(socket);
    platform.advance(60);
    expect(log).toEqual(['ping', 'close:undefined']);
  });

  it('answers heartbeat messages in kind, counts malformed ones, passes every message on', () => {
    const { calls, websocket } = setup();
    const socket = new ServerSocket();
    websocket.open?.(socket);
    expect(websocket.message(socket, '')).toBe('message-result');
    expect(socket.log).toEqual(['send:""']);
    websocket.message(socket, new Uint8Array(0));
    websocket.message(socket, 'hello');
    expect(calls).toEqual(['open', 'message:""', 'message:binary', 'message:"hello"']);
    expect(websocket.keepalive.stats()).toMatchObject({ heartbeatsAnswered: 1, malformedHeartbeats: 1 });
  });

  it('uses the configured heartbeat message', () => {
    const { websocket } = setup({ heartbeatMessage: 'hb' });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    websocket.message(socket, 'hb');
    websocket.message(socket, '');
    expect(socket.log).toEqual(['send:"hb"']);
  });

  it('B8: closes a client that pings too often with 1008', () => {
    const { platform, websocket } = setup({ minPingIntervalMs: 1_000, maxPingStrikes: 2 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    for (let i = 0; i < 4; i++) {
      websocket.ping?.(socket, new Uint8Array());
      platform.advance(10);
    }
    expect(socket.log).toContain('close:1008:ping_flood');
    expect(websocket.keepalive.stats()).toMatchObject({ floodClosed: 1, tracked: 0 });
  });

  it('closes connections silent for idleCloseMs with 4000', () => {
    const { platform, websocket } = setup({ idleCloseMs: 500, pingIntervalMs: 10_000, minPingIntervalMs: 100, random: () => 0.5 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    platform.advance(300);
    websocket.message(socket, 'still here');
    platform.advance(300);
    expect(socket.log).toEqual([]);
    platform.advance(300);
    expect(socket.log).toEqual(['close:4000:idle_timeout']);
    expect(websocket.keepalive.stats().idleClosed).toBe(1);
  });

  it('forgets a socket on close, then calls the user’s close', () => {
    const { platform, calls, websocket } = setup({ pingIntervalMs: 100 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    websocket.close?.(socket, 1000, 'bye');
    expect(calls).toEqual(['open', 'close:1000:bye']);
    expect(websocket.keepalive.size).toBe(0);
    platform.advance(500);
    expect(socket.log).toEqual([]);
    // Events of an unknown socket only pass through.
    websocket.pong?.(socket, new Uint8Array());
    websocket.close?.(socket, 1000, 'again');
    expect(platform.pending).toBe(0);
  });

  it('works without the optional user handlers', () => {
    const { websocket } = setup({}, { open: undefined, close: undefined, ping: undefined, pong: undefined } as unknown as Partial<BunWebSocketHandlerLike>);
    const socket = new ServerSocket();
    expect(websocket.open?.(socket)).toBeUndefined();
    expect(websocket.ping?.(socket, new Uint8Array())).toBeUndefined();
    expect(websocket.pong?.(socket, new Uint8Array())).toBeUndefined();
    expect(websocket.close?.(socket, 1000, '')).toBeUndefined();
  });

  it('close() and dispose stop tracking every socket; later sockets are not tracked', () => {
    const { platform, websocket } = setup({ pingIntervalMs: 100 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    websocket.keepalive[Symbol.dispose]();
    websocket.keepalive.close();
    expect(websocket.keepalive.size).toBe(0);
    websocket.open?.(new ServerSocket());
    expect(websocket.keepalive.size).toBe(0);
    platform.advance(500);
    expect(socket.log).toEqual([]);
    expect(websocket.keepalive.tracker.stats().tracked).toBe(0);
  });

  it('counts a socket that throws instead of letting it escape, and still calls the user', () => {
    const { platform, calls, websocket } = setup({ pingIntervalMs: 100, pongTimeoutMs: 1_000 });
    const socket = new ServerSocket();
    socket.ping = () => {
      throw new Error('socket gone');
    };
    websocket.open?.(socket);
    platform.advance(50);
    const opened = new ServerSocket();
    const spy = vi.spyOn(websocket.keepalive.tracker, 'track').mockImplementation(() => {
      throw new Error('tracker failure');
    });
    websocket.open?.(opened);
    spy.mockRestore();
    expect(calls).toEqual(['open', 'open']);
    expect(websocket.keepalive.stats().handlerErrors).toBe(2);
  });
});
