/**
 * The `heartbeatMessage` option on a REAL Deno, run by `server.heartbeat.test.ts` in a Deno child process
 * (`deno run -A src/test-support/heartbeat-server.ts`). It prints one JSON line per option it tried (`refused`: the
 * error's name, the option it names and whether it is a RangeError; `accepted` otherwise), then serves
 * `upgradeWithKeepalive(request, { tracker, heartbeatMessage })` with the longest message the core allows (125 bytes)
 * and prints `listening` (port). Its sockets echo data messages (`echo:<text>`). Command on stdin: `exit`.
 */
import process from 'node:process';
import { createInterface } from 'node:readline';
import { classifyMessage, createKeepaliveTracker, upgradeWithKeepalive, type UpgradeWithKeepaliveOptions } from '../index.ts';

interface DenoServeLike {
  serve(
    options: { readonly hostname: string; readonly port: number; readonly onListen: (address: { readonly port: number }) => void },
    handler: (request: Request) => Response,
  ): { shutdown(): Promise<void> };
}

const print = (line: Record<string, unknown>): void => {
  console.log(JSON.stringify(line));
};

const LONGEST = 'h'.repeat(125);
const tracker = createKeepaliveTracker({ pingIntervalMs: 60_000, pongTimeoutMs: 60_000 });
const tried: [string, UpgradeWithKeepaliveOptions][] = [
  ['not a string', { heartbeatMessage: 5 as unknown as string }],
  ['200 bytes', { heartbeatMessage: 'h'.repeat(200) }],
  ['126 bytes in 63 characters', { heartbeatMessage: 'é'.repeat(63) }],
  ['125 bytes', { heartbeatMessage: LONGEST }],
];
// The check comes before the upgrade: a request that is no upgrade shows what the option alone does (an accepted
// message gets as far as Deno.upgradeWebSocket, which refuses such a request with a TypeError of its own).
for (const [label, options] of tried) {
  try {
    upgradeWithKeepalive(new Request('http://127.0.0.1/'), { tracker, ...options });
    print({ type: 'accepted', label });
  } catch (error) {
    const { name, option } = error as { name?: string; option?: string };
    print({ type: 'refused', label, name, option, range: error instanceof RangeError });
  }
}

const deno = (globalThis as unknown as { readonly Deno: DenoServeLike }).Deno;
const server = deno.serve(
  {
    hostname: '127.0.0.1',
    port: 0,
    onListen: ({ port }) => {
      print({ type: 'listening', port });
    },
  },
  (request) => {
    const { socket, response } = upgradeWithKeepalive(request, { tracker, heartbeatMessage: LONGEST });
    socket.addEventListener('message', (event) => {
      if (typeof event.data === 'string' && classifyMessage(event.data, undefined, LONGEST) === 'data') socket.send(`echo:${event.data}`);
    });
    return response;
  },
);

const commands = createInterface({ input: process.stdin });
commands.on('line', (text) => {
  if ((JSON.parse(text) as { readonly cmd?: string }).cmd !== 'exit') return;
  commands.close();
  print({ type: 'stats', tracker: tracker.stats() });
  tracker.close();
  void server.shutdown().finally(() => process.exit(0));
});
