/* global Response */
// A Durable Object doing work with a durable session activity (createDurableActivity): routes start and release work,
// restart the object (ctx.abort) and read what each instance found of the previous one. The diagnostics are logged in
// the isolate's module scope, which outlives an instance.
import { DurableObject } from 'cloudflare:workers';
import { createDurableActivity } from '@keepalive/cloudflare';

const log = { constructed: 0, diagnostics: [] };

export class Working extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    log.constructed++;
    this.instance = log.constructed;
    this.releases = [];
    this.durable = createDurableActivity(ctx.storage, {
      heartbeatIntervalMs: 100,
      idleDelayMs: 300,
      onDiagnostic: (diagnostic) => {
        if (diagnostic.name === 'heartbeat') return;
        log.diagnostics.push({ instance: this.instance, at: Date.now(), name: diagnostic.name, fields: diagnostic.fields });
      },
    });
    // A sender: the heartbeat runs while busy, and the idle notice follows it (S4, S6).
    this.durable.activity.attach(() => undefined);
    ctx.blockConcurrencyWhile(async () => {
      this.previous = await this.durable.restored;
    });
  }

  async fetch(request) {
    const url = new URL(request.url);
    const action = url.searchParams.get('do');
    if (action === 'start') {
      const count = Number(url.searchParams.get('n') ?? 1);
      for (let i = 0; i < count; i++) this.releases.push(this.durable.activity.start(`${url.searchParams.get('reason') ?? 'tool_exec'}${count > 1 ? `_${i}` : ''}`));
    } else if (action === 'stop') {
      for (const release of this.releases.splice(0)) release();
    } else if (action === 'abort') {
      this.ctx.abort('restarted by the test');
    } else if (action === 'storage') {
      return Response.json(await this.ctx.storage.get('keepalive:activity'));
    }
    return Response.json({ instance: this.instance, previous: this.previous, snapshot: this.durable.activity.snapshot() });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/__log') return Response.json(log);
    const name = url.pathname.slice(1) || 'lobby';
    return env.WORKING.get(env.WORKING.idFromName(name)).fetch(request);
  },
};
