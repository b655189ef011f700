import type { ConnectionConfig } from '../connection.js';
import type { ConnectionState } from '../kernel-types.js';
import type { IdleReadState } from '../idle-read.js';
import { TIMER } from '../kernel-types.js';
import type { LifecycleState } from '../lifecycle.js';
import type { ResumeState } from '../resume.js';
import type { UnconfirmedState } from '../unconfirmed.js';

/** Test helpers: read a layer's slice of a connection state by the layer's name. */
function slice(state: ConnectionState, name: string): object | undefined {
  const index = state.config.layers.findIndex((layer) => layer.name === name);
  return index < 0 ? undefined : state.layers[index];
}

/** The idle read deadline (idle-read layer), `null` when not armed or the layer is not run. */
export const readAt = (state: ConnectionState): number | null => (slice(state, 'idle-read') as IdleReadState | undefined)?.readAt ?? null;

/** Whether the lifecycle layer believes the network is up. */
export const online = (state: ConnectionState): boolean => (slice(state, 'lifecycle') as LifecycleState | undefined)?.online ?? true;

/** The resumable session's client end, or `null`. */
export const resumeOf = (state: ConnectionState): ResumeState | null => (slice(state, 'resume') as { resume: ResumeState | null } | undefined)?.resume ?? null;

const NONE: UnconfirmedState = { unconfirmed: 0, copies: [], copyBytes: 0, probes: [] };

/** The unconfirmed-message layer's slice. */
export const unconfirmedOf = (state: ConnectionState): UnconfirmedState => (slice(state, 'unconfirmed') as UnconfirmedState | undefined) ?? NONE;

/** The connect timeout's deadline (the kernel's timer table). */
export const connectAt = (state: ConnectionState): number | null => state.timers[TIMER.connect] ?? null;

/** The default composition's config of a state made by `openConnection`. */
export const configOf = (state: ConnectionState): ConnectionConfig => state.config as ConnectionConfig;
