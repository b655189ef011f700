import {
  clearCommands,
  createSessionState,
  lastToken,
  pollTimeout,
  stepInPlace,
  summarize,
  KeepaliveOptionError,
  type CloseTransport,
  type Diagnostic,
  type SessionCommand,
  type SessionEvent,
  type SessionOptions,
  type MutableSessionState,
  type SessionState,
  type StepOptions,
  type SessionSummary,
  type ShutdownReport as CoreShutdownReport,
} from '@keepalive/core';
import { onProcessExit } from './exit-hooks.js';
import { createDiagnosticSink, debugListener, errorName, type Logger } from './logger.js';
import { defaultScheduler, type ScheduledEntry, type Scheduler } from './scheduler.js';
import { nextInstanceId } from './runtime.js';
import { StateSubscribers, runActivity } from './work.js';

/**
 * Where keep-alives go: a function, or an object that can also close its
 * transport when the core declares the peer dead (spec B5).
 */
export type KeepaliveSender =
  | (() => void)
  | {
      sendKeepalive(): void;
      closeTransport?(command: CloseTransport): void;
    };

/**
 * Options of {@link createSessionActivity}: every core option, plus the
 * adapter's own.
 */
export interface SessionActivityOptions extends Omit<SessionOptions, 'sendKeepalives'> {
  /** Whether to send keep-alives: a boolean, or a function read at each tick and each signal. Default `true`. */
  readonly sendKeepalives?: boolean | (() => boolean) | undefined;
  /** Where diagnostics go: a function `(level, event, fields)`, a console-style or a pino-style logger. Default: silent. */
  readonly logger?: Logger | undefined;
  /** The scheduler to run on. Default: {@link defaultScheduler}, one timer for the whole process. */
  readonly scheduler?: Scheduler | undefined;
  /** `'while-busy'` holds the process open while total > 0 (as grpc-js does with its sessions). Default `false`. */
  readonly keepProcessAlive?: false | 'while-busy' | undefined;
  /** Emit the shutdown report at process exit if `shutdown()` was not called. Default `false`. */
  readonly reportOnExit?: boolean | undefined;
  /** Called with every diagnostic after the logger, e.g. to feed a dashboard. */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
}

/**
 * The shutdown report (spec S9): counts, reason names and durations only.
 */
export type ShutdownReport = CoreShutdownReport;

/**
 * A point-in-time view of an instance: total, per-reason counts, age of the
 * oldest activity, timers armed, keep-alives sent.
 */
export type ActivitySnapshot = SessionSummary;

/**
 * The work-facing side of an activity: start and stop work, observe the
 * state. A session activity is one; so is a keepalive client's `activity`,
 * whose transport side the client drives itself.
 */
export interface WorkActivity {
  /** A process-unique number for this instance (used in diagnostics-channel messages). */
  readonly id: number;
  /** Starts an activity (S1); returns its release function, which is safe to call more than once. */
  start(reason: string): () => void;
  /** Stops the oldest activity of `reason` (S1, S2, B2). */
  stop(reason: string): void;
  /** Runs `fn` (sync or async) as an activity of `reason`, released in every outcome. */
  run<T>(reason: string, fn: () => T): T;
  /** Sends one keep-alive now if enabled and attached (S7). */
  signal(): void;
  /** Whether a sender is attached (S8). */
  isTrackingActive(): boolean;
  /** A point-in-time view of the instance. */
  snapshot(): ActivitySnapshot;
  /**
   * Observes the state without polling: `listener` is called with the new state after every
   * call (or timer tick) that changed it: a start, a release, a heartbeat, an attach, a
   * detach, the shutdown. Listeners run in the order they subscribed, after the change is
   * complete (timers already rescheduled), so they may call back into the activity. A
   * listener that causes a further change is not called with a stale state: every listener
   * then sees the newest state, in order, never the same state twice. A listener that throws
   * is reported as a warn diagnostic `subscriber_failed` (`{error}`, its name only) and never
   * stops the others. After shutdown the listeners see the final state once, then are all
   * dropped; subscribing after shutdown adds nothing. Returns the function that unsubscribes
   * (safe to call more than once).
   */
  subscribe(listener: (state: SessionState) => void): () => void;
  /** The core state, read-only (for dashboards and tests). */
  readonly state: SessionState;
}

/**
 * A session-activity instance: the core's machine, fed by a monotonic clock
 * and a shared scheduler, with its commands carried out. The work-facing
 * {@link WorkActivity} plus the transport side (attach a sender, report proof
 * of life) and shutdown.
 */
export interface SessionActivity extends WorkActivity, Disposable, AsyncDisposable {
  /** Attaches the keep-alive sender, replacing any other (S3, S4). */
  attach(sender: KeepaliveSender): void;
  /** Detaches the sender (S4, S6). */
  detach(): void;
  /** Reports proof of life from the peer: a pong or any inbound message (B5). */
  alive(): void;
  /** Shuts down: reports once (S9), cancels every timer, detaches. Later calls return the same report. */
  shutdown(): ShutdownReport;
}

/**
 * Diagnostics the Node adapter adds to the core's, all warn with `{error}`
 * (the error's name only, never its message: spec S10): `sender_failed`,
 * `logger_failed` (also `{event}`), `send_gate_failed`, `subscriber_failed`
 * (a `subscribe` listener threw).
 */
export const ADAPTER_DIAGNOSTICS = Object.freeze({
  senderFailed: 'sender_failed',
  loggerFailed: 'logger_failed',
  gateFailed: 'send_gate_failed',
  subscriberFailed: 'subscriber_failed',
});



/** What the adapter wants from the core: no timer commands (it re-schedules at pollTimeout), debug only when heard. */
const DRIVER: StepOptions = Object.freeze({ timerCommands: false });
const QUIET_DRIVER: StepOptions = Object.freeze({ timerCommands: false, debug: false });

class Activity implements SessionActivity {
  readonly id = nextInstanceId();
  /** The session, one object updated in place by the core's driver path. */
  private readonly live: MutableSessionState;
  /** The snapshot `state` hands out, made on the first read after a change (`null`: stale). */
  private shown: SessionState | null = null;
  private readonly out: SessionCommand[] = [];
  private readonly queue: SessionEvent[] = [];
  private dispatching = false;
  private sender: KeepaliveSender | null = null;
  private readonly scheduler: Scheduler;
  private readonly entry: ScheduledEntry;
  private readonly emit: (diagnostic: Diagnostic) => void;
  private readonly wantsDebug: () => boolean;
  private readonly gate: boolean | (() => boolean);
  private readonly keepAlive: boolean;
  private releaseHold: (() => void) | null = null;
  private unregisterExit: (() => void) | null = null;
  private report: ShutdownReport | null = null;
  private lastNow: number;
  private readonly subscribers = new StateSubscribers(
    (error) => {
      this.emit({ type: 'diagnostic', level: 'warn', name: ADAPTER_DIAGNOSTICS.subscriberFailed, fields: { error: errorName(error) } });
    },
    () => this.state,
  );

  constructor(options: SessionActivityOptions) {
    const { sendKeepalives, logger, scheduler: given, keepProcessAlive, reportOnExit, onDiagnostic, ...core } = options;
    const gate: unknown = sendKeepalives ?? true;
    if (typeof gate !== 'boolean' && typeof gate !== 'function') {
      throw new KeepaliveOptionError('sendKeepalives', gate, 'a boolean or a function returning one');
    }
    const hold: unknown = keepProcessAlive ?? false;
    if (hold !== false && hold !== 'while-busy') {
      throw new KeepaliveOptionError('keepProcessAlive', hold, "false or 'while-busy'");
    }
    const atExit: unknown = reportOnExit ?? false;
    if (typeof atExit !== 'boolean') throw new KeepaliveOptionError('reportOnExit', atExit, 'true or false');
    const scheduler: unknown = given ?? defaultScheduler();
    if (typeof scheduler !== 'object' || scheduler === null || typeof (scheduler as Partial<Scheduler>).entry !== 'function') {
      throw new KeepaliveOptionError('scheduler', scheduler, 'a scheduler from createScheduler()');
    }
    this.emit = createDiagnosticSink({ session: this.id, logger, onDiagnostic });
    this.wantsDebug = debugListener({ session: this.id, logger, onDiagnostic });
    this.gate = gate as boolean | (() => boolean);
    this.keepAlive = hold === 'while-busy';
    this.scheduler = scheduler as Scheduler;
    this.lastNow = this.scheduler.now();
    // The gate is the adapter's; the core is told per event.
    this.live = createSessionState({ ...core, sendKeepalives: typeof gate === 'boolean' ? gate : false }, this.lastNow);
    this.subscribers.notify();
    this.entry = this.scheduler.entry((now) => {
      // The scheduler read the clock once for every session it wakes: no second read per session.
      if (now > this.lastNow) this.lastNow = now;
      this.dispatch({ type: 'timeout', now: this.lastNow, sendKeepalives: this.readGate() });
    });
    if (atExit) this.unregisterExit = onProcessExit(() => this.shutdown());
  }

  get state(): SessionState {
    // A tick nobody reads allocates no state; a read after a change gets a fresh snapshot, the same one until the next change.
    this.shown ??= { ...this.live };
    return this.shown;
  }

  start(reason: string): () => void {
    this.dispatch({ type: 'start', reason, now: this.clock() });
    const token = lastToken(this.live);
    return () => {
      this.dispatch({ type: 'release', token, now: this.clock() });
    };
  }

  stop(reason: string): void {
    this.dispatch({ type: 'stop', reason, now: this.clock() });
  }

  run<T>(reason: string, fn: () => T): T {
    return runActivity((name) => this.start(name), reason, fn);
  }

  attach(sender: KeepaliveSender): void {
    if (typeof sender !== 'function' && (typeof sender !== 'object' || typeof (sender as { sendKeepalive?: unknown }).sendKeepalive !== 'function')) {
      throw new TypeError('attach(sender): expected a function or an object with a sendKeepalive() method');
    }
    // After shutdown the core refuses the attach (with a warn); the sender is not kept.
    if (!this.live.shutdown) this.sender = sender;
    this.dispatch({ type: 'attach', now: this.clock() });
  }

  detach(): void {
    this.dispatch({ type: 'detach', now: this.clock() });
    if (!this.live.attached) this.sender = null;
  }

  signal(): void {
    this.dispatch({ type: 'signal', now: this.clock(), sendKeepalives: this.readGate() });
  }

  alive(): void {
    this.dispatch({ type: 'alive', now: this.clock() });
  }

  subscribe(listener: (state: SessionState) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('subscribe(listener): expected a function');
    // A shut-down instance never changes again: nothing to observe, nothing to keep.
    if (this.live.shutdown) return noop;
    return this.subscribers.add(listener);
  }

  isTrackingActive(): boolean {
    return this.live.attached;
  }

  snapshot(): ActivitySnapshot {
    return summarize(this.live, this.clock());
  }

  shutdown(): ShutdownReport {
    if (this.report !== null) return this.report;
    const before = this.live;
    const now = this.clock();
    // Set before the dispatch: a logger or subscriber that calls shutdown() again gets this same report.
    const report: ShutdownReport = {
      total: before.total,
      active: before.counts,
      oldestActivityMs: before.busySince === null ? null : now - before.busySince,
      keepalivesSent: before.keepalivesSent,
    };
    this.report = report;
    this.dispatch({ type: 'shutdown', now });
    this.sender = null;
    this.entry.dispose();
    this.unregisterExit?.();
    this.unregisterExit = null;
    // The listeners saw the final state (in dispatch); none is kept after shutdown.
    this.subscribers.clear();
    return report;
  }

  [Symbol.dispose](): void {
    this.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.shutdown();
    return Promise.resolve();
  }

  /** Monotonic time for the next event, never earlier than the last one handed to the core. */
  private clock(): number {
    const now = Math.max(this.scheduler.now(), this.lastNow);
    this.lastNow = now;
    return now;
  }

  private readGate(): boolean {
    const gate = this.gate;
    if (typeof gate === 'boolean') return gate;
    try {
      return gate();
    } catch (error) {
      this.emit({ type: 'diagnostic', level: 'warn', name: ADAPTER_DIAGNOSTICS.gateFailed, fields: { error: errorName(error) } });
      return false;
    }
  }

  private dispatch(event: SessionEvent): void {
    if (this.dispatching) {
      // A sender or logger that calls back into the instance: handled right after the current event.
      this.queue.push(event);
      return;
    }
    this.dispatching = true;
    try {
      for (let next: SessionEvent | undefined = event; next !== undefined; next = this.queue.shift()) {
        // Arms and cancels are read back through pollTimeout; debug diagnostics are built only for a listener.
        if (stepInPlace(this.live, next, this.out, this.wantsDebug() ? DRIVER : QUIET_DRIVER)) this.shown = null;
        // Commands may enqueue events; run them all before the next event.
        // eslint-disable-next-line @typescript-eslint/prefer-for-of -- an index loop: the for-of here allocated an iterator on every tick (measured)
        for (let i = 0; i < this.out.length; i++) this.execute(this.out[i] as SessionCommand);
        clearCommands(this.out);
      }
    } finally {
      this.dispatching = false;
    }
    // The core's earliest deadline is all the scheduler needs (timer arms and cancels are reflected in it).
    if (!this.live.shutdown) this.entry.schedule(pollTimeout(this.live));
    this.updateHold();
    this.notify();
  }

  private notify(): void {
    this.subscribers.notify();
  }

  private execute(command: SessionCommand): void {
    switch (command.type) {
      case 'arm':
      case 'cancel':
        return;
      case 'send':
        this.callSender();
        return;
      case 'close':
        this.closeTransport(command);
        return;
      case 'diagnostic':
        this.emit(command);
        return;
    }
  }

  private callSender(): void {
    const sender = this.sender;
    if (sender === null) return;
    try {
      if (typeof sender === 'function') sender();
      else sender.sendKeepalive();
    } catch (error) {
      this.emit({ type: 'diagnostic', level: 'warn', name: ADAPTER_DIAGNOSTICS.senderFailed, fields: { error: errorName(error) } });
    }
  }

  private closeTransport(command: CloseTransport): void {
    const sender = this.sender;
    this.sender = null;
    if (sender === null || typeof sender === 'function') return;
    try {
      sender.closeTransport?.(command);
    } catch (error) {
      this.emit({ type: 'diagnostic', level: 'warn', name: ADAPTER_DIAGNOSTICS.senderFailed, fields: { error: errorName(error) } });
    }
  }

  private updateHold(): void {
    if (!this.keepAlive) return;
    const busy = this.live.total > 0 && !this.live.shutdown;
    if (busy && this.releaseHold === null) this.releaseHold = this.scheduler.hold();
    else if (!busy && this.releaseHold !== null) {
      this.releaseHold();
      this.releaseHold = null;
    }
  }
}

function noop(): void {
  // Unsubscribing from a shut-down instance: nothing to remove.
}

/**
 * Creates a session-activity instance on Node. Options are validated here:
 * a bad one throws, naming the option and the value.
 *
 * @example
 * ```ts
 * import type { AddressInfo } from 'node:net';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import WebSocket, { WebSocketServer } from 'ws';
 * import { createSessionActivity } from '@keepalive/node-timers';
 *
 * // A peer to keep alive: a ws server on loopback (it answers pings by itself).
 * const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
 * await new Promise((resolve) => wss.once('listening', resolve));
 * const socket = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
 * await new Promise((resolve) => socket.once('open', resolve));
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 100, pongTimeoutMs: 500, logger: console });
 * activity.attach({ sendKeepalive: () => socket.ping(), closeTransport: () => socket.terminate() });
 * socket.on('pong', () => activity.alive());
 * const unsubscribe = activity.subscribe((state) => console.log('in flight:', state.total)); // every change, no polling
 *
 * const release = activity.start('tool_exec'); // returns an idempotent release function
 * try {
 *   await sleep(350); // the tool runs: a keep-alive every 100 ms
 * } finally {
 *   release();
 * }
 * await activity.run('api_call', () => sleep(150)); // sync or async; released in every outcome
 * console.log(activity.snapshot().keepalivesSent); // 4 or so
 * unsubscribe();
 * console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }, reported once
 * socket.close();
 * wss.close();
 * ```
 */
export function createSessionActivity(options: SessionActivityOptions = {}): SessionActivity {
  return new Activity(options);
}
