import type { CloseInfo, ConnectionCommand, ConnectionEvent, ConnectionState, ConnectionUserEvent, InboundFrame, ResumeTicket } from './kernel-types.js';

/**
 * A layer: one rule of the client connection beyond the kernel's (lazy park, the idle read timeout, the browser
 * lifecycle, the ping-flood slow-down, unconfirmed-message reports, the resumable session), in a file of its own named
 * for its rule. A client runs the kernel and the layers it is given, in order; a program that does not import a layer
 * does not bundle it.
 *
 * A layer owns one slice of the connection's state (`init`), and its hooks are called by the kernel at fixed points
 * of a step, in layer order. A hook may change its own slice (a copy made for this step: the previous state is never
 * touched), append commands to `host.out`, and ask the kernel for a decision through the {@link Host} (lose the
 * connection, send a keep-alive, unpark, ...). It never writes the kernel's state: the kernel applies every decision.
 * Every hook is optional.
 *
 * @typeParam S - the layer's slice of the state: plain data.
 */
export interface Layer<S extends object = object> {
  /** The rule's name, for readers and tests (`lazy-park`, `idle-read`, ...). */
  readonly name: string;
  /** The layer's slice when the connection opens. */
  init(now: number): S;
  /** The layer's earliest deadline, or `null`: the kernel's one deadline is the earliest of its table and these. */
  deadline?(s: Readonly<S>, k: ConnectionState): number | null;
  /** A socket is about to be asked for: what its URL asks for (a resume ticket), or `null`. */
  ticket?(host: Host, s: S): ResumeTicket | null;
  /** The socket opened (after the kernel's own work: attach, flush, the `open` event). */
  opened?(host: Host, s: S): void;
  /** An event the kernel does not handle (`network`, `visibility`, `hello`): `true` when this layer took it. */
  event?(host: Host, s: S, event: ConnectionEvent): boolean;
  /** An inbound frame on the open socket, before it counts as proof of life. */
  inbound?(host: Host, s: S, frame: InboundFrame): void;
  /** The acknowledgement an inbound frame carried, after it counted as proof of life. */
  acked?(host: Host, s: S, through: number): void;
  /** An inbound data frame: `true` when this layer delivers it (else the kernel pushes `deliver`). */
  data?(host: Host, s: S): boolean;
  /** The peer answered one of the client's keep-alives (a pong, or the answer to a heartbeat message). */
  answered?(host: Host, s: S): void;
  /** The application sends `bytes` bytes: `true` when this layer took the message (else the kernel writes or queues it). */
  send?(host: Host, s: S, bytes: number): boolean;
  /** The kernel wrote `messages` messages (`bytes` bytes) to the socket, now or from the queue. */
  written?(host: Host, s: S, messages: number, bytes: number): void;
  /** A keep-alive is going out (before its acknowledgement is chosen). */
  keepalive?(host: Host, s: S): void;
  /** The acknowledgement a keep-alive (or, `heartbeat`, a heartbeat message) carries, or `null`. */
  ack?(host: Host, s: S, heartbeat: boolean): number | null;
  /** Messages this layer holds that the peer has not acknowledged: the connection is not idle while any are held. */
  pending?(s: Readonly<S>): number;
  /** The `timeout` event (after the kernel's phase timers, before the session's). */
  timeout?(host: Host, s: S): void;
  /** The open socket was lost (after the session detached and `connection_lost` was said). */
  lost?(host: Host, s: S): void;
  /** The socket closed, or an attempt failed, with a code that is not terminal: before the park-or-backoff decision. */
  closedWith?(host: Host, s: S, info: CloseInfo, opened: boolean): void;
  /** A lost connection (or a backoff delay over): `true` parks the connection instead of reconnecting (B10). */
  parks?(host: Host, s: S): boolean;
  /** While `true`, a reconnect waits for this layer (offline: no attempt starts) and its delay is not armed. */
  holds?(s: Readonly<S>): boolean;
  /** Work on the activity ended a step with no work in flight, after having had some. */
  workEnded?(host: Host, s: S): void;
  /** The client's own close handshake completed: the peer read everything written before it. */
  cleanClose?(host: Host, s: S): void;
  /** Closing for good: hands back what it holds; returns how many of those, oldest first, were written. */
  finish?(host: Host, s: S): number;
  /** After every step (`heard`: the step handled an inbound frame or hello). */
  settle?(host: Host, s: S, heard: boolean): void;
}

/**
 * What the kernel offers a layer during a step: the state so far (read-only), the command list, and the decisions it
 * applies. Made once per step.
 */
export interface Host {
  /** The connection's state as the step has left it so far (read-only for layers). */
  readonly k: ConnectionState;
  /** The step's commands, in order: a layer appends its own. */
  readonly out: ConnectionCommand[];
  /** No work in flight, nothing queued, and nothing a layer holds unacknowledged: the connection has nothing to do. */
  idle(): boolean;
  /** Appends a user event. */
  emit(event: ConnectionUserEvent): void;
  /** The open socket is given up (`destroy_socket`), and the connection goes on as after any loss. */
  lose(info: CloseInfo): void;
  /** Sends one keep-alive on the open socket. */
  keepalive(): void;
  /** Proof of life from the peer (the session's `alive`). */
  alive(): void;
  /** Checks an open connection now: one keep-alive, whose answer is due within `pongTimeoutMs` (B5). */
  signal(): void;
  /** A reconnect waiting for its delay starts now (or parks, if a layer says so). */
  reconnectNow(): void;
  /** Connects now from the parked phase (`trigger`: what woke it). */
  unpark(trigger: 'activity' | 'send'): void;
  /** Messages move into the kernel's queue (a resumable session falling back to plain delivery). */
  requeue(messages: number, bytes: number): void;
  /** The heartbeat interval from now on (B13: only ever larger, within the bound checked at construction). */
  setHeartbeatInterval(ms: number): void;
}

/** The slice of `layer` in `state`, or `undefined` when the connection does not run that layer. */
export function layerState<S extends object>(state: ConnectionState, layer: Layer<S> | null | undefined): S | undefined {
  const index = layer == null ? -1 : state.config.layers.indexOf(layer);
  return index < 0 ? undefined : (state.layers[index] as S);
}

/** Messages the connection holds for the peer: queued, and held by layers until acknowledged (a resumable session's). */
export function heldMessages(state: ConnectionState): number {
  let held = state.queuedMessages;
  const { layers } = state.config;
  for (let i = 0; i < layers.length; i++) held += layers[i]?.pending?.(state.layers[i] as object) ?? 0;
  return held;
}
