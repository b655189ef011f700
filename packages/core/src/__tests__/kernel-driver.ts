import {
  connect,
  connectionStep,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionState,
  type ConnectionUserEvent,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
  type KernelConfig,
} from '../index.js';

/**
 * Test helpers for the kernel and its layers driven step by step: `connect(config, now, seed)` then `connectionStep`
 * with explicit events (explicit `now`, and `random` where a backoff may start), so every command can be asserted
 * exactly.
 */

/** A connection driven one explicit event at a time. */
export class Stepper {
  state: ConnectionState;
  /** The commands of `connect`. */
  readonly started: readonly ConnectionCommand[];

  constructor(config: KernelConfig, now = 0, seed = 1) {
    const [state, commands] = connect(config, now, seed);
    this.state = state;
    this.started = commands;
  }

  /** Steps one event; returns its commands. */
  step(event: ConnectionEvent): ConnectionCommand[] {
    const out: ConnectionCommand[] = [];
    this.state = connectionStep(this.state, event, out);
    return out;
  }
}

/** A diagnostic command, as the machine builds it. */
export function diag(level: DiagnosticLevel, name: string, fields: DiagnosticFields = {}): Diagnostic {
  return { type: 'diagnostic', level, name, fields };
}

/** A user-event command. */
export function ev(event: ConnectionUserEvent): ConnectionCommand {
  return { type: 'event', event };
}

/** The report of a session with nothing in flight that sent `keepalivesSent` keep-alives (S9). */
export function idleReport(keepalivesSent = 0): { total: 0; active: Record<string, never>; oldestActivityMs: null; keepalivesSent: number } {
  return { total: 0, active: {}, oldestActivityMs: null, keepalivesSent };
}
