// worker.mjs: a Worker in front of a Durable Object whose WebSockets hibernate. Clients' keep-alives are answered by
// the runtime without waking the object; a client silent for IDLE_CLOSE_MS is closed on the object's alarm; a client
// that asks for a resumable session gets one kept in the object's storage, so it survives eviction and restarts.
import { DurableObject } from 'cloudflare:workers';
import { createHibernatingKeepalive } from '@keepalive/cloudflare';

export class Agent extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Runs again after every eviction: the keep-alive keeps nothing in memory that must outlive one.
    this.keepalive = createHibernatingKeepalive(ctx, {
      idleCloseMs: Number(env.IDLE_CLOSE_MS ?? 300_000),
      // The clients' heartbeat interval may not be shorter than this (B8, B13).
      minPingIntervalMs: Number(env.MIN_PING_INTERVAL_MS ?? 5_000),
      // Clients that ask for it (resume: resumable()) get a session that replays what the other end missed.
      resume: { sessionTtlMs: 120_000 },
    });
    // A new instance starts empty and takes sessions up from the storage as their clients come back.
    this.keepalive.sessions.on('session', ({ session }) => {
      session.on('message', (message) => session.send(`echo: ${typeof message === 'string' ? message : `${message.byteLength} bytes`}`));
    });
  }

  async fetch(request) {
    // The attachment holds the keep-alive's state and, beside it, yours: it survives hibernation.
    const user = new URL(request.url).searchParams.get('user') ?? 'anonymous';
    return this.keepalive.upgrade(request, { attachment: { user } });
  }

  async webSocketMessage(ws, message) {
    // Heartbeats (and malformed ones) and resumable sessions' frames are the keep-alive's; everything else is yours.
    if ((await this.keepalive.webSocketMessage(ws, message)) !== 'data') return;
    const { user } = this.keepalive.attachment(ws);
    ws.send(`${user}: ${typeof message === 'string' ? message : `${message.byteLength} bytes`}`);
  }

  async webSocketClose(ws, code, reason) {
    // Awaited: after an eviction, a resumable session's close may read the storage before the event ends.
    await this.keepalive.webSocketClose(ws, code, reason);
  }

  async webSocketError(ws) {
    await this.keepalive.webSocketError(ws);
  }

  async alarm() {
    await this.keepalive.alarm();
  }
}

export default {
  async fetch(request, env) {
    // One object per room: /room-name?user=...
    const room = new URL(request.url).pathname.slice(1) || 'lobby';
    return env.AGENT.get(env.AGENT.idFromName(room)).fetch(request);
  },
};
