import { KeepaliveOptionError, checkOptionalDuration, type Diagnostic, type DiagnosticFields } from '@keepalive/core';

/**
 * The life of one server-side SSE response, as a pure machine in the shape of
 * the core's (events in with a monotonic `now`, the next state and commands
 * out; no clock, timer or I/O). It decides when a response ends and what is
 * released then: the application closed it, the client went away, a write
 * failed, or (with `idleCloseMs`) no application event was written for that
 * long, like the WebSocket server's idle close. Keep-alive comments are not
 * application events: they keep proxies from reclaiming the stream, never the
 * stream from the idle policy. The keep-alives themselves are the session
 * machine's business (the stream's activity); this machine only ends streams.
 */

/**
 * Why a stream ended: `closed` (the application called `close()`),
 * `client_gone` (the connection closed, the request was aborted or the body
 * cancelled), `write_failed` (the transport refused a write), `idle_timeout`
 * (no application event for `idleCloseMs`).
 */
export type SseCloseCause = 'closed' | 'client_gone' | 'write_failed' | 'idle_timeout';

/**
 * Validated, frozen options of the stream machine.
 */
export interface SseStreamConfig {
  /** End the response after this long without an application event; `null`: never. */
  readonly idleCloseMs: number | null;
}

/**
 * The state of one stream: plain, serialisable data.
 */
export interface SseStreamState {
  readonly config: SseStreamConfig;
  /** Monotonic time of the last event. */
  readonly now: number;
  readonly openedAt: number;
  readonly phase: 'open' | 'closed';
  /** Why it ended, or `null` while open. */
  readonly cause: SseCloseCause | null;
  /** When the last application event was written (or the stream opened). */
  readonly lastEventAt: number;
  /** When the idle policy next checks, or `null` (off, or closed). */
  readonly idleAt: number | null;
  /** Application events written. */
  readonly events: number;
}

/**
 * Events of the stream machine:
 *
 * - `event`: the application wrote an event;
 * - `timeout`: whatever is due at `now`;
 * - `gone`: the client went away (connection closed, request aborted, body cancelled);
 * - `write_failed`: the transport refused a write (`error` is the error's name only: S10);
 * - `close`: the application ends the stream.
 */
export type SseStreamEvent =
  | { readonly type: 'event'; readonly now: number }
  | { readonly type: 'timeout'; readonly now: number }
  | { readonly type: 'gone'; readonly now: number }
  | { readonly type: 'write_failed'; readonly now: number; readonly error: string }
  | { readonly type: 'close'; readonly now: number };

/**
 * What the stream asks its adapter to do, in order:
 *
 * - `end`: end the response politely (the last bytes are flushed);
 * - `destroy`: destroy the transport at once (it failed);
 * - `release`: the stream is over: detach or shut down its activity, dispose its scheduler entry, remove every
 *   listener; `cause` says why;
 * - `diagnostic`: counts, causes and durations only (S10).
 */
export type SseStreamCommand =
  | { readonly type: 'end' }
  | { readonly type: 'destroy' }
  | { readonly type: 'release'; readonly cause: SseCloseCause }
  | Diagnostic;

/**
 * Diagnostics of the stream machine:
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `sse_idle_closed` | info | `idle_ms` (no application event for that long) |
 * | `sse_write_failed` | warn | `error` (its name) |
 * | `sse_stream_closed` | info | `cause`, `open_ms`, `events` |
 */
export const SSE_STREAM_DIAGNOSTICS = Object.freeze({
  idleClosed: 'sse_idle_closed',
  writeFailed: 'sse_write_failed',
  closed: 'sse_stream_closed',
} as const);

const END = Object.freeze({ type: 'end' } as const);

function diagnostic(level: Diagnostic['level'], name: string, fields: DiagnosticFields): Diagnostic {
  return { type: 'diagnostic', level, name, fields };
}
const DESTROY = Object.freeze({ type: 'destroy' } as const);

/**
 * Validates the stream machine's options (spec B1): `idleCloseMs` is `null`
 * or a duration. Throws `KeepaliveOptionError` naming the option and value.
 */
export function defineSseStreamConfig(options: { readonly idleCloseMs?: number | null | undefined } = {}): SseStreamConfig {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw new KeepaliveOptionError('options', given, 'an object');
  return Object.freeze({ idleCloseMs: checkOptionalDuration('idleCloseMs', options.idleCloseMs ?? null) });
}

/**
 * A stream that opened at `now`: the idle policy, when on, first checks
 * `idleCloseMs` later.
 */
export function createSseStreamState(config: SseStreamConfig, now: number): SseStreamState {
  return { config, now, openedAt: now, phase: 'open', cause: null, lastEventAt: now, idleAt: config.idleCloseMs === null ? null : now + config.idleCloseMs, events: 0 };
}

/**
 * The stream's earliest deadline, or `null`: arm one timer for it and deliver
 * `{ type: 'timeout', now }` when it passes.
 */
export function sseStreamDeadline(state: SseStreamState): number | null {
  return state.idleAt;
}

/**
 * The pure step: appends the commands to `out` and returns the next state
 * (the same object when nothing changed). Never throws; after the stream
 * ended every event is ignored, so `release` comes exactly once.
 */
export function sseStreamStep(state: SseStreamState, event: SseStreamEvent, out: SseStreamCommand[]): SseStreamState {
  if (state.phase === 'closed') return state;
  const now = typeof event.now === 'number' && event.now > state.now ? event.now : state.now;
  switch (event.type) {
    case 'event':
      // The idle check stays armed where it is; when it fires it re-arms from the last event.
      return { ...state, now, lastEventAt: now, events: state.events + 1 };
    case 'timeout':
      return onTimeout(state, now, out);
    case 'gone':
      return closed(state, now, 'client_gone', out);
    case 'write_failed':
      out.push(diagnostic('warn', SSE_STREAM_DIAGNOSTICS.writeFailed, { error: typeof event.error === 'string' ? event.error : 'unknown' }));
      out.push(DESTROY);
      return closed(state, now, 'write_failed', out);
    case 'close':
      out.push(END);
      return closed(state, now, 'closed', out);
    default:
      return state;
  }
}

function onTimeout(state: SseStreamState, now: number, out: SseStreamCommand[]): SseStreamState {
  const limit = state.config.idleCloseMs;
  if (state.idleAt === null || limit === null || state.idleAt > now) return state;
  const silentFor = now - state.lastEventAt;
  if (silentFor >= limit) {
    out.push(diagnostic('info', SSE_STREAM_DIAGNOSTICS.idleClosed, { idle_ms: silentFor }));
    out.push(END);
    return closed(state, now, 'idle_timeout', out);
  }
  // An event was written since the check was armed: check again when the silence would be long enough.
  return { ...state, now, idleAt: state.lastEventAt + limit };
}

function closed(state: SseStreamState, now: number, cause: SseCloseCause, out: SseStreamCommand[]): SseStreamState {
  out.push(diagnostic('info', SSE_STREAM_DIAGNOSTICS.closed, { cause, open_ms: now - state.openedAt, events: state.events }));
  out.push({ type: 'release', cause });
  return { ...state, now, phase: 'closed', cause, idleAt: null };
}
