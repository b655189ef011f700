import { CLOSE_CODES, type ConnectionCommand, type ConnectionConfig, type ConnectionEvent, type ConnectionState, type ConnectionUserEvent, type Diagnostic } from '@keepalive/core';
import { clientPhase, ConnectionDriver, type ClientPhase } from './connection-driver.js';
import { Emitter } from './emitter.js';
import { onProcessExit } from './exit-hooks.js';
import { createDiagnosticSink, errorName, toError, type Logger } from './logger.js';
import { nextInstanceId } from './runtime.js';
import type { Scheduler } from './scheduler.js';
import { StateSubscribers, createWorkActivity } from './work.js';
import type { WorkActivity } from './activity.js';

/**
 * What every client around the core's connection machine is made of besides
 * its transport (the WebSocket client, the SSE client), in one copy: the
 * diagnostic sink, the event emitter and the state subscribers (a listener
 * or subscriber that throws is reported, never thrown), the work activity,
 * the {@link ConnectionDriver} loop, the abort signal and the exit hook
 * (S9: an immediate close at process exit), `on`/`off`, and the closing: the
 * `closed` event, then nothing listened to, held or armed. A transport
 * extends it with how it carries out the machine's commands. It decides
 * nothing: every rule is the machine's.
 */

/** The options a client shell reads: the validated connection config and the platform pieces every client takes. */
export interface ClientShellOptions {
  /** The validated connection options. */
  readonly config: ConnectionConfig;
  /** The process's scheduler. */
  readonly scheduler: Scheduler;
  /** Hold the process open while work is in flight (`keepProcessAlive: 'while-busy'`). */
  readonly keepProcessAlive: boolean;
  /** Close at once, with the shutdown report, when the process exits (S9). */
  readonly reportOnExit: boolean;
  /** Closes the client (cause `aborted`) when it aborts; an aborted signal never connects. */
  readonly signal: AbortSignal | undefined;
  /** Where diagnostics go besides the `keepalive:diagnostics` channel (validated by the sink). */
  readonly logger?: Logger | undefined;
  /** Called with every diagnostic (validated by the sink). */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
}

/** The commands a transport carries out: every connection command but `event` and `diagnostic`, which the shell delivers. */
export type TransportCommand = Exclude<ConnectionCommand, { readonly type: 'event' | 'diagnostic' }>;

/** The events every client emits that the shell itself emits: `error` (a listener or the platform failed) and `closed`. */
export interface ClientShellEvents {
  readonly error: Error;
  readonly closed: object;
}

/** See the module comment: the shared half of a client; a transport subclass carries out the commands. */
export abstract class ClientShell<Events extends ClientShellEvents, M> {
  /** The client's activity: work in flight keeps the connection alive (S1–S4). */
  readonly activity: WorkActivity;
  /** The loop around the connection machine. */
  protected readonly driver: ConnectionDriver<M>;
  /** Delivers one diagnostic to the channel, the logger and `onDiagnostic`. */
  protected readonly diagnose: (diagnostic: Diagnostic) => void;
  /** The client's listeners. */
  protected readonly events: Emitter<Events>;
  /** The activity's state subscribers. */
  protected readonly subscribers: StateSubscribers;
  /** Settles with the `closed` event. */
  protected readonly whenClosed: Promise<Events['closed']>;
  private readonly signal: AbortSignal | undefined;
  private readonly reportOnExit: boolean;
  private resolveClosed: (event: Events['closed']) => void = noop;
  private unregisterExit: () => void = noop;

  /**
   * Wires everything up and opens the machine; nothing is carried out until {@link begin}, which the subclass calls
   * at the end of its own constructor (its fields exist by then).
   */
  protected constructor(options: ClientShellOptions, eventNames: readonly (keyof Events)[]) {
    const id = nextInstanceId();
    this.signal = options.signal;
    this.reportOnExit = options.reportOnExit;
    this.diagnose = createDiagnosticSink({ session: id, logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.whenClosed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.events = new Emitter(eventNames, (event, error) => {
      this.warn('listener_failed', { event: String(event), error: errorName(error) });
      if (event !== 'error') this.emitError(error);
    });
    this.subscribers = new StateSubscribers(
      (error) => {
        this.warn('subscriber_failed', { error: errorName(error) });
      },
      () => this.machine.session,
    );
    this.activity = createWorkActivity({
      id,
      session: () => this.machine.session,
      now: () => this.now(),
      work: (event) => {
        this.dispatch(event);
      },
      readGate: () => this.sendGate(),
      subscribers: this.subscribers,
    });
    this.driver = new ConnectionDriver({
      config: options.config,
      scheduler: options.scheduler,
      keepProcessAlive: options.keepProcessAlive,
      subscribers: this.subscribers,
      transport: {
        execute: (command) => {
          // What reaches the application waits for the step to end; the closing is carried out within it.
          if (command.type === 'event') {
            const event = command.event;
            if (event.type === 'closed') this.finish();
            this.driver.later(() => {
              this.emitUserEvent(event);
            });
          } else if (command.type === 'diagnostic') {
            this.driver.later(() => {
              this.diagnose(command);
            });
          } else {
            this.execute(command);
          }
        },
        unclaimed: (message) => {
          this.unclaimed(message);
        },
        timeout: (now) => ({ type: 'timeout', now, sendKeepalives: this.sendGate() }),
      },
    });
  }

  /** The public phase (`idle` is parked, a pending reconnect is `reconnecting`). */
  get state(): ClientPhase {
    return clientPhase(this.machine);
  }

  /** Adds a listener; returns the function that removes it. A closed client emits nothing more and keeps no listeners. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    const off = this.events.on(event, listener);
    if (this.machine.phase === 'closed') off();
    return off;
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    this.events.off(event, listener);
  }

  /** Carries out one command of the step (see {@link ConnectionDriver}): every command but `event` and `diagnostic`, which the shell delivers. */
  protected abstract execute(command: TransportCommand): void;

  /** Emits one of the machine's user events as the transport's own (after the step; a `closed` ends with {@link closedWith}). */
  protected abstract emitUserEvent(event: ConnectionUserEvent): void;

  /** An inbound message the machine did not take (its socket was gone): to be said, not dropped silently. */
  protected abstract unclaimed(message: M): void;

  /** The send gate, read at every tick and signal (`undefined`: the configured one). */
  protected sendGate(): boolean | undefined {
    return undefined;
  }

  /**
   * Carries out the machine's first commands, then closes at once for an aborted signal (before any socket) or
   * listens to it, registers the exit hook, runs `whileOpen` (more platform wiring, skipped when already closed),
   * and delivers what opening left for the application.
   */
  protected begin(whileOpen: () => void = noop): void {
    this.driver.open();
    if (this.signal?.aborted === true) this.abort();
    else this.signal?.addEventListener('abort', this.abort);
    // S9 at process exit: no time for a handshake, so the close is immediate.
    if (this.reportOnExit && this.machine.phase !== 'closed') {
      this.unregisterExit = onProcessExit(() => {
        this.dispatch({ type: 'close', now: this.now(), code: CLOSE_CODES.goingAway, reason: '', immediate: true });
      });
    }
    if (this.machine.phase !== 'closed') whileOpen();
    this.driver.start();
  }

  /** The connection state after the last step. */
  protected get machine(): ConnectionState {
    return this.driver.machine;
  }

  /** Monotonic milliseconds, never earlier than the last event. */
  protected now(): number {
    return this.driver.now();
  }

  /** Steps `event` (with the inbound `message` it carries), or with `null` only re-arms and delivers. */
  protected dispatch(event: ConnectionEvent | null, message: M | null = null): void {
    this.driver.dispatch(event, message);
  }

  /** A warning diagnostic (counts, names and durations only: S10). */
  protected warn(name: string, fields: Diagnostic['fields']): void {
    this.diagnose({ type: 'diagnostic', level: 'warn', name, fields });
  }

  /** Emits `error` with `error` as an Error. */
  protected emitError(error: unknown): void {
    (this.events as unknown as Emitter<ClientShellEvents>).emit('error', toError(error));
  }

  /** Closed for good, the subclass's part done: the `closed` event, then no listener or subscriber is kept. */
  protected closedWith(closed: Events['closed']): void {
    (this.events as unknown as Emitter<ClientShellEvents>).emit('closed', closed);
    this.events.clear();
    this.subscribers.notify();
    this.subscribers.clear();
    this.resolveClosed(closed);
  }

  /** Closed for good (called in the step with the machine's `closed` event): nothing armed, held or listened to remains. */
  protected finish(): void {
    this.driver.dispose();
    this.signal?.removeEventListener('abort', this.abort);
    this.unregisterExit();
  }

  private readonly abort = (): void => {
    this.dispatch({ type: 'close', now: this.now(), code: 1000, reason: '', cause: 'aborted' });
  };
}

function noop(): void {
  // Nothing to release.
}
