/**
 * The `heartbeatMessage` option on a REAL Bun, run by `server.heartbeat.test.ts` in a Bun child process
 * (`bun run src/test-support/heartbeat-server.ts`). It prints one JSON line per option it tried (`refused`: the
 * error's name, the option it names and whether it is a RangeError; `accepted` otherwise), then serves
 * `withKeepalive(handler, { heartbeatMessage })` with the longest message the core allows (125 bytes) and prints
 * `listening` (port). Its handler echoes data messages (`echo:<text>`). Command on stdin: `exit`.
 */
import process from 'node:process';
import { createInterface } from 'node:readline';
import { classifyMessage, withKeepalive, type BunKeepaliveOptions, type BunServerWebSocketLike } from '../index.js';

interface BunServeLike {
  serve(options: {
    readonly hostname: string;
    readonly port: number;
    fetch(request: Request, server: { upgrade(request: Request): boolean }): Response | undefined;
    readonly websocket: object;
  }): { readonly port: number; stop(closeActiveConnections?: boolean): unknown };
}

const print = (line: Record<string, unknown>): void => {
  console.log(JSON.stringify(line));
};

const LONGEST = 'h'.repeat(125);
const tried: [string, BunKeepaliveOptions][] = [
  ['not a string', { heartbeatMessage: 5 as unknown as string }],
  ['200 bytes', { heartbeatMessage: 'h'.repeat(200) }],
  ['200 bytes, resume on', { heartbeatMessage: 'h'.repeat(200), resume: true }],
  ['126 bytes in 63 characters', { heartbeatMessage: 'é'.repeat(63) }],
  ['125 bytes', { heartbeatMessage: LONGEST }],
];
for (const [label, options] of tried) {
  try {
    withKeepalive({ message: () => undefined }, options).keepalive.close();
    print({ type: 'accepted', label });
  } catch (error) {
    const { name, option } = error as { name?: string; option?: string };
    print({ type: 'refused', label, name, option, range: error instanceof RangeError });
  }
}

const websocket = withKeepalive(
  {
    message: (ws: BunServerWebSocketLike, message: string | ArrayBuffer | ArrayBufferView) => {
      if (typeof message === 'string' && classifyMessage(message, undefined, LONGEST) === 'data') ws.send(`echo:${message}`);
    },
  },
  { heartbeatMessage: LONGEST, pingIntervalMs: 60_000, pongTimeoutMs: 60_000 },
);
const bun = (globalThis as unknown as { readonly Bun: BunServeLike }).Bun;
const server = bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response('upgrade required', { status: 426 })),
  websocket,
});

const commands = createInterface({ input: process.stdin });
commands.on('line', (text) => {
  if ((JSON.parse(text) as { readonly cmd?: string }).cmd !== 'exit') return;
  commands.close();
  print({ type: 'stats', tracker: websocket.keepalive.stats() });
  websocket.keepalive.close();
  void Promise.resolve(server.stop(true)).finally(() => process.exit(0));
});

print({ type: 'listening', port: server.port });
