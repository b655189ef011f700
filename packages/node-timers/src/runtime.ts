import type { DiagnosticFields, DiagnosticLevel } from '@keepalive/core';
import type { Scheduler } from './scheduler.js';

/**
 * What one process shares, whatever mix of keepalive packages (and copies of
 * them) it loads: the default scheduler, so that a program arms one OS timer
 * (spec B3's many instances, one timer), and the diagnostics publisher that a
 * runtime's entry installs (Node's `diagnostics_channel`; none in browsers).
 * It lives on `globalThis` under a registered symbol, so two copies of this
 * package still find the same one.
 */

/** What a diagnostics publisher receives: the instance's number and the diagnostic. */
export interface DiagnosticMessage {
  /** The instance's numeric id (process-unique, not personal). */
  readonly session: number;
  readonly level: DiagnosticLevel;
  readonly name: string;
  readonly fields: DiagnosticFields;
}

/** A runtime's diagnostics publisher: `active()` says whether anyone listens, so unheard diagnostics cost nothing. */
export interface DiagnosticsPublisher {
  active(): boolean;
  publish(message: DiagnosticMessage): void;
}

/** The process-wide shared state. */
export interface KeepaliveRuntime {
  scheduler: Scheduler | null;
  /** The page's client scheduler (the `browser` build's `defaultClientScheduler`), once created. */
  pageScheduler?: Scheduler | undefined;
  publisher: DiagnosticsPublisher | null;
  /** Process instances handed out so far (diagnostics ids). */
  instances: number;
}

const KEY = Symbol.for('@keepalive/runtime');

/** The process-wide runtime state, created on first use. */
export function sharedRuntime(): KeepaliveRuntime {
  const holder = globalThis as unknown as Record<symbol, KeepaliveRuntime | undefined>;
  let runtime = holder[KEY];
  if (runtime === undefined) {
    runtime = { scheduler: null, publisher: null, instances: 0 };
    holder[KEY] = runtime;
  }
  return runtime;
}

/** A process-unique number for a new instance (diagnostics ids, shared by every package). */
export function nextInstanceId(): number {
  const runtime = sharedRuntime();
  runtime.instances += 1;
  return runtime.instances;
}

/** Installs the runtime's diagnostics publisher (the Node entry installs `diagnostics_channel`). */
export function installDiagnosticsPublisher(publisher: DiagnosticsPublisher): void {
  sharedRuntime().publisher = publisher;
}
