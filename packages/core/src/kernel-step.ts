import { CLOSE_CODES } from './commands.js';
import { TIMER, type CloseInfo, type ConnectionCommand, type ConnectionState } from './kernel-types.js';
import { heldMessages, type Host, type Layer } from './layer.js';
import { reconnectStep, type ReconnectCommand, type ReconnectEvent } from './reconnect.js';
import { rttSent } from './rtt.js';
import { step as sessionStep, type SessionCommand, type SessionEvent } from './session.js';

/**
 * One step of the client connection's kernel (`kernel.ts`), and what every part of it shares. A step copies the state
 * once into a {@link Draft} (each layer's slice too) and edits it in place; the {@link Step} handle carries the draft,
 * the step's commands and the event's jitter draw, and is the {@link Host} the layers are given.
 *
 * Here: the layer visitors (every layer in order, the first that answers), the two composed machines run inside a
 * step (the session: work, heartbeat, liveness; the reconnect machine: attempts and backoff), opening a socket, and
 * sending one keep-alive. The rules that use them are in files named for them: `kernel-close.ts` (closing, losses,
 * park or retry, restart, the idle-churn streak), `kernel-queue.ts` (sends and the queue), `kernel-inbound.ts`
 * (inbound frames and the heartbeat answer); `kernel.ts` dispatches the events and opens the connection.
 */

/**
 * The commands that carry no data, frozen once, and the empty values a step starts from. They stay together, one
 * declaration in a bundle, though each belongs to a rule: `write` and `enqueue` to the queue, `reply_heartbeat` and
 * `deliver` to inbound frames, `drain` and `abandon_socket` to closing, the keep-alives to {@link sendKeepalive}.
 */
export const WRITE: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'write' });
export const ENQUEUE: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'enqueue' });
export const FLUSH: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'flush' });
export const DRAIN: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'drain' });
export const DESTROY: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'destroy_socket' });
export const ABANDON: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'abandon_socket' });
export const REPLY: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'reply_heartbeat', ack: null });
const PING: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'keepalive', frame: 'ping', ack: null });
const HEARTBEAT: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'keepalive', frame: 'heartbeat', ack: null });
export const DELIVER: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'deliver' });
export const NO_FIELDS = /* @__PURE__ */ Object.freeze({});
export const NO_LOSS: CloseInfo = /* @__PURE__ */ Object.freeze({ code: CLOSE_CODES.abnormal, reason: '' });
export const NO_TIMERS: readonly (number | null)[] = /* @__PURE__ */ Object.freeze([null, null]);

/** A connection state being edited in place during one step. */
export type Draft = { -readonly [K in keyof ConnectionState]: K extends 'timers' ? (number | null)[] : K extends 'layers' ? object[] : ConnectionState[K] };

/**
 * One step: the draft, its commands, the event's jitter draw, and the decisions layers may ask for ({@link Host}).
 * `kernel.ts` makes one per step (its class wires each decision to the rule that makes it).
 */
export interface Step extends Host {
  readonly k: Draft;
  /** The jitter draw the event carried (`random`), for a backoff delay this step picks. */
  readonly random: number | undefined;
}

/** Calls `visit` with every layer and its slice, in layer order. */
export function eachLayer(h: Step, visit: (layer: Layer, slice: object) => void): void {
  const { layers } = h.k.config;
  for (let i = 0; i < layers.length; i++) visit(layers[i] as Layer, h.k.layers[i] as object);
}

/** Whether a layer answers `ask` with `true` (the first that does ends the search). */
export function anyLayer(h: Step, ask: (layer: Layer, slice: object) => boolean | undefined): boolean {
  return firstOf(h, (layer, slice) => (ask(layer, slice) === true ? true : null)) === true;
}

/** The first non-null answer of the layers to `ask`. */
export function firstOf<T>(h: Step, ask: (layer: Layer, slice: object) => T | null | undefined): T | null {
  const { layers } = h.k.config;
  for (let i = 0; i < layers.length; i++) {
    const answer = ask(layers[i] as Layer, h.k.layers[i] as object);
    if (answer != null) return answer;
  }
  return null;
}

/** Whether a layer holds the reconnect (offline): no attempt starts, and the backoff delay is not armed. */
export function held(state: ConnectionState): boolean {
  const { layers } = state.config;
  for (let i = 0; i < layers.length; i++) if (layers[i]?.holds?.(state.layers[i] as object) === true) return true;
  return false;
}

/** No work in flight, nothing queued, and nothing a layer holds unacknowledged: the connection has nothing to do. */
export function isIdle(h: Step): boolean {
  return h.k.session.total === 0 && heldMessages(h.k) === 0;
}

/** Runs one event through the composed session machine and translates its commands. */
export function runSession(h: Step, event: SessionEvent): void {
  const inner: SessionCommand[] = [];
  h.k.session = sessionStep(h.k.session, event, inner);
  for (const command of inner) {
    switch (command.type) {
      case 'send':
        // The session sends only while attached, and it is attached exactly while open.
        sendKeepalive(h);
        break;
      case 'close':
        // B5: the session declared the peer dead (it has detached itself).
        h.emit({ type: 'dead-peer', timeoutMs: h.k.session.config.pongTimeoutMs ?? /* c8 ignore next */ 0 });
        h.lose({ code: command.code, reason: command.reason });
        break;
      case 'diagnostic':
        h.out.push(command);
        break;
      default:
        // `arm` / `cancel`: the driver arms one timer at connectionDeadline(), and session timers are in it.
        break;
    }
  }
}

/** Runs one event through the composed reconnect machine; its diagnostics pass through. */
export function runBackoff(h: Step, event: ReconnectEvent): void {
  const inner: ReconnectCommand[] = [];
  h.k.backoff = reconnectStep(h.k.backoff, event, inner);
  for (const command of inner) if (command.type === 'diagnostic') h.out.push(command);
}

/** Asks for a socket for `attempt` (`connecting`, the connect timeout armed), with the ticket a layer wants in its URL. */
export function openSocket(h: Step, attempt: number): void {
  const d = h.k;
  d.phase = 'connecting';
  d.attempt = attempt;
  d.sockets += 1;
  d.parkedAt = null;
  d.timers[TIMER.connect] = d.now + d.config.connectTimeoutMs;
  const resume = firstOf(h, (layer, slice) => layer.ticket?.(h, slice));
  h.out.push({ type: 'open_socket', attempt, serial: d.sockets, resume });
}

/** One keep-alive: a ping or a heartbeat message, carrying an acknowledgement where a layer owes one (B14). */
export function sendKeepalive(h: Step): void {
  eachLayer(h, (layer, slice) => layer.keepalive?.(h, slice));
  const d = h.k;
  if (!d.canPing) d.heartbeatsOwed += 1;
  rttSent(d, d.now);
  const ack = firstOf(h, (layer, slice) => layer.ack?.(h, slice, !d.canPing));
  if (ack === null) h.out.push(d.canPing ? PING : HEARTBEAT);
  else h.out.push({ type: 'keepalive', frame: d.canPing ? 'ping' : 'heartbeat', ack });
}
