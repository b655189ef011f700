/**
 * A real Bun.serve server with `withKeepalive(handler, { resume })`, run by `server.resume.test.ts` in a Bun child
 * process (`bun run src/test-support/resume-server.ts '<options json>'`). It prints one JSON line per event on stdout
 * and takes one JSON command per line on stdin:
 *
 * - lines: `listening` (port), `session` (n, resumed, forgotten, user), `message` (n, data: the session's messages),
 *   `raw` (data: what reached the app's own `message` handler), `closed` / `expired` (n, unacked), `sent` (through),
 *   `admit` (kind, user: what the `admit` hook was asked), `refused` (reason, code, user: the hub's `refused` event),
 *   `diagnostic` (name, level), `stats`, `cut`;
 * - commands: `send` (count: numbered text messages `s1`, `s2`, … on the newest session), `send-binary` (bytes),
 *   `cut` (terminate the socket of the newest session: no close frame), `stats`, `exit`.
 *
 * Requests to `/nourl` are upgraded without `data.url` (served as plain clients, with a warning); every other request
 * with `data: { url: request.url, user }`, `user` being its `x-user` header (the app's notion of who is asking).
 * The options are the hub's, plus `resumeOnlyBy` (a user name): then an `admit` hook refuses (4403, `not yours`) a
 * resume asked by anyone else, however right the secret (B17); and `admitDelayMs`: the hook answers that much later.
 */
import process from 'node:process';
import { createInterface } from 'node:readline';
import {
  classifyMessage,
  withKeepalive,
  type AdmissionQuery,
  type AdmissionVerdict,
  type BunServerWebSocketLike,
  type BunSessionContext,
  type ResumableSession,
  type SessionHubOptions,
  type SessionMessage,
} from '../index.js';

interface BunServerLike {
  readonly port: number;
  upgrade(request: Request, options?: { readonly data?: unknown }): boolean;
  stop(closeActiveConnections?: boolean): unknown;
}

interface BunServeLike {
  serve(options: {
    readonly hostname: string;
    readonly port: number;
    fetch(request: Request, server: BunServerLike): Response | undefined;
    readonly websocket: object;
  }): BunServerLike;
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
const shown = (message: SessionMessage | string | ArrayBufferView): unknown => {
  if (typeof message === 'string') return message;
  const bytes = message instanceof ArrayBuffer ? new Uint8Array(message) : new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  return { binary: [...bytes] };
};

const { resumeOnlyBy, admitDelayMs, ...options } = JSON.parse(process.argv[2] ?? '{}') as SessionHubOptions<BunSessionContext> & {
  readonly resumeOnlyBy?: string;
  readonly admitDelayMs?: number;
};
const bun = (globalThis as unknown as { readonly Bun: BunServeLike }).Bun;

/** Who the upgrade request said it was (`x-user`), from the socket's `data`. */
const userOf = ({ ws }: BunSessionContext): string | null => (ws.data as { readonly user?: string | null } | undefined)?.user ?? null;

/** The `admit` hook (B17, typed with the Bun context), when `resumeOnlyBy` or `admitDelayMs` asks for one. */
const admit = ({ kind, context }: AdmissionQuery<BunSessionContext>): AdmissionVerdict | Promise<AdmissionVerdict> => {
  const user = userOf(context);
  print({ type: 'admit', kind, user });
  const verdict: AdmissionVerdict = resumeOnlyBy !== undefined && kind === 'resume' && user !== resumeOnlyBy ? { code: 4403, reason: 'not yours' } : true;
  return admitDelayMs === undefined ? verdict : new Promise((resolve) => setTimeout(() => resolve(verdict), admitDelayMs));
};
const resume: SessionHubOptions<BunSessionContext> = resumeOnlyBy === undefined && admitDelayMs === undefined ? options : { ...options, admit };

const websocket = withKeepalive(
  {
    message: (ws: BunServerWebSocketLike, message: string | ArrayBuffer | ArrayBufferView) => {
      print({ type: 'raw', data: shown(message) });
      if (typeof message === 'string' && classifyMessage(message) === 'data') ws.send(`echo:${message}`);
    },
  },
  {
    pingIntervalMs: 100,
    pongTimeoutMs: 1_000,
    minPingIntervalMs: 10,
    onDiagnostic: (diagnostic) => {
      print({ type: 'diagnostic', name: diagnostic.name, level: diagnostic.level });
    },
    resume,
  },
);

let newest: BunServerWebSocketLike | null = null;
let current: ResumableSession | null = null;
let sessions = 0;
let sent = 0;

websocket.keepalive.sessions.on('refused', ({ reason, code, context }) => {
  print({ type: 'refused', reason, code, user: userOf(context) });
});

websocket.keepalive.sessions.on('session', ({ session, resumed, forgotten, context }) => {
  current = session;
  newest = context.ws;
  if (!resumed) {
    const n = ++sessions;
    session.on('message', (message) => {
      print({ type: 'message', n, data: shown(message) });
    });
    session.on('close', ({ by, code, unacked }) => {
      print({ type: 'closed', n, by, code, unacked: unacked.length });
    });
    session.on('expired', ({ unacked }) => {
      print({ type: 'expired', n, unacked: unacked.length });
    });
  }
  print({ type: 'session', n: sessions, resumed, forgotten, user: userOf(context) });
});

const server = bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, srv) => {
    const upgraded =
      new URL(request.url).pathname === '/nourl' ? srv.upgrade(request) : srv.upgrade(request, { data: { url: request.url, user: request.headers.get('x-user') } });
    return upgraded ? undefined : new Response('upgrade required', { status: 426 });
  },
  websocket,
});

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
    case 'cut':
      newest?.terminate?.();
      print({ type: 'cut' });
      return;
    case 'stats':
      print({ type: 'stats', hub: websocket.keepalive.sessions.stats(), tracker: websocket.keepalive.stats() });
      return;
    case 'exit':
      commands.close();
      websocket.keepalive.close();
      void Promise.resolve(server.stop(true)).finally(() => process.exit(0));
      return;
    default:
      print({ type: 'unknown-command' });
  }
});

print({ type: 'listening', port: server.port });
