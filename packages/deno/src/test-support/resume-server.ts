/**
 * A real Deno.serve server with `upgradeWithKeepalive(request, { tracker, sessions })`, run by
 * `server.resume.test.ts` in a Deno child process (`deno run -A src/test-support/resume-server.ts '<options json>'`).
 * It prints one JSON line per event on stdout and takes one JSON command per line on stdin:
 *
 * - lines: `listening` (port), `session` (n, resumed, forgotten, user), `message` (n, data: the session's messages),
 *   `raw` (data: what reached the app's own socket listener, added for plain clients only), `closed` / `expired` (n,
 *   unacked), `sent` (through), `admit` (kind, user: what the `admit` hook was asked), `refused` (reason, code, user:
 *   the hub's `refused` event), `diagnostic` (name, level), `stats`;
 * - commands: `send` (count: numbered text messages `s1`, `s2`, … on the newest session), `send-binary` (bytes),
 *   `stats`, `exit`.
 *
 * `user` is the upgrade request's `x-user` header (the app's notion of who is asking). The options are the hub's,
 * plus `resumeOnlyBy` (a user name): then an `admit` hook refuses (4403, `not yours`) a resume asked by anyone else,
 * however right the secret (B17); and `admitDelayMs`: the hook answers that much later.
 */
import process from 'node:process';
import { createInterface } from 'node:readline';
import {
  classifyMessage,
  createKeepaliveTracker,
  createSessionHub,
  upgradeWithKeepalive,
  type AdmissionQuery,
  type AdmissionVerdict,
  type DenoSessionContext,
  type ResumableSession,
  type SessionHubOptions,
  type SessionMessage,
} from '../index.ts';

interface DenoServeLike {
  serve(
    options: { readonly hostname: string; readonly port: number; readonly onListen: (address: { readonly port: number }) => void },
    handler: (request: Request) => Response,
  ): { shutdown(): Promise<void> };
}

interface Command {
  readonly cmd: string;
  readonly count?: number;
  readonly bytes?: readonly number[];
}

const print = (line: Record<string, unknown>): void => {
  console.log(JSON.stringify(line));
};

/** Text as it is; binary as its bytes. */
const shown = (message: unknown): unknown => {
  if (typeof message === 'string') return message;
  if (message instanceof ArrayBuffer) return { binary: [...new Uint8Array(message)] };
  if (ArrayBuffer.isView(message)) return { binary: [...new Uint8Array(message.buffer, message.byteOffset, message.byteLength)] };
  return { unreadable: Object.prototype.toString.call(message) };
};

const { resumeOnlyBy, admitDelayMs, ...options } = JSON.parse(process.argv[2] ?? '{}') as SessionHubOptions<DenoSessionContext> & {
  readonly resumeOnlyBy?: string;
  readonly admitDelayMs?: number;
};
const deno = (globalThis as unknown as { readonly Deno: DenoServeLike }).Deno;
const onDiagnostic = (diagnostic: { readonly name: string; readonly level: string }): void => {
  print({ type: 'diagnostic', name: diagnostic.name, level: diagnostic.level });
};
const tracker = createKeepaliveTracker({ pingIntervalMs: 100, pongTimeoutMs: 5_000, minPingIntervalMs: 10, onDiagnostic });
/** Who the upgrade request said it was (`x-user`). */
const userOf = ({ request }: DenoSessionContext): string | null => request.headers.get('x-user');
/** The `admit` hook (B17, typed with the Deno context), when `resumeOnlyBy` or `admitDelayMs` asks for one. */
const admit = ({ kind, context }: AdmissionQuery<DenoSessionContext>): AdmissionVerdict | Promise<AdmissionVerdict> => {
  const user = userOf(context);
  print({ type: 'admit', kind, user });
  const verdict: AdmissionVerdict = resumeOnlyBy !== undefined && kind === 'resume' && user !== resumeOnlyBy ? { code: 4403, reason: 'not yours' } : true;
  return admitDelayMs === undefined ? verdict : new Promise((resolve) => setTimeout(() => resolve(verdict), admitDelayMs));
};
const sessions = createSessionHub<DenoSessionContext>({ onDiagnostic, ...options, ...(resumeOnlyBy === undefined && admitDelayMs === undefined ? {} : { admit }) });

sessions.on('refused', ({ reason, code, context }) => {
  print({ type: 'refused', reason, code, user: userOf(context) });
});

let current: ResumableSession | null = null;
let count = 0;
let sent = 0;

sessions.on('session', ({ session, resumed, forgotten, context }) => {
  current = session;
  if (!resumed) {
    const n = ++count;
    session.on('message', (message: SessionMessage) => {
      print({ type: 'message', n, data: shown(message) });
    });
    session.on('close', ({ by, code, unacked }) => {
      print({ type: 'closed', n, by, code, unacked: unacked.length });
    });
    session.on('expired', ({ unacked }) => {
      print({ type: 'expired', n, unacked: unacked.length });
    });
  }
  print({ type: 'session', n: count, resumed, forgotten, user: userOf(context) });
});

const server = deno.serve(
  {
    hostname: '127.0.0.1',
    port: 0,
    onListen: ({ port }) => {
      print({ type: 'listening', port });
    },
  },
  (request) => {
    if (request.headers.get('upgrade') !== 'websocket') return new Response('upgrade required', { status: 426 });
    const { socket, response, resumable } = upgradeWithKeepalive(request, { tracker, sessions });
    if (!resumable) {
      // A plain client: the app reads its socket.
      socket.addEventListener('message', (event) => {
        print({ type: 'raw', data: shown(event.data) });
        if (typeof event.data === 'string' && classifyMessage(event.data) === 'data') socket.send(`echo:${event.data}`);
      });
    }
    return response;
  },
);

const commands = createInterface({ input: process.stdin });
commands.on('line', (text) => {
  const command = JSON.parse(text) as Command;
  switch (command.cmd) {
    case 'send':
      for (let i = 0; i < (command.count ?? 1); i++) current?.send(`s${++sent}`);
      print({ type: 'sent', through: sent });
      return;
    case 'send-binary':
      current?.send(new Uint8Array(command.bytes ?? []));
      print({ type: 'sent-binary' });
      return;
    case 'stats':
      print({ type: 'stats', hub: sessions.stats(), tracker: tracker.stats() });
      return;
    case 'exit':
      commands.close();
      sessions.close();
      tracker.close();
      void server.shutdown().finally(() => process.exit(0));
      return;
    default:
      print({ type: 'unknown-command' });
  }
});
