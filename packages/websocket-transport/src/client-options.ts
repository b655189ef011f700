import {
  CONNECTION_OPTION_KEYS,
  KeepaliveOptionError,
  checkBoolean,
  checkHeartbeatMessage,
  checkKnownKeys,
  defineConnectionConfig,
  type ConnectionConfig,
} from '@keepalive/core';
import { defaultClientScheduler, type Scheduler } from '@keepalive/node-timers';
import type { ConnectContext, KeepaliveClientOptions, WebSocketConstructorLike } from './client-types.js';
import { checkProtocols, checkWebSocket, parseTarget } from './client-target.js';
import { HEARTBEAT_MESSAGE } from './heartbeat.js';

/**
 * Validation of the client's options (spec B1), all at construction: the
 * connection's rules are validated by the core's `defineConnectionConfig`,
 * the rest (the target, sockets, scheduler, gate) here. A bad option throws
 * `KeepaliveOptionError` naming it (nested ones by path) and its value.
 */

/** The client's options, validated, with the target turned into a socket factory. */
export interface ResolvedClientOptions {
  readonly config: ConnectionConfig;
  readonly factory: (context: ConnectContext) => unknown;
  /** Whether the sockets report protocol ping payloads (`ws`), so a server's acknowledgements may ride on its pings. */
  readonly pingPayloads: boolean;
  readonly heartbeatMessage: string;
  /** `keepaliveFrame: 'message'`: never protocol pings. */
  readonly messageFrames: boolean;
  /** The send gate: a boolean, or a function read at every tick and signal. */
  readonly gate: boolean | (() => boolean);
  readonly keepProcessAlive: boolean;
  /** Close at once (and so report, S9) at process exit if not closed before. */
  readonly reportOnExit: boolean;
  /** Watch the browser page's lifecycle (network, visibility, pagehide). */
  readonly lifecycle: boolean;
  readonly scheduler: Scheduler;
  readonly signal: AbortSignal | undefined;
}

const CLIENT_ONLY_KEYS = /* @__PURE__ */ Object.freeze([
  'logger',
  'onDiagnostic',
  'scheduler',
  'keepProcessAlive',
  'reportOnExit',
  'lifecycle',
  'deadPeerDetection',
  'WebSocket',
  'protocols',
  'heartbeatMessage',
  'keepaliveFrame',
  'signal',
] as const);

const KNOWN_KEYS: readonly string[] = /* @__PURE__ */ Object.freeze([...CONNECTION_OPTION_KEYS, ...CLIENT_ONLY_KEYS]);

/** Validates every option of `createKeepaliveClient`; throws on the first bad one. */
export function resolveClientOptions(target: unknown, optionsGiven: KeepaliveClientOptions | undefined, defaultWebSocket: unknown): ResolvedClientOptions {
  const given: unknown = optionsGiven;
  if (given === null || (given !== undefined && typeof given !== 'object')) throw new KeepaliveOptionError('options', given, 'an object of client options');
  const options = (given ?? {}) as KeepaliveClientOptions;
  if (Object.hasOwn(options, 'activity')) {
    throw new KeepaliveOptionError('activity', (options as { activity?: unknown }).activity, 'absent: the client owns its activity (start work on client.activity)');
  }
  checkKnownKeys(options, KNOWN_KEYS, 'client');
  const { factory, pingPayloads } = socketFactory(target, options, defaultWebSocket);
  const detection = checkBoolean('deadPeerDetection', options.deadPeerDetection ?? true);
  if (!detection && options.pongTimeoutMs !== undefined && options.pongTimeoutMs !== null) {
    throw new KeepaliveOptionError('pongTimeoutMs', options.pongTimeoutMs, 'absent or null with deadPeerDetection: false');
  }
  const gate: unknown = options.sendKeepalives ?? true;
  if (typeof gate !== 'boolean' && typeof gate !== 'function') throw new KeepaliveOptionError('sendKeepalives', gate, 'a boolean or a function returning one');
  const connection: Record<string, unknown> = {};
  for (const key of CONNECTION_OPTION_KEYS) if (options[key] !== undefined) connection[key] = options[key];
  // A gate function is read per event; the config holds a boolean.
  if (typeof gate === 'function') connection.sendKeepalives = false;
  if (!detection) connection.pongTimeoutMs = null;
  const config = defineConnectionConfig(connection);
  const frame: unknown = options.keepaliveFrame ?? 'auto';
  if (frame !== 'auto' && frame !== 'message') throw new KeepaliveOptionError('keepaliveFrame', frame, "'auto' or 'message'");
  const hold: unknown = options.keepProcessAlive ?? false;
  if (hold !== false && hold !== 'while-busy') throw new KeepaliveOptionError('keepProcessAlive', hold, "false or 'while-busy'");
  const signal: unknown = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new KeepaliveOptionError('signal', signal, 'an AbortSignal');
  const scheduler: unknown = options.scheduler ?? defaultClientScheduler();
  if (typeof scheduler !== 'object' || scheduler === null || typeof (scheduler as Partial<Scheduler>).entry !== 'function' || typeof (scheduler as Partial<Scheduler>).now !== 'function') {
    throw new KeepaliveOptionError('scheduler', scheduler, 'a scheduler from createScheduler()');
  }
  return {
    config,
    factory,
    pingPayloads: pingPayloads && frame !== 'message',
    heartbeatMessage: checkHeartbeatMessage('heartbeatMessage', options.heartbeatMessage ?? HEARTBEAT_MESSAGE),
    messageFrames: frame === 'message',
    gate: gate as boolean | (() => boolean),
    keepProcessAlive: hold === 'while-busy',
    reportOnExit: checkBoolean('reportOnExit', options.reportOnExit ?? false),
    lifecycle: checkBoolean('lifecycle', options.lifecycle ?? true),
    scheduler: scheduler as Scheduler,
    signal: signal,
  };
}

/**
 * Turns the target into a socket factory, validating the URL-only options. A URL target gets the resume parameters
 * added to its query; a function target gets them in its context.
 */
function socketFactory(target: unknown, options: KeepaliveClientOptions, defaultWebSocket: unknown): { factory: (context: ConnectContext) => unknown; pingPayloads: boolean } {
  if (typeof target === 'function') {
    for (const key of ['WebSocket', 'protocols'] as const) {
      if (options[key] !== undefined) throw new KeepaliveOptionError(key, options[key], 'absent when the target is a function (the function creates the socket)');
    }
    return { factory: target as (context: ConnectContext) => unknown, pingPayloads: false };
  }
  const url = parseTarget(target);
  const Ctor = checkWebSocket(options.WebSocket, defaultWebSocket);
  const WebSocketCtor = Ctor as WebSocketConstructorLike;
  const list = checkProtocols(options.protocols);
  const at = ({ query }: ConnectContext): string => (query === '' ? url : `${url}${new URL(url).search === '' ? '?' : '&'}${query}`);
  // `ws` reports ping payloads to `on('ping')` listeners; WHATWG sockets have no pings at all.
  const prototype: unknown = (Ctor as { prototype?: unknown }).prototype;
  const pingPayloads = typeof prototype === 'object' && prototype !== null && typeof (prototype as { ping?: unknown }).ping === 'function' && typeof (prototype as { on?: unknown }).on === 'function';
  return { factory: list === undefined ? (context) => new WebSocketCtor(at(context)) : (context) => new WebSocketCtor(at(context), list), pingPayloads };
}

/**
 * The send gate as the connection machine takes it per tick and signal:
 * `undefined` for a boolean gate (the config has it), else the function's
 * answer; a gate that throws counts as `false` and is reported.
 */
export function gateReader(gate: boolean | (() => boolean), report: (error: unknown) => void): () => boolean | undefined {
  if (typeof gate === 'boolean') return () => undefined;
  return () => {
    try {
      return gate();
    } catch (error) {
      report(error);
      return false;
    }
  };
}
