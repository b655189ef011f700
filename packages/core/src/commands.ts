/**
 * Commands are the only way the core asks for an effect (spec B4). They are
 * plain, serialisable values; an adapter carries them out in order.
 */

/** Severity of a diagnostic. */
export type DiagnosticLevel = 'debug' | 'info' | 'warn';

/**
 * A value carried by a diagnostic: counts, durations, reason names, or a map
 * of reason name to count (spec S10: never payloads, URLs, tokens or text).
 */
export type DiagnosticValue = number | string | boolean | null | Readonly<Record<string, number>>;

/** The fields of a diagnostic. */
export type DiagnosticFields = Readonly<Record<string, DiagnosticValue>>;

/**
 * Arm (or re-arm after a fire) the timer `timer` to fire at the absolute
 * monotonic time `deadline`. A timer is never armed twice without a cancel or
 * a fire in between.
 */
export interface ArmTimer<T extends string = string> {
  readonly type: 'arm';
  readonly timer: T;
  readonly deadline: number;
}

/**
 * Cancel the armed timer `timer`.
 */
export interface CancelTimer<T extends string = string> {
  readonly type: 'cancel';
  readonly timer: T;
}

/**
 * Send one keep-alive through the attached sender.
 */
export interface SendKeepalive {
  readonly type: 'send';
}

/** Why the core asks for a transport to be closed. */
export type CloseReason = 'dead_peer' | 'ping_flood' | 'idle_timeout';

/**
 * Close the transport. `terminate: true` means destroy it at once (a polite
 * close can hang on a dead TCP peer); otherwise close with `code`.
 */
export interface CloseTransport {
  readonly type: 'close';
  readonly reason: CloseReason;
  readonly code: number;
  readonly terminate: boolean;
  /** The close frame's reason text when it says more than `reason` (a ping flood's carries the server's minimum). */
  readonly text?: string | undefined;
}

/**
 * Emit a diagnostic. Adapters route these to a logger; the core never logs.
 */
export interface Diagnostic {
  readonly type: 'diagnostic';
  readonly level: DiagnosticLevel;
  readonly name: string;
  readonly fields: DiagnosticFields;
}

/**
 * WebSocket close codes the core uses (RFC 6455 section 7.4.1).
 */
export const CLOSE_CODES = /* @__PURE__ */ Object.freeze({
  /** 1001: the endpoint is going away (server shutdown). */
  goingAway: 1001,
  /** 1006: abnormal closure; never sent on the wire, reported for terminated sockets. */
  abnormal: 1006,
  /** 1008: policy violation (ping flood, spec B8). */
  policyViolation: 1008,
  /** 1009: message too big. */
  messageTooBig: 1009,
  /** 4000: closed by keepalive's idle policy (silent longer than `idleCloseMs`). */
  idleTimeout: 4000,
});

/** The empty command list every no-op transition returns (shared, frozen: no allocation). */
export const NO_COMMANDS: readonly never[] = /* @__PURE__ */ Object.freeze([]);

/** Builds a diagnostic command. */
export function diagnostic(level: DiagnosticLevel, name: string, fields: DiagnosticFields): Diagnostic {
  return { type: 'diagnostic', level, name, fields };
}

/**
 * Empties a reused command buffer for the next `step`: the fast way. On V8
 * (Node, Deno) `out.length = 0` is a runtime call that also drops the
 * buffer's storage (about 60–90 ns, more than a whole `step`), while popping
 * the few commands an event appends costs a few nanoseconds and keeps the
 * storage for the next event.
 *
 * @param out - the buffer.
 * @param keep - commands to leave at the front (a driver that appends after commands of an outer event); default 0.
 */
export function clearCommands(out: unknown[], keep = 0): void {
  while (out.length > keep) out.pop();
}
