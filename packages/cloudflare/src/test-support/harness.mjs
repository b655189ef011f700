/* global Response */
// The test harness around the README's program (apps/examples/src/cloudflare/worker.mjs, run as it is, as the examples
// test runs it too): the same Durable Object, with every
// handler invocation counted (a wake), and a Worker route to evict an object (workerd:unsafe) and read the counts.
// The counts live in the isolate's module scope, which outlives an object's eviction; reading them runs in the
// Worker, never in the object, so it wakes nothing.
import worker, { Agent } from '../../../../apps/examples/src/cloudflare/worker.mjs';
import { createHibernatingKeepalive } from '@keepalive/cloudflare';
import unsafe from 'workerd:unsafe';

const counts = { constructed: 0, fetch: 0, webSocketMessage: 0, webSocketClose: 0, webSocketError: 0, alarm: 0, wakes: [], stats: [] };

function wake(handler, object) {
  counts[handler]++;
  counts.wakes.push({ handler, at: Date.now(), instance: object.instance });
}

function instrument(Base) {
  return class extends Base {
    constructor(ctx, env) {
      super(ctx, env);
      counts.constructed++;
      this.instance = counts.constructed;
      counts.stats.push({ instance: this.instance, stats: null });
    }
    record() {
      const entry = counts.stats.find((item) => item.instance === this.instance);
      if (entry !== undefined) entry.stats = this.keepalive.stats();
    }
    async fetch(request) {
      wake('fetch', this);
      try {
        return await super.fetch(request);
      } finally {
        this.record();
      }
    }
    async webSocketMessage(ws, message) {
      wake('webSocketMessage', this);
      await super.webSocketMessage(ws, message);
      this.record();
    }
    async webSocketClose(ws, code, reason, wasClean) {
      wake('webSocketClose', this);
      await super.webSocketClose(ws, code, reason, wasClean);
      this.record();
    }
    async webSocketError(ws, error) {
      wake('webSocketError', this);
      await super.webSocketError(ws, error);
      this.record();
    }
    async alarm() {
      wake('alarm', this);
      await super.alarm();
      this.record();
    }
  };
}

/** The README's object as it is (IDLE_CLOSE_MS from the environment). */
export const CountedAgent = instrument(Agent);

/** The same object without the idle close: nothing is ever due, so it never wakes by itself. */
export const QuietAgent = instrument(
  class extends Agent {
    constructor(ctx, env) {
      super(ctx, env);
      this.keepalive = createHibernatingKeepalive(ctx, { minPingIntervalMs: 50 });
    }
  },
);

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/__counts') return Response.json(counts);
    const [, first, room] = url.pathname.split('/');
    if (first === '__evict' || first === '__evict-quiet') {
      const namespace = first === '__evict' ? env.AGENT : env.QUIET;
      await unsafe.evict(namespace.get(namespace.idFromName(room)));
      return new Response('evicted');
    }
    if (first === 'quiet') return env.QUIET.get(env.QUIET.idFromName(room ?? 'quiet')).fetch(request);
    return worker.fetch(request, env);
  },
};
