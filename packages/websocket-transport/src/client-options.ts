import {
  CONNECTION_OPTION_KEYS,
  KeepaliveOptionError,
  checkBoolean,
  checkHeartbeatMessage,
  checkKnownKeys,
  defineConnectionConfig,
  utf8Length,
  type ConnectionConfig,
} from '@keepalive/core';
import { defaultScheduler, type Scheduler } from '@keepalive/node-timers';
import type { ConnectContext, KeepaliveClientOptions, WebSocketConstructorLike } from './client-types.js';
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
  const scheduler: unknown = options.scheduler ?? defaultScheduler();
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
  const Ctor: unknown = options.WebSocket ?? defaultWebSocket;
  if (typeof Ctor !== 'function') {
    const expected = options.WebSocket === undefined ? 'a WHATWG WebSocket constructor: this runtime has no global WebSocket (on Node 20, install ws)' : 'a WHATWG WebSocket constructor';
    throw new KeepaliveOptionError('WebSocket', Ctor, expected);
  }
  const protocols: unknown = options.protocols;
  if (protocols !== undefined && typeof protocols !== 'string' && !(Array.isArray(protocols) && protocols.every((item) => typeof item === 'string'))) {
    throw new KeepaliveOptionError('protocols', protocols, 'a string or an array of strings');
  }
  const WebSocketCtor = Ctor as WebSocketConstructorLike;
  const list = typeof protocols === 'string' ? protocols : Array.isArray(protocols) ? [...(protocols)] : undefined;
  const at = ({ query }: ConnectContext): string => (query === '' ? url : `${url}${new URL(url).search === '' ? '?' : '&'}${query}`);
  // `ws` reports ping payloads to `on('ping')` listeners; WHATWG sockets have no pings at all.
  const prototype: unknown = (Ctor as { prototype?: unknown }).prototype;
  const pingPayloads = typeof prototype === 'object' && prototype !== null && typeof (prototype as { ping?: unknown }).ping === 'function' && typeof (prototype as { on?: unknown }).on === 'function';
  return { factory: list === undefined ? (context) => new WebSocketCtor(at(context)) : (context) => new WebSocketCtor(at(context), list), pingPayloads };
}

function parseTarget(target: unknown): string {
  const expected = 'a ws:, wss:, http: or https: URL, or a function returning a socket (or a promise of one)';
  // The value is not echoed: URLs may carry credentials (spec S10).
  let url: URL;
  if (target instanceof URL) url = target;
  else if (typeof target === 'string' && URL.canParse(target)) url = new URL(target);
  else throw new KeepaliveOptionError('target', typeof target === 'string' ? '<unparsable URL>' : target, expected);
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) throw new KeepaliveOptionError('target', `<${url.protocol} URL>`, expected);
  return url.href;
}

/** Validates the arguments of `close(code, reason)`: 1000 or 3000–4999, and a reason of at most 123 UTF-8 bytes. */
export function checkCloseArguments(code: unknown, reason: unknown): { readonly code: number; readonly reason: string } {
  const closeCode = code ?? 1000;
  if (typeof closeCode !== 'number' || !Number.isInteger(closeCode) || (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999))) {
    throw new RangeError(`close(code): invalid code ${typeof closeCode === 'number' ? String(closeCode) : typeof closeCode} (expected 1000 or an integer in [3000, 4999])`);
  }
  const closeReason = reason ?? '';
  if (typeof closeReason !== 'string' || utf8Length(closeReason) > 123) throw new RangeError('close(code, reason): reason must be a string of at most 123 UTF-8 bytes');
  return { code: closeCode, reason: closeReason };
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
