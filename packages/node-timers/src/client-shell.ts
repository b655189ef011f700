import { CLOSE_CODES, canRestart, roundTripTime, type RoundTripTime, type ConnectionCommand, type ConnectionConfig, type ConnectionEvent, type ConnectionState, type ConnectionUserEvent, type Diagnostic } from '@keepalive/core';
import { clientPhase, ConnectionDriver, type ClientPhase } from './connection-driver.js';
import { Emitter, type EmitterListener, type EmitterListenerOptions } from './emitter.js';
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
 * (S9: an immediate close at process exit), the event API (`on`/`off`,
 * `once`, `addEventListener`/`removeEventListener`, `messages()`),
 * `reconnect()`, and the closing: the `closed` event, then nothing held or
 * armed, and no listener kept unless the machine can restart (`canRestart`:
 * rejected or exhausted). A transport extends it with how it carries out the
 * machine's commands. It decides nothing: every rule is the machine's.
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

/**
 * The events every client has that the shell itself uses: `error` (a listener or the platform failed), `closed`, and
 * `message` (what {@link ClientShell.messages} iterates).
 */
export interface ClientShellEvents {
  readonly error: Error;
  readonly closed: object;
  readonly message: unknown;
}

/** Options of a client's `messages()`. */
export interface ClientMessagesOptions {
  /**
   * How many messages are kept while the loop is busy (default {@link MESSAGES_BUFFER_DEFAULT}): one more ends the
   * iterator with a `BufferOverflowError`, after the ones it kept (never a silent drop).
   */
  readonly maxBuffered?: number | undefined;
  /** Ends the iterator when it aborts (its next read rejects with the signal's reason). */
  readonly signal?: AbortSignal | undefined;
}

/** The default bound of a client's `messages()` buffer: 1 000 messages. */
export const MESSAGES_BUFFER_DEFAULT = 1_000;

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
  /** Settles with the `closed` event (a new promise after a restart). */
  protected whenClosed: Promise<Events['closed']>;
  private readonly signal: AbortSignal | undefined;
  /** The platform wiring the subclass asked for in {@link begin}, done again after a restart. */
  private whileOpen: () => void = noop;
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

  /** The public phase (`parked`: no connection on purpose; a pending reconnect is `reconnecting`). */
  get state(): ClientPhase {
    return clientPhase(this.machine);
  }

  /**
   * The round-trip time measured by the answered keep-alives (no extra frames): the latest sample, the smoothed time
   * and its variation (RFC 6298), the smallest, and how many samples; kept across reconnects. Times in milliseconds,
   * `null` before the first answer.
   */
  get rtt(): RoundTripTime {
    return roundTripTime(this.machine);
  }

  /**
   * Milliseconds since the peer was last heard from on the current (or last) socket: any frame, or the socket
   * opening; `null` before any socket opened.
   */
  get silentMs(): number | null {
    const heardAt = this.machine.heardAt;
    return heardAt === null ? null : Math.max(0, this.now() - heardAt);
  }

  /**
   * Adds a listener; returns the function that removes it. A client closed for good emits nothing more and keeps no
   * listeners (one closed by `rejected` or `exhausted` keeps them, for `reconnect()`).
   */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    const off = this.events.on(event, listener);
    if (this.final()) off();
    return off;
  }

  /** Adds a listener called at most once; returns the function that removes it. */
  once<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    const off = this.events.once(event, listener);
    if (this.final()) off();
    return off;
  }

  /** Removes a listener added with `on` or `once`. */
  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    this.events.off(event, listener);
  }

  /**
   * Adds a listener as an `EventTarget` does (a function or an object with `handleEvent`, called with the payload):
   * `{ once: true }` removes it before its first call, `{ signal }` when the signal aborts. With `removeEventListener`
   * this is what `events.once(client, 'open')` and `events.on(client, 'message')` of `node:events` use.
   */
  addEventListener<K extends keyof Events>(event: K, listener: EmitterListener<Events[K]> | null, options?: EmitterListenerOptions | boolean): void {
    this.events.addEventListener(event, listener, options);
    if (this.final() && listener !== null) this.events.removeEventListener(event, listener);
  }

  /** Removes a listener added with `addEventListener` (or `on`, `once`). */
  removeEventListener<K extends keyof Events>(event: K, listener: EmitterListener<Events[K]> | null): void {
    this.events.removeEventListener(event, listener);
  }

  /**
   * The inbound messages as an async iterator (`for await (const message of client.messages())`), from now on, in
   * order. It ends when the client closes, once what it buffered is read; leaving the loop removes its listener. At
   * most `maxBuffered` messages wait while the loop body runs: one more ends it with a `BufferOverflowError` after the
   * ones kept (never a silent drop).
   */
  messages(options: ClientMessagesOptions = {}): AsyncIterableIterator<Events['message']> {
    const { maxBuffered = MESSAGES_BUFFER_DEFAULT, signal } = options;
    if (!Number.isInteger(maxBuffered) || maxBuffered < 1) throw new RangeError(`messages({ maxBuffered }): expected an integer >= 1, got ${String(maxBuffered)}`);
    if (this.final()) return this.events.iterate('message', { limit: 1, signal: AbortSignal.abort(new Error('messages(): the client is closed')) });
    return this.events.iterate('message', { limit: maxBuffered, end: ['closed'], signal });
  }

  /**
   * Starts a client closed by `rejected` or `exhausted` again, as new: a fresh attempt count and backoff, attempt 0
   * at once, its listeners kept; `close()` then returns a new promise. Anywhere else (not closed, or closed by
   * `close()` or the abort signal) it changes nothing and warns `restart_ignored`. Never throws.
   */
  reconnect(): void {
    const restarting = canRestart(this.machine);
    if (restarting) {
      this.restarted();
      this.whenClosed = new Promise((resolve) => {
        this.resolveClosed = resolve;
      });
    }
    this.dispatch({ type: 'restart', now: this.now() });
    if (restarting && this.machine.phase !== 'closed') this.wirePlatform();
  }

  /** Connections lost while idle after they opened (a reclaimer's cut), since the client was created: a counter for a metric. */
  get idleReclaims(): number {
    return this.machine.idleReclaims;
  }

  /** Closed for good: nothing will be emitted again (`closed` by `close()` or the abort signal, or never restarted). */
  private final(): boolean {
    return this.machine.phase === 'closed' && !canRestart(this.machine);
  }

  /** After a restart, before its socket: the transport forgets what its previous connection left (copies, codec). */
  protected restarted(): void {
    // Nothing by default.
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
    this.whileOpen = whileOpen;
    this.wirePlatform();
    this.driver.start();
  }

  /** The abort signal, the exit hook and the subclass's platform wiring: at the start, and again after a restart. */
  private wirePlatform(): void {
    if (this.signal?.aborted === true) this.abort();
    else this.signal?.addEventListener('abort', this.abort);
    // S9 at process exit: no time for a handshake, so the close is immediate.
    if (this.reportOnExit && this.machine.phase !== 'closed') {
      this.unregisterExit = onProcessExit(() => {
        this.dispatch({ type: 'close', now: this.now(), code: CLOSE_CODES.goingAway, reason: '', immediate: true });
      });
    }
    if (this.machine.phase !== 'closed') this.whileOpen();
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

  /**
   * Closed, the subclass's part done: the `closed` event, then no listener or subscriber is kept, unless the machine
   * can restart (rejected or exhausted: `reconnect()` finds them).
   */
  protected closedWith(closed: Events['closed']): void {
    (this.events as unknown as Emitter<ClientShellEvents>).emit('closed', closed);
    this.subscribers.notify();
    if (this.final()) {
      this.events.clear();
      this.subscribers.clear();
    }
    this.resolveClosed(closed);
  }

  /** Closed (called in the step with the machine's `closed` event): nothing armed or held remains. */
  protected finish(): void {
    this.driver.dispose();
    this.signal?.removeEventListener('abort', this.abort);
    this.unregisterExit();
    this.unregisterExit = noop;
  }

  private readonly abort = (): void => {
    this.dispatch({ type: 'close', now: this.now(), code: 1000, reason: '', cause: 'aborted' });
  };
}

function noop(): void {
  // Nothing to release.
}
