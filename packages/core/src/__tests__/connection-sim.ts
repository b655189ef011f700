import {
  connectionDeadline,
  connectionStep,
  openConnection,
  type ConnectionCommand,
  type KernelConfig,
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionUserEvent,
  type Diagnostic,
  type InboundFrame,
} from '../index.js';
import { readAt } from './slices.js';

/** A socket of the simulated driver. */
export interface SimSocket {
  readonly serial: number;
  readonly attempt: number;
  open: boolean;
  closing: boolean;
}

type EventWithoutNow<E> = E extends unknown ? Omit<E, 'now'> : never;
/** A connection event without its `now`: the simulator adds its clock. */
export type ConnectionInput = EventWithoutNow<ConnectionEvent>;

/**
 * A simulated driver for the connection machine: a fake monotonic clock, at
 * most one simulated socket, a payload queue of message numbers, and a record
 * of everything the commands did. Contract violations (a second socket, a
 * connect after the close, a write with no open socket) are recorded, not
 * thrown, so properties can assert on them. It carries out commands exactly as
 * a real driver must: in order, `flush` followed by a `dequeued` report.
 */
export class ConnectionSim {
  state: ConnectionState;
  now: number;
  socket: SimSocket | null = null;
  readonly queue: number[] = [];
  readonly written: number[] = [];
  readonly drained: number[] = [];
  /** Messages of a resumable session, kept by number until a `requeue`. */
  readonly kept: number[] = [];
  readonly events: ConnectionUserEvent[] = [];
  readonly diagnostics: Diagnostic[] = [];
  readonly violations: string[] = [];
  readonly socketsOpened: { readonly attempt: number; readonly at: number }[] = [];
  readonly keepalives: ('ping' | 'heartbeat')[] = [];
  replies = 0;
  /** How late (ms past its deadline) each dead-peer verdict's liveness deadline was handled (B15). */
  readonly deadPeerLateness: number[] = [];
  accepted = 0;
  refused = 0;
  private nextMessage = 1;
  private lastSend: 'write' | 'enqueue' | 'refuse' | null = null;
  private readonly pending: ConnectionEvent[] = [];
  private closeRequested = false;

  constructor(options: ConnectionOptions | KernelConfig = {}, start = 0, seed = 1) {
    this.now = start;
    const [state, commands] = openConnection(options, start, seed);
    this.state = state;
    this.execute(commands);
  }

  /** Delivers one event at the current time, then any reports the commands caused. */
  apply(input: ConnectionInput): readonly ConnectionCommand[] {
    const all: ConnectionCommand[] = [];
    this.pending.push({ ...input, now: this.now });
    for (let event = this.pending.shift(); event !== undefined; event = this.pending.shift()) {
      if (event.type === 'close') this.closeRequested = true;
      const out: ConnectionCommand[] = [];
      const livenessAt = this.state.session.livenessAt;
      const readDue = readAt(this.state);
      this.state = connectionStep(this.state, event, out);
      // The deadline that gave the verdict: the idle read timeout's, or the liveness deadline's.
      const fired = out.some((command) => command.type === 'diagnostic' && command.name === 'idle_read_timeout') ? readDue : livenessAt;
      if (fired !== null && out.some((command) => command.type === 'event' && command.event.type === 'dead-peer')) this.deadPeerLateness.push(this.now - fired);
      this.execute(out);
      all.push(...out);
    }
    return all;
  }

  /** Advances the clock by `ms` without firing anything (the process did not run), then handles what is due at once. */
  stall(ms: number, random?: number): void {
    this.now += ms;
    this.apply(random === undefined ? { type: 'timeout' } : { type: 'timeout', random });
  }

  /** Advances the clock by `ms`, firing every deadline on the way at its own time. */
  advance(ms: number, random?: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const deadline = connectionDeadline(this.state);
      if (deadline === null || deadline > end) break;
      this.now = Math.max(this.now, deadline);
      this.apply(random === undefined ? { type: 'timeout' } : { type: 'timeout', random });
    }
    this.now = end;
  }

  /** The current socket opens. */
  open(canPing = true): void {
    if (this.socket === null) {
      this.violations.push('opened with no socket');
      return;
    }
    this.socket.open = true;
    this.apply({ type: 'socket_opened', canPing });
  }

  /** The current socket closes (the peer closed it, or the attempt failed). */
  closeSocket(code = 1006, reason = '', random?: number): void {
    if (this.socket === null) return;
    this.socket = null;
    this.apply(random === undefined ? { type: 'socket_closed', code, reason } : { type: 'socket_closed', code, reason, random });
  }

  /** The open socket received a frame. */
  inbound(frame: InboundFrame): void {
    if (this.socket?.open === true) this.apply({ type: 'inbound', frame });
  }

  /** The application sends one numbered message of `bytes` bytes; returns what became of it. */
  send(bytes = 10): 'write' | 'enqueue' | 'refuse' | null {
    this.lastSend = null;
    const message = this.nextMessage++;
    this.sending = message;
    this.apply({ type: 'send', bytes, writable: this.socket?.open === true && !this.socket.closing });
    this.sending = null;
    return this.lastSend;
  }

  private sending: number | null = null;

  private execute(commands: readonly ConnectionCommand[]): void {
    for (const command of commands) {
      switch (command.type) {
        case 'open_socket':
          if (this.socket !== null) this.violations.push('a second socket');
          if (this.closeRequested || this.state.phase === 'closed') this.violations.push('a connect after the close');
          this.socket = { serial: command.serial, attempt: command.attempt, open: false, closing: false };
          this.socketsOpened.push({ attempt: command.attempt, at: this.now });
          break;
        case 'abandon_socket':
        case 'destroy_socket':
          if (this.socket === null) this.violations.push('destroy with no socket');
          this.socket = null;
          break;
        case 'close_socket':
          if (this.socket === null) this.violations.push('close with no socket');
          else this.socket.closing = true;
          break;
        case 'keepalive':
          if (this.socket?.open !== true) this.violations.push('a keep-alive with no open socket');
          this.keepalives.push(command.frame);
          break;
        case 'reply_heartbeat':
          this.replies++;
          break;
        case 'write':
          if (this.socket?.open !== true) this.violations.push('a write with no open socket');
          if (this.sending !== null) this.written.push(this.sending);
          this.lastSend = 'write';
          this.accepted++;
          break;
        case 'enqueue':
          if (this.sending !== null) this.queue.push(this.sending);
          this.lastSend = 'enqueue';
          this.accepted++;
          break;
        case 'refuse':
          this.lastSend = 'refuse';
          this.refused++;
          break;
        case 'flush': {
          if (this.socket?.open !== true || this.socket.closing) break;
          const messages = this.queue.splice(0);
          this.written.push(...messages);
          this.pending.push({ type: 'dequeued', now: this.now, messages: messages.length, bytes: this.state.queuedBytes });
          break;
        }
        case 'drain':
          this.drained.push(...this.queue.splice(0));
          break;
        case 'number':
          // A resumable session's message, kept by number (this sim never transmits: it has no v1 server).
          if (this.sending !== null) this.kept.push(this.sending);
          this.lastSend = 'enqueue';
          this.accepted++;
          break;
        case 'requeue':
          this.queue.push(...this.kept.splice(0));
          break;
        case 'event':
          this.events.push(command.event);
          break;
        case 'diagnostic':
          this.diagnostics.push(command);
          break;
      }
    }
  }

  /** The user events of one type. */
  eventsOf<T extends ConnectionUserEvent['type']>(type: T): Extract<ConnectionUserEvent, { type: T }>[] {
    return this.events.filter((event): event is Extract<ConnectionUserEvent, { type: T }> => event.type === type);
  }

  /** Names of the diagnostics seen. */
  diagnosticNames(): string[] {
    return this.diagnostics.map((d) => d.name);
  }
}
