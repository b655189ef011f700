/* global Response */
// A Durable Object serving resumable sessions (wire format v2) through createHibernatingKeepalive's `resume`, their
// state in the object's storage. Every handler invocation is counted (a wake); the application's log (what each
// session received, in order) lives in the isolate's module scope, which outlives an instance (eviction, ctx.abort).
// Worker routes: /__log, /__evict/<room>, /__abort/<room>, /__storage/<room>, /__send/<room>?text=...
import { DurableObject } from 'cloudflare:workers';
import { createHibernatingKeepalive } from '@keepalive/cloudflare';
import unsafe from 'workerd:unsafe';

const log = { constructed: 0, wakes: [], received: {}, stats: [], diagnostics: [], sessions: [], restoredMessages: [], endedUnheld: [] };

function wake(handler, object, frame) {
  log.wakes.push({ handler, at: Date.now(), instance: object.instance, frame: typeof frame === 'string' ? frame.slice(0, 12) : undefined });
}

export class Resumable extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    log.constructed++;
    this.instance = log.constructed;
    log.stats.push({ instance: this.instance, stats: null, store: null });
    this.live = new Set();
    this.keepalive = createHibernatingKeepalive(ctx, {
      minPingIntervalMs: 50,
      idleCloseMs: this.constructor.idleClose === false || env.IDLE_CLOSE_MS === undefined ? null : Number(env.IDLE_CLOSE_MS),
      resume: this.constructor.resume,
      onDiagnostic: (diagnostic) => {
        log.diagnostics.push(diagnostic.name);
        // How many unacknowledged server messages a session was taken up with from the storage.
        if (diagnostic.name === 'session_restored') log.restoredMessages.push(diagnostic.fields.messages);
        // How many unacknowledged server messages a session ended while no instance held it still had.
        if (diagnostic.name === 'session_ended_unheld') log.endedUnheld.push(diagnostic.fields.messages);
      },
    });
    this.keepalive.sessions.on('session', ({ session, resumed, restored, forgotten }) => {
      log.sessions.push({ instance: this.instance, resumed, restored, forgotten, unacked: session.unackedMessages });
      this.live.add(session);
      const received = (log.received[session.id] ??= []);
      session.on('message', (message) => {
        const text = typeof message === 'string' ? message : `${message.byteLength} bytes`;
        received.push(text);
        // Every client message is answered with one numbered server message.
        if (text.startsWith('c:')) session.send(`s:${text.slice(2)}`);
      });
      session.on('close', () => this.live.delete(session));
      session.on('expired', () => this.live.delete(session));
    });
  }

  /** The resume options of this class. */
  static resume = { sessionTtlMs: 30_000, ackDelayMs: 50 };

  record() {
    const entry = log.stats.find((item) => item.instance === this.instance);
    if (entry !== undefined) {
      entry.stats = this.keepalive.stats();
      entry.store = this.keepalive.store.stats();
    }
  }

  async fetch(request) {
    wake('fetch', this);
    try {
      const url = new URL(request.url);
      if (url.pathname.startsWith('/__abort')) {
        this.ctx.abort('restarted by the test');
      }
      if (url.pathname.startsWith('/__storage')) {
        const entries = await this.ctx.storage.list();
        return Response.json([...entries].map(([key, value]) => [key, value instanceof Uint8Array ? [...value] : value]));
      }
      if (url.pathname.startsWith('/__send')) {
        const text = url.searchParams.get('text') ?? '';
        // ?n=<count>: that many messages, numbered text:1..count.
        const count = Number(url.searchParams.get('n') ?? 0);
        for (const session of this.live) {
          if (count === 0) session.send(text);
          else for (let i = 1; i <= count; i++) session.send(`${text}:${i}`);
        }
        return new Response(String(this.live.size));
      }
      return await this.keepalive.upgrade(request);
    } finally {
      this.record();
    }
  }

  async webSocketMessage(ws, message) {
    wake('webSocketMessage', this, message);
    await this.keepalive.webSocketMessage(ws, message);
    this.record();
  }

  async webSocketClose(ws, code, reason) {
    wake('webSocketClose', this);
    await this.keepalive.webSocketClose(ws, code, reason);
    this.record();
  }

  async webSocketError(ws) {
    wake('webSocketError', this);
    await this.keepalive.webSocketError(ws);
    this.record();
  }

  async alarm() {
    wake('alarm', this);
    await this.keepalive.alarm();
    this.record();
  }
}

/** Sessions kept 1 s in memory and 1.5 s in the storage once no socket holds them: the sweep, observed. */
export class Sweeping extends Resumable {
  static resume = { sessionTtlMs: 1_000, storeTtlMs: 1_500, ackDelayMs: 50 };
  /** No idle close: an open socket is kept however quiet it is, and so is its session. */
  static idleClose = false;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/__log') return Response.json(log);
    const [, first, room] = url.pathname.split('/');
    // Rooms named sweep-* are Sweeping objects.
    const name = first.startsWith('__') ? room : first;
    const namespace = name.startsWith('sweep') ? env.SWEEPING : env.RESUMABLE;
    if (first === '__evict') {
      await unsafe.evict(namespace.get(namespace.idFromName(room)));
      return new Response('evicted');
    }
    return namespace.get(namespace.idFromName(name || 'lobby')).fetch(request);
  },
};
