// worker.mjs: a Worker in front of a Durable Object whose WebSockets hibernate. Clients' keep-alives are answered by
// the runtime without waking the object; a client silent for IDLE_CLOSE_MS is closed on the object's alarm.
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
    });
  }

  async fetch(request) {
    // The attachment holds the keep-alive's state and, beside it, yours: it survives hibernation.
    const user = new URL(request.url).searchParams.get('user') ?? 'anonymous';
    return this.keepalive.upgrade(request, { attachment: { user } });
  }

  async webSocketMessage(ws, message) {
    // Heartbeats (and malformed ones) are the keep-alive's; everything else is yours.
    if ((await this.keepalive.webSocketMessage(ws, message)) !== 'data') return;
    const { user } = this.keepalive.attachment(ws);
    ws.send(`${user}: ${typeof message === 'string' ? message : `${message.byteLength} bytes`}`);
  }

  async webSocketClose(ws, code, reason) {
    this.keepalive.webSocketClose(ws, code, reason);
  }

  async webSocketError(ws) {
    this.keepalive.webSocketError(ws);
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
