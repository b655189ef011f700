import {
  checkDuration,
  checkHeartbeatMessage,
  checkInteger,
  checkKnownKeys,
  defineDeliveryConfig,
  KeepaliveOptionError,
  nestedOptions,
  optionOr,
  type DeliveryConfig,
  type DeliveryOptions,
  type Diagnostic,
} from '@keepalive/core';
import { createDiagnosticSink, defaultScheduler, nextInstanceId, type Logger, type Scheduler } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE } from './heartbeat.js';
import type { AdmissionQuery, AdmissionVerdict } from './resume-admission.js';
import type { SessionStore } from './resume-store.js';

/**
 * The options of a session hub and their checks (B1): the resume options (`resume.<option>` in every adapter), their
 * defaults, and the hub's own (scheduler, diagnostics, store, admission hook), each checked once.
 */

/**
 * Options of a resumable session: the delivery options of `@keepalive/core`
 * (`maxUnackedMessages`, `maxUnackedBytes`, `ackDelayMs`) and the hub's own.
 */
export interface ServerResumeOptions extends DeliveryOptions {
  /** How long a disconnected session is kept for its client to come back. Default 120 000 ms. */
  readonly sessionTtlMs?: number | undefined;
  /**
   * Sessions a hub holds at most (connected or waiting). Past it, a new session evicts the oldest unconfirmed one
   * without a connection (see `unconfirmedTtlMs`), or is refused with 1013 when there is none. Default 10 000.
   */
  readonly maxSessions?: number | undefined;
  /**
   * How long a session whose client never wrote a frame after the hello that made it (a client that took the hello
   * and left, or a flood of bare upgrades) is kept once its connection is lost. Such a session is also the first to
   * make room when the hub is full. Default 10 000 ms (at most `sessionTtlMs`).
   */
  readonly unconfirmedTtlMs?: number | undefined;
  /**
   * How long a connection may take from its upgrade to its hello: the client's proof of a session it names, the
   * store's answer and the application's `admit` hook. Past it the connection is closed with 4408 (the client
   * retries) and nothing changed. Default 10 000 ms.
   */
  readonly handshakeTimeoutMs?: number | undefined;
}

/**
 * Validated, frozen resume options.
 */
export interface ServerResumeConfig {
  readonly delivery: DeliveryConfig;
  readonly sessionTtlMs: number;
  readonly maxSessions: number;
  readonly unconfirmedTtlMs: number;
  readonly handshakeTimeoutMs: number;
}

/**
 * The hub's defaults (the delivery defaults are `DELIVERY_DEFAULTS` of `@keepalive/core`).
 */
export const SESSION_HUB_DEFAULTS = Object.freeze({ sessionTtlMs: 120_000, maxSessions: 10_000, unconfirmedTtlMs: 10_000, handshakeTimeoutMs: 10_000 });

const RESUME_KEYS: readonly string[] = Object.freeze(['maxUnackedMessages', 'maxUnackedBytes', 'ackDelayMs', 'sessionTtlMs', 'maxSessions', 'unconfirmedTtlMs', 'handshakeTimeoutMs']);
const HUB_KEYS: readonly string[] = Object.freeze([...RESUME_KEYS, 'heartbeatMessage', 'scheduler', 'onDiagnostic', 'logger', 'store', 'admit']);

/**
 * Validates resume options once (B1); throws `KeepaliveOptionError` naming the option and the value.
 */
export function defineServerResumeConfig(options: ServerResumeOptions = {}): ServerResumeConfig {
  checkKnownKeys(options, RESUME_KEYS, 'resume');
  const { sessionTtlMs: _ttl, maxSessions: _max, unconfirmedTtlMs: _unconfirmed, handshakeTimeoutMs: _handshake, ...delivery } = options;
  const sessionTtlMs = checkDuration('sessionTtlMs', optionOr(options, 'sessionTtlMs', SESSION_HUB_DEFAULTS.sessionTtlMs));
  return Object.freeze({
    delivery: defineDeliveryConfig(delivery),
    sessionTtlMs,
    maxSessions: checkInteger('maxSessions', optionOr(options, 'maxSessions', SESSION_HUB_DEFAULTS.maxSessions), 1, 10_000_000),
    unconfirmedTtlMs: Math.min(sessionTtlMs, checkDuration('unconfirmedTtlMs', optionOr(options, 'unconfirmedTtlMs', SESSION_HUB_DEFAULTS.unconfirmedTtlMs))),
    handshakeTimeoutMs: checkDuration('handshakeTimeoutMs', optionOr(options, 'handshakeTimeoutMs', SESSION_HUB_DEFAULTS.handshakeTimeoutMs)),
  });
}

/**
 * Options of {@link createSessionHub}: the {@link ServerResumeOptions}, the
 * scheduler, where diagnostics go, the store and the admission hook.
 */
export interface SessionHubOptions<C = unknown> extends ServerResumeOptions {
  /**
   * The application's admission hook (B17): asked once per connection, after the client proved the secret of the
   * session it names and before the session changes hands (or before a new session is made), so that
   * authentication against the upgrade request happens before the owner's connection is touched. May be
   * asynchronous (bounded by `handshakeTimeoutMs`). Default: every proved connection is admitted.
   */
  readonly admit?: ((query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>) | undefined;
  /**
   * The plain heartbeat message (default {@link HEARTBEAT_MESSAGE}, the empty text frame): what a resuming client
   * sends as its keep-alive while it waits for the hello. Until the first wire-format frame of a connection it is a
   * heartbeat; after that it is application text.
   */
  readonly heartbeatMessage?: string | undefined;
  /** The scheduler (expiry and standalone acknowledgements); default: the process-wide one of @keepalive/node-timers. */
  readonly scheduler?: Scheduler | undefined;
  /** Called with every diagnostic (counts, names and durations only). */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** A logger for the diagnostics (a function, or a console-style or pino-style logger). */
  readonly logger?: Logger | undefined;
  /**
   * Where the sessions' delivery state is kept beyond this process (default: nowhere), so that a client resumes on
   * another process of the fleet (see {@link SessionStore}; `@keepalive/redis` has one on Redis).
   */
  readonly store?: SessionStore | undefined;
}

/** The application's admission hook, as {@link SessionHubOptions.admit} takes it. */
export type AdmitHook<C> = (query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>;

/** A hub's options, checked and resolved: what the hub runs with. */
export interface HubSettings<C> {
  readonly config: ServerResumeConfig;
  readonly admit: AdmitHook<C> | null;
  readonly heartbeatMessage: string;
  readonly diagnose: (diagnostic: Diagnostic) => void;
  readonly scheduler: Scheduler;
  readonly store: SessionStore | null;
}

/** Checks a hub's options (a bad one throws `KeepaliveOptionError` naming it as `resume.<option>`) and resolves their defaults. */
export function defineHubSettings<C>(options: SessionHubOptions<C>): HubSettings<C> {
  return nestedOptions('resume', options, (given: SessionHubOptions<C>): HubSettings<C> => {
    checkKnownKeys(given, HUB_KEYS, 'resume');
    const { scheduler: chosen, onDiagnostic, logger, heartbeatMessage: plain, store: kept, admit: hook, ...resume } = given;
    const candidate: unknown = kept ?? null;
    if (candidate !== null && (typeof candidate !== 'object' || !(['proof', 'load', 'save', 'remove'] as const).every((method) => typeof (candidate as Record<string, unknown>)[method] === 'function'))) {
      throw new KeepaliveOptionError('store', candidate, 'a session store: an object with proof, load, save and remove methods');
    }
    const admitting: unknown = hook ?? null;
    if (admitting !== null && typeof admitting !== 'function') throw new KeepaliveOptionError('admit', admitting, 'a function that admits a connection (true, false or { code, reason })');
    return {
      admit: admitting as AdmitHook<C> | null,
      config: defineServerResumeConfig(resume),
      heartbeatMessage: checkHeartbeatMessage('heartbeatMessage', plain ?? HEARTBEAT_MESSAGE),
      diagnose: createDiagnosticSink({ session: nextInstanceId(), logger, onDiagnostic }),
      scheduler: chosen ?? defaultScheduler(),
      store: candidate as SessionStore | null,
    };
  });
}
