/* global Request, Response */
// A Durable Object that is a client: it calls a backend over an outbound WebSocket with the reconnecting client of
// @keepalive/websocket-transport (workerd's global WebSocket), keeping it alive while its work is in flight. The
// client lives in the object's memory: when the runtime evicts the object, the client goes with it.
import { DurableObject } from 'cloudflare:workers';
import { createKeepaliveClient } from '@keepalive/websocket-transport';
import unsafe from 'workerd:unsafe';

let instances = 0;

export class Caller extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    instances++;
    this.instance = instances;
    this.client = null;
    this.diagnostics = [];
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/start') {
      this.client = createKeepaliveClient(url.searchParams.get('backend'), {
        heartbeatIntervalMs: Number(url.searchParams.get('interval') ?? 100),
        pongTimeoutMs: 250,
        reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
        onDiagnostic: (diagnostic) => this.diagnostics.push(diagnostic.name),
      });
      await new Promise((resolve) => this.client.on('open', resolve));
      this.release = this.client.activity.start('tool_run');
      this.client.send(`hello from instance ${this.instance}`);
    } else if (url.pathname === '/idle') {
      this.release?.();
    } else if (url.pathname === '/abort') {
      // What the runtime does to an object it resets (a deploy, a restart, a limit): this instance and its memory go.
      this.ctx.abort('reset by the test');
    }
    return Response.json({
      instance: this.instance,
      state: this.client?.state ?? null,
      keepalivesSent: this.client?.activity.snapshot().keepalivesSent ?? null,
      diagnostics: this.diagnostics,
    });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // /<object>?do=<action>, or /__evict/<object>.
    const [, first, second] = url.pathname.split('/');
    if (first === '__evict') {
      await unsafe.evict(env.CALLER.get(env.CALLER.idFromName(second)));
      return new Response('evicted');
    }
    return env.CALLER.get(env.CALLER.idFromName(first)).fetch(new Request(`http://object/${url.searchParams.get('do') ?? ''}${url.search}`));
  },
};
