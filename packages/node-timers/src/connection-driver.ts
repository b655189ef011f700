import { connectionDeadline, connectionStep, openConnection, type ConnectionCommand, type ConnectionConfig, type ConnectionEvent, type ConnectionState, type SessionState } from '@keepalive/core';
import type { ScheduledEntry, Scheduler } from './scheduler.js';
import type { StateSubscribers } from './work.js';

/**
 * The loop every client driver runs around the core's connection machine
 * (the WebSocket client, the SSE client): written once, so the transports
 * differ only in how they translate. It steps events strictly in order (an
 * event a command reports during a step waits for that step to end), hands
 * each command to the transport, delivers what the steps left for the
 * application after the step and in order, keeps the one scheduler entry at
 * {@link connectionDeadline}, and holds the process open while a reconnect
 * is pending (the scheduler's timer is unref'd). It decides nothing: every
 * rule is the machine's.
 */

/** What a transport gives the loop: how to carry out a command, and what to do with an inbound message no command took. */
export interface ConnectionTransport<M> {
  /** Carries out one command of the step. Work that reaches the application goes through {@link ConnectionDriver.later}. */
  execute(command: ConnectionCommand): void;
  /** The inbound message of a stepped event that neither `deliver` nor `duplicate` took (its socket was gone). */
  unclaimed(message: M): void;
  /** The `timeout` event for a scheduler wake at `now` (the WebSocket client adds its send gate). */
  timeout(now: number): ConnectionEvent;
}

/** Options of {@link ConnectionDriver}. */
export interface ConnectionDriverOptions<M> {
  /** The validated connection options. */
  readonly config: ConnectionConfig;
  /** The process's scheduler (its clock, its one timer, its hold). */
  readonly scheduler: Scheduler;
  /** Hold the process open while work is in flight, not only while a reconnect is pending. */
  readonly keepProcessAlive: boolean;
  /** Notified after every step with the session state. */
  readonly subscribers: StateSubscribers;
  /** The transport's half. */
  readonly transport: ConnectionTransport<M>;
}

/**
 * The public phase of a client over the machine's phases: a reconnect (a backoff delay, or an attempt after a
 * failure) is `reconnecting`; `parked` is the client with no connection on purpose (lazy and idle). It is never
 * `'idle'` any more: "idle" means only "no work in flight".
 */
export type ClientPhase = 'connecting' | 'reconnecting' | 'open' | 'parked' | 'closing' | 'closed';

/** A client's {@link ClientPhase} from its connection state. */
export function clientPhase(machine: ConnectionState): ClientPhase {
  const { phase, attempt } = machine;
  if (phase === 'connecting') return attempt === 0 ? 'connecting' : 'reconnecting';
  if (phase === 'backoff') return 'reconnecting';
  return phase;
}

/** See the module comment: the event loop of one client connection. */
export class ConnectionDriver<M> {
  private current: ConnectionState;
  private readonly options: ConnectionDriverOptions<M>;
  /** The one scheduler entry; `null` once disposed (closed), made again if the machine leaves `closed` (a restart). */
  private entry: ScheduledEntry | null;
  private readonly pending: ConnectionEvent[] = [];
  /** The inbound message of each pending event (`null` for the others). */
  private readonly pendingMessages: (M | null)[] = [];
  private readonly deferred: (() => void)[] = [];
  private incoming: M | null = null;
  private running = false;
  private delivering = false;
  private releaseHold: (() => void) | null = null;
  /** What the subscribers are told about: the connection's session (one closure, not one per delivery). */
  private readonly readSession = (): SessionState => this.current.session;

  private initial: readonly ConnectionCommand[];

  /** The machine, opened; nothing is carried out until {@link open}. */
  constructor(options: ConnectionDriverOptions<M>) {
    this.options = options;
    const { scheduler } = options;
    this.entry = this.makeEntry();
    // B3: the jitter is seeded from the platform's CSPRNG; the core draws from the seed.
    const seed = globalThis.crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
    const [machine, commands] = openConnection(options.config, scheduler.now(), seed);
    this.current = machine;
    this.initial = commands;
  }

  /**
   * Carries out the machine's first commands (through the transport); what they leave for the application waits
   * for {@link start}, so the caller can finish wiring itself up (an abort signal, exit hooks) in between.
   */
  open(): void {
    const commands = this.initial;
    this.initial = [];
    for (const command of commands) this.options.transport.execute(command);
  }

  /** The connection state after the last step. */
  get machine(): ConnectionState {
    return this.current;
  }

  /** True while a step runs: an event reported now is stepped after it. */
  get stepping(): boolean {
    return this.running;
  }

  /** Monotonic milliseconds, never earlier than the last event. */
  now(): number {
    return Math.max(this.options.scheduler.now(), this.current.now);
  }

  /** Arms the timer and delivers what opening left for the application. */
  start(): void {
    this.dispatch(null);
  }

  /**
   * Steps `event` (with the inbound `message` it carries, if any) and every event reported meanwhile, in order;
   * then re-arms the timer, syncs the hold and delivers. `null` steps nothing and does the rest.
   */
  dispatch(event: ConnectionEvent | null, message: M | null = null): void {
    if (event !== null) this.enqueue(event, message);
    if (this.running) return;
    this.running = true;
    const { transport } = this.options;
    try {
      const out: ConnectionCommand[] = [];
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        out.length = 0;
        this.incoming = this.pendingMessages.shift() ?? null;
        this.current = connectionStep(this.current, next, out);
        for (const command of out) transport.execute(command);
        const unclaimed = this.incoming;
        this.incoming = null;
        if (unclaimed !== null) transport.unclaimed(unclaimed);
      }
    } finally {
      this.running = false;
    }
    if (this.current.phase !== 'closed') (this.entry ??= this.makeEntry()).schedule(connectionDeadline(this.current));
    this.syncHold();
    this.deliver();
  }

  /** Queues an event (a fact a command reported during the step) to be stepped after the current one. */
  enqueue(event: ConnectionEvent, message: M | null = null): void {
    this.pending.push(event);
    this.pendingMessages.push(message);
  }

  /** The inbound message of the event being stepped, taken (for `deliver`); `null` when there is none. */
  take(): M | null {
    const message = this.incoming;
    this.incoming = null;
    return message;
  }

  /** Leaves `work` for the application: run after the step, in order. */
  later(work: () => void): void {
    this.deferred.push(work);
  }

  /** Closed: the timer entry and any hold released (a restart makes a new entry). */
  dispose(): void {
    this.entry?.dispose();
    this.entry = null;
    this.releaseHold?.();
    this.releaseHold = null;
  }

  private makeEntry(): ScheduledEntry {
    const { scheduler, transport } = this.options;
    return scheduler.entry((now) => {
      this.dispatch(transport.timeout(Math.max(now, this.current.now)));
    });
  }

  /** Delivers what the steps left for the application, in order; callbacks that step again append to the same queue. */
  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let next = this.deferred.shift(); next !== undefined; next = this.deferred.shift()) next();
      this.options.subscribers.notify(this.readSession);
    } finally {
      this.delivering = false;
    }
  }

  /** A hold keeps the process alive while a reconnect is pending (or work is in flight, with keepProcessAlive). */
  private syncHold(): void {
    const { phase, session } = this.current;
    const wanted = phase === 'backoff' || (this.options.keepProcessAlive && phase !== 'closed' && session.total > 0);
    if (wanted && this.releaseHold === null) {
      this.releaseHold = this.options.scheduler.hold();
    } else if (!wanted && this.releaseHold !== null) {
      this.releaseHold();
      this.releaseHold = null;
    }
  }
}
