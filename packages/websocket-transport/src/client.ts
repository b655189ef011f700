import {
  CLOSE_CODES,
  connectionDeadline,
  connectionStep,
  openConnection,
  summarize,
  wantsSocket,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionState,
  type ConnectionUserEvent,
  type ConnectionWorkEvent,
  type Diagnostic,
  type SessionState,
} from '@keepalive/core';
import { StateSubscribers, createDiagnosticSink, onProcessExit, runActivity, type ActivitySnapshot, type ScheduledEntry, type WorkActivity } from '@keepalive/node-timers';
import { resolveClientOptions, isWebSocketLike, type ResolvedClientOptions } from './client-options.js';
import { PayloadQueue, QueueFullError, byteSize, isClientData, type ClientData, type QueuedMessage } from './client-queue.js';
import {
  CLIENT_DIAGNOSTICS,
  ClientClosedError,
  type ClientClosedEvent,
  type ClientMessageEvent,
  type ClientTarget,
  type KeepaliveClient,
  type KeepaliveClientEvents,
  type KeepaliveClientOptions,
  type KeepaliveClientState,
  type PingableWebSocketLike,
  type SocketEventLike,
  type WebSocketLike,
} from './client-types.js';
import { isHeartbeatMessage } from './heartbeat.js';

export * from './client-types.js';
export { QueueFullError, type ClientData, type QueuedMessage } from './client-queue.js';

/**
 * The client driver: it translates, the core decides. Socket events become
 * connection events, the connection machine's commands become socket calls,
 * and its user events are emitted after the step. Its only state is the
 * socket and the queued payloads (plus the wiring: listeners, the timer
 * entry, the close promise).
 */

const OPEN = 1;
const CLOSING = 2;

/** What the driver delivers after a step, in order: a diagnostic, a user event, a socket to open, a message, an error. */
type Output =
  | { readonly kind: 'diagnostic'; readonly diagnostic: Diagnostic }
  | { readonly kind: 'event'; readonly event: ConnectionUserEvent }
  | { readonly kind: 'open'; readonly serial: number }
  | { readonly kind: 'message'; readonly message: ClientMessageEvent }
  | { readonly kind: 'error'; readonly error: Error };

type AnyListener = (payload: never) => void;

/** What the connection machine made of a `send`. */
type SendOutcome = 'write' | 'enqueue' | 'messages' | 'bytes' | 'closed';

let nextId = 1;

class Client implements KeepaliveClient {
  readonly activity: WorkActivity;
  private machine: ConnectionState;
  private readonly options: ResolvedClientOptions;
  private readonly emitDiagnostic: (diagnostic: Diagnostic) => void;
  private readonly entry: ScheduledEntry;
  private readonly payloads = new PayloadQueue();
  private readonly listeners = new Map<keyof KeepaliveClientEvents, Set<AnyListener>>();
  private readonly subscribers: StateSubscribers;
  private socket: WebSocketLike | null = null;
  private release: () => void = noop;
  private undelivered: QueuedMessage[] = [];
  private readonly pending: ConnectionEvent[] = [];
  private readonly outputs: Output[] = [];
  private stepping = false;
  private delivering = false;
  /** The message of the `send` being stepped, and what became of it. */
  private outgoing: ClientData | null = null;
  private outcome: SendOutcome | null = null;
  private writeError: unknown = null;
  private releaseHold: (() => void) | null = null;
  private unregisterExit: () => void = noop;
  private readonly whenClosed: Promise<ClientClosedEvent>;
  private resolveClosed: (event: ClientClosedEvent) => void = noop;

  constructor(target: ClientTarget, given: KeepaliveClientOptions) {
    this.options = resolveClientOptions(target, given);
    const id = nextId++;
    this.emitDiagnostic = createDiagnosticSink({ session: id, logger: given.logger, onDiagnostic: given.onDiagnostic });
    this.subscribers = new StateSubscribers((error) => {
      this.outputs.push({ kind: 'diagnostic', diagnostic: driverDiagnostic('subscriber_failed', { error: errorName(error) }) });
    });
    this.activity = new ClientActivity(this, id);
    this.whenClosed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const scheduler = this.options.scheduler;
    this.entry = scheduler.entry((now) => {
      this.dispatch({ type: 'timeout', now: Math.max(now, this.machine.now), sendKeepalives: this.readGate() });
    });
    // B3: the jitter is seeded from the platform's CSPRNG; the core draws from the seed.
    const [state, commands] = openConnection(this.options.config, scheduler.now(), globalThis.crypto.getRandomValues(new Uint32Array(1))[0] ?? 0);
    this.machine = state;
    for (const command of commands) this.execute(command);
    const signal = this.options.signal;
    // An aborted signal never connects: the close is stepped before the socket is asked for.
    if (signal?.aborted === true) this.abort();
    else signal?.addEventListener('abort', this.abort);
    // S9 at exit: no time for a handshake, so the close is immediate.
    if (this.options.reportOnExit && this.machine.phase !== 'closed') {
      this.unregisterExit = onProcessExit(() => {
        this.dispatch({ type: 'close', now: this.now(), code: CLOSE_CODES.goingAway, reason: '', immediate: true });
      });
    }
    this.dispatch(null);
  }

  get session(): SessionState {
    return this.machine.session;
  }

  get state(): KeepaliveClientState {
    switch (this.machine.phase) {
      case 'connecting':
        return this.machine.attempt === 0 ? 'connecting' : 'reconnecting';
      case 'backoff':
        return 'reconnecting';
      case 'parked':
        return 'idle';
      default:
        return this.machine.phase;
    }
  }

  get queuedMessages(): number {
    return this.machine.queuedMessages;
  }

  get heartbeatIntervalMs(): number {
    return this.machine.session.config.heartbeatIntervalMs;
  }

  send(data: ClientData): 'sent' | 'queued' {
    if (!isClientData(data)) throw new TypeError('send(data): expected a string, an ArrayBuffer or an ArrayBufferView');
    const bytes = byteSize(data);
    this.outgoing = data;
    this.outcome = null;
    this.writeError = null;
    try {
      this.dispatch({ type: 'send', now: this.now(), bytes, writable: this.socket?.readyState === OPEN });
    } finally {
      this.outgoing = null;
    }
    const { outcome, error } = this.sendOutcome();
    const machine = this.machine;
    const config = machine.config;
    switch (outcome) {
      case 'write':
        if (error !== null) throw toError(error);
        return 'sent';
      case 'closed':
        throw new ClientClosedError();
      case 'messages':
      case 'bytes':
        throw new QueueFullError(outcome, config.maxQueuedMessages, config.maxQueuedBytes, machine.queuedMessages, machine.queuedBytes, bytes);
      default:
        // Queued (or, sent from inside a socket callback, stepped right after it).
        return 'queued';
    }
  }

  private sendOutcome(): { readonly outcome: SendOutcome | null; readonly error: unknown } {
    return { outcome: this.outcome, error: this.writeError };
  }

  close(code?: number, reason?: string): Promise<ClientClosedEvent> {
    const closeCode = code ?? 1000;
    if (!Number.isInteger(closeCode) || (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999))) {
      return Promise.reject(new RangeError(`close(code): invalid code ${String(closeCode)} (expected 1000 or an integer in [3000, 4999])`));
    }
    const closeReason = reason ?? '';
    if (typeof closeReason !== 'string' || byteSize(closeReason) > 123) {
      return Promise.reject(new RangeError('close(code, reason): reason must be a string of at most 123 UTF-8 bytes'));
    }
    this.dispatch({ type: 'close', now: this.now(), code: closeCode, reason: closeReason });
    return this.whenClosed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  on<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): () => void {
    const name: unknown = event;
    if (!EVENT_NAMES.includes(event)) throw new TypeError(`on(event): unknown event ${String(name)} (expected one of ${EVENT_NAMES.join(', ')})`);
    if (typeof listener !== 'function') throw new TypeError('on(event, listener): listener must be a function');
    // A closed client emits nothing more and keeps no listeners.
    if (this.machine.phase !== 'closed') {
      const set = this.listeners.get(event) ?? new Set();
      set.add(listener);
      this.listeners.set(event, set);
    }
    return () => {
      this.off(event, listener);
    };
  }

  off<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** A work event from the activity (S1, S7). */
  work(event: ConnectionWorkEvent): void {
    this.dispatch(event);
  }

  now(): number {
    return Math.max(this.options.scheduler.now(), this.machine.now);
  }

  readGate(): boolean | undefined {
    const gate = this.options.gate;
    if (typeof gate === 'boolean') return undefined;
    try {
      return gate();
    } catch (error) {
      this.outputs.push({ kind: 'diagnostic', diagnostic: driverDiagnostic('send_gate_failed', { error: errorName(error) }) });
      return false;
    }
  }

  subscribe(listener: (state: SessionState) => void): () => void {
    if (this.machine.session.shutdown) return noop;
    return this.subscribers.add(listener);
  }

  private readonly abort = (): void => {
    this.dispatch({ type: 'close', now: this.now(), code: 1000, reason: '', cause: 'aborted' });
  };

  // -------------------------------------------------------------------------
  // The step: events in order, commands carried out, outputs delivered after.

  private dispatch(event: ConnectionEvent | null): void {
    if (event !== null) this.pending.push(event);
    if (this.stepping) return;
    this.stepping = true;
    try {
      const out: ConnectionCommand[] = [];
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        out.length = 0;
        this.machine = connectionStep(this.machine, next, out);
        for (const command of out) this.execute(command);
      }
    } finally {
      this.stepping = false;
    }
    if (this.machine.phase !== 'closed') this.entry.schedule(connectionDeadline(this.machine));
    this.syncHold();
    this.deliver();
  }

  private execute(command: ConnectionCommand): void {
    switch (command.type) {
      case 'open_socket':
        this.outputs.push({ kind: 'open', serial: command.serial });
        return;
      case 'close_socket':
        this.closeSocket(command.code, command.reason);
        return;
      case 'destroy_socket':
        this.dropSocket(true);
        return;
      case 'keepalive':
        if (command.frame === 'ping') this.ping();
        else this.write(this.options.heartbeatMessage);
        return;
      case 'reply_heartbeat':
        this.write(this.options.heartbeatMessage);
        return;
      case 'write':
        this.outcome = 'write';
        try {
          if (this.outgoing !== null) this.socket?.send(this.outgoing);
        } catch (error) {
          this.writeError = error;
        }
        return;
      case 'enqueue':
        this.outcome = 'enqueue';
        if (this.outgoing !== null) this.payloads.push(this.outgoing, byteSize(this.outgoing));
        return;
      case 'refuse':
        this.outcome = command.reason;
        return;
      case 'flush':
        this.flush();
        return;
      case 'drain':
        this.undelivered = this.payloads.drain();
        return;
      case 'event':
        this.outputs.push({ kind: 'event', event: command.event });
        if (command.event.type === 'closed') this.finish();
        return;
      case 'diagnostic':
        this.outputs.push({ kind: 'diagnostic', diagnostic: command });
        return;
    }
  }

  /** Delivers the outputs in order; listeners that call back into the client append to the same queue. */
  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let output = this.outputs.shift(); output !== undefined; output = this.outputs.shift()) {
        switch (output.kind) {
          case 'diagnostic':
            this.emitDiagnostic(output.diagnostic);
            break;
          case 'event':
            this.emitUserEvent(output.event);
            break;
          case 'open':
            this.openSocket(output.serial);
            break;
          case 'message':
            this.emit('message', output.message);
            break;
          case 'error':
            this.emit('error', output.error);
            break;
        }
      }
      this.subscribers.notify(() => this.machine.session);
    } finally {
      this.delivering = false;
    }
  }

  private emitUserEvent(event: ConnectionUserEvent): void {
    switch (event.type) {
      case 'open':
        this.emit('open', { attempt: event.attempt });
        return;
      case 'close':
        this.emit('close', { code: event.code, reason: event.reason, willReconnect: event.willReconnect });
        return;
      case 'reconnecting':
        this.emit('reconnecting', { attempt: event.attempt, delayMs: event.delayMs });
        return;
      case 'idle':
        this.emit('idle', { code: event.code, reason: event.reason });
        return;
      case 'dead-peer':
        this.emit('dead-peer', { timeoutMs: event.timeoutMs });
        return;
      case 'slowed':
        this.emit('slowed', { heartbeatIntervalMs: event.heartbeatIntervalMs, previousIntervalMs: event.previousIntervalMs });
        return;
      case 'rejected':
        this.emit('rejected', { code: event.code, reason: event.reason });
        return;
      case 'closed': {
        const closed: ClientClosedEvent = Object.freeze({ cause: event.cause, code: event.code, reason: event.reason, undelivered: Object.freeze(this.undelivered) });
        this.emit('closed', closed);
        this.listeners.clear();
        this.subscribers.notify(() => this.machine.session);
        this.subscribers.clear();
        this.resolveClosed(closed);
        return;
      }
    }
  }

  private emit<K extends keyof KeepaliveClientEvents>(event: K, payload: KeepaliveClientEvents[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: KeepaliveClientEvents[K]) => void)(payload);
      } catch (error) {
        this.emitDiagnostic(driverDiagnostic(CLIENT_DIAGNOSTICS.listenerFailed, { event, error: errorName(error) }));
        if (event !== 'error') this.emit('error', toError(error));
      }
    }
  }

  /** Closed for good: nothing armed, held or listened to remains. */
  private finish(): void {
    this.dropSocket(true);
    this.entry.dispose();
    this.options.signal?.removeEventListener('abort', this.abort);
    this.unregisterExit();
  }

  /** The backoff timer runs on the unref'd scheduler; a hold keeps the process alive while a reconnect is pending (or work is in flight, with keepProcessAlive). */
  private syncHold(): void {
    const state = this.machine;
    const wanted = state.phase === 'backoff' || (this.options.keepProcessAlive && state.phase !== 'closed' && state.session.total > 0);
    if (wanted && this.releaseHold === null) {
      this.releaseHold = this.options.scheduler.hold();
    } else if (!wanted && this.releaseHold !== null) {
      this.releaseHold();
      this.releaseHold = null;
    }
  }

  // -------------------------------------------------------------------------
  // Sockets: created on `open_socket`, their events translated.

  private openSocket(serial: number): void {
    if (!wantsSocket(this.machine, serial)) return;
    let created: unknown;
    try {
      created = this.options.factory();
    } catch (error) {
      this.failAttempt(serial, error);
      return;
    }
    if (isPromiseLike(created)) {
      // B12: an asynchronous target (fresh credentials per attempt); the connect timeout covers the wait.
      created.then(
        (socket) => {
          this.adopt(serial, socket);
        },
        (error: unknown) => {
          this.failAttempt(serial, error);
        },
      );
      return;
    }
    this.adopt(serial, created);
  }

  /** Reported asynchronously, like a refused connection, so listeners added after creation see it. */
  private failAttempt(serial: number, error: unknown): void {
    queueMicrotask(() => {
      if (!wantsSocket(this.machine, serial) || this.socket !== null) return;
      this.outputs.push({ kind: 'error', error: toError(error) });
      this.dispatch({ type: 'socket_closed', now: this.now(), code: CLOSE_CODES.abnormal, reason: '' });
    });
  }

  private adopt(serial: number, created: unknown): void {
    if (!isWebSocketLike(created)) {
      this.failAttempt(serial, new TypeError('The socket factory did not return a WebSocket (readyState, send, close, addEventListener, removeEventListener)'));
      return;
    }
    const socket = created;
    // Arrived after its attempt was abandoned (timed out, closed): not wanted any more.
    if (!wantsSocket(this.machine, serial) || this.socket !== null) {
      destroy(socket);
      return;
    }
    this.socket = socket;
    if (socket.binaryType !== undefined && socket.binaryType !== 'arraybuffer' && socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer';
    const pingable = !this.options.messageFrames && canPing(socket) ? socket : null;
    const current = (): boolean => this.socket === socket;
    const onOpen = (): void => {
      if (current() && this.machine.phase === 'connecting') this.dispatch({ type: 'socket_opened', now: this.now(), canPing: pingable !== null });
    };
    const onMessage = (event: SocketEventLike): void => {
      if (current()) this.received(event.data);
    };
    const onClose = (event: SocketEventLike): void => {
      if (!current()) return;
      this.dropSocket(false);
      this.dispatch({ type: 'socket_closed', now: this.now(), code: typeof event.code === 'number' ? event.code : CLOSE_CODES.abnormal, reason: typeof event.reason === 'string' ? event.reason : '' });
    };
    const onError = (event: SocketEventLike): void => {
      if (!current() || this.machine.phase === 'closing') return;
      const error = event.error instanceof Error ? event.error : new Error(typeof event.message === 'string' && event.message !== '' ? event.message : 'WebSocket error');
      this.outputs.push({ kind: 'diagnostic', diagnostic: driverDiagnostic(CLIENT_DIAGNOSTICS.socketError, { error: errorName(error) }) });
      this.outputs.push({ kind: 'error', error });
      this.dispatch(null);
    };
    const onPong = (): void => {
      if (current()) this.dispatch({ type: 'inbound', now: this.now(), frame: 'pong' });
    };
    const onPing = (): void => {
      if (current()) this.dispatch({ type: 'inbound', now: this.now(), frame: 'ping' });
    };
    const frames = controlFrames(socket, onPong, onPing);
    socket.addEventListener('open', onOpen);
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', onClose);
    socket.addEventListener('error', onError);
    this.release = () => {
      socket.removeEventListener('open', onOpen);
      socket.removeEventListener('message', onMessage);
      socket.removeEventListener('close', onClose);
      socket.removeEventListener('error', onError);
      frames();
      // Abandoned sockets keep a no-op error listener so a late error is never an unhandled 'error'.
      socket.addEventListener('error', noop);
    };
    // A factory may hand back a socket that is already open (or already gone).
    if (socket.readyState === OPEN) queueMicrotask(onOpen);
    else if (socket.readyState >= CLOSING) queueMicrotask(() => { onClose({ type: 'close', code: CLOSE_CODES.abnormal, reason: '' }); });
  }

  private received(data: unknown): void {
    const message = normalizeData(data);
    if (message === null) {
      this.outputs.push({ kind: 'error', error: new TypeError(`Unsupported message data type: ${Object.prototype.toString.call(data)}`) });
      this.dispatch({ type: 'inbound', now: this.now(), frame: 'data' });
      return;
    }
    // Heartbeats are proof of life only, never application data (the core answers or settles them).
    const heartbeat = isHeartbeatMessage(message.data, this.options.heartbeatMessage, message.binary);
    if (!heartbeat) this.outputs.push({ kind: 'message', message });
    this.dispatch({ type: 'inbound', now: this.now(), frame: heartbeat ? 'heartbeat' : 'data' });
  }

  private dropSocket(destroyIt: boolean): void {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    this.release();
    this.release = noop;
    if (destroyIt) destroy(socket);
  }

  private closeSocket(code: number, reason: string): void {
    try {
      this.socket?.close(code, reason);
    } catch (error) {
      // A socket that cannot close politely is destroyed; the close is then complete.
      this.outputs.push({ kind: 'error', error: toError(error) });
      this.dropSocket(true);
      this.pending.push({ type: 'socket_closed', now: this.machine.now, code, reason });
    }
  }

  private ping(): void {
    const socket = this.socket;
    if (socket?.readyState === OPEN && canPing(socket)) socket.ping();
  }

  private write(message: string): void {
    if (this.socket?.readyState === OPEN) this.socket.send(message);
  }

  /** Writes the queued payloads in order while the socket takes them, then reports how many went (B14). */
  private flush(): void {
    const socket = this.socket;
    let messages = 0;
    let bytes = 0;
    for (let payload = this.payloads.peek(); payload !== undefined && socket?.readyState === OPEN; payload = this.payloads.peek()) {
      try {
        socket.send(payload);
      } catch (error) {
        // Kept at the head of the queue: retried on the next flush, never dropped.
        this.outputs.push({ kind: 'error', error: toError(error) });
        break;
      }
      bytes += this.payloads.shift();
      messages++;
    }
    if (messages > 0) this.pending.push({ type: 'dequeued', now: this.machine.now, messages, bytes });
  }
}

/** The client's activity: work in, the connection's session state out (S1–S9 through the core). */
class ClientActivity implements WorkActivity {
  constructor(
    private readonly client: Client,
    readonly id: number,
  ) {}

  get state(): SessionState {
    return this.client.session;
  }

  start(reason: string): () => void {
    this.client.work({ type: 'start', reason, now: this.client.now() });
    const token = this.client.session.lastToken;
    return () => {
      this.client.work({ type: 'release', token, now: this.client.now() });
    };
  }

  stop(reason: string): void {
    this.client.work({ type: 'stop', reason, now: this.client.now() });
  }

  run<T>(reason: string, fn: () => T): T {
    return runActivity((name) => this.start(name), reason, fn);
  }

  signal(): void {
    this.client.work({ type: 'signal', now: this.client.now(), sendKeepalives: this.client.readGate() });
  }

  isTrackingActive(): boolean {
    return this.client.session.attached;
  }

  snapshot(): ActivitySnapshot {
    return summarize(this.client.session, this.client.now());
  }

  subscribe(listener: (state: SessionState) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('subscribe(listener): expected a function');
    return this.client.subscribe(listener);
  }
}

const EVENT_NAMES: readonly (keyof KeepaliveClientEvents)[] = Object.freeze([
  'open',
  'message',
  'close',
  'reconnecting',
  'idle',
  'dead-peer',
  'slowed',
  'rejected',
  'closed',
  'error',
]);

function driverDiagnostic(name: string, fields: Diagnostic['fields']): Diagnostic {
  return { type: 'diagnostic', level: 'warn', name, fields };
}

function canPing(socket: WebSocketLike): socket is PingableWebSocketLike {
  return typeof (socket as Partial<PingableWebSocketLike>).ping === 'function';
}

/** Listens for pongs and pings where the socket reports them (`ws`: `on`; Bun-like: `addEventListener`); returns the remover. */
function controlFrames(socket: WebSocketLike, onPong: () => void, onPing: () => void): () => void {
  if (!canPing(socket)) return noop;
  if (typeof socket.on === 'function') {
    socket.on('pong', onPong);
    socket.on('ping', onPing);
    return () => {
      socket.off?.('pong', onPong);
      socket.off?.('ping', onPing);
    };
  }
  const target = socket as unknown as { addEventListener(type: string, listener: () => void): void; removeEventListener(type: string, listener: () => void): void };
  target.addEventListener('pong', onPong);
  return () => {
    target.removeEventListener('pong', onPong);
  };
}

/** Destroys a socket without a close handshake where it can (`ws`: terminate), else starts a close and forgets it. */
function destroy(socket: WebSocketLike): void {
  try {
    const terminate = (socket as Partial<PingableWebSocketLike>).terminate;
    if (typeof terminate === 'function') terminate.call(socket);
    else if (socket.readyState < CLOSING) socket.close();
  } catch {
    // Already closed or closing: nothing more to do.
  }
}

/** Inbound data as the client delivers it, or `null` for an unsupported type (a `Blob`, fragments). */
function normalizeData(data: unknown): ClientMessageEvent | null {
  if (typeof data === 'string') return { data, binary: false };
  if (data instanceof Uint8Array) return { data, binary: true };
  if (data instanceof ArrayBuffer) return { data: new Uint8Array(data), binary: true };
  if (ArrayBuffer.isView(data)) return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), binary: true };
  return null;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`Non-error thrown: ${typeof error}`);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function noop(): void {
  // Nothing to release.
}

/**
 * Creates a WebSocket client that keeps its connection alive while its
 * activity is busy (spec S4, B7), detects a dead peer within interval +
 * `pongTimeoutMs` (B5), gives up an attempt that has not opened within
 * `connectTimeoutMs` (B10), reconnects with capped, jittered backoff (B6;
 * `maxAttempts` counts attempts that failed to open, B11), stops on a
 * terminal close code (B12), slows down when a server says it pings too
 * often (B13), and queues messages sent while disconnected, handing back what
 * it could not send (B14). Every one of these rules is the core's connection
 * machine; this is its driver. Options are validated here (B1): a bad one
 * throws `KeepaliveOptionError` naming it and its value.
 *
 * `target` is a URL (opened with `ws`, or with the `WebSocket` option's
 * constructor) or a function called for every attempt that returns a socket
 * or a promise of one. Keep-alives are empty protocol pings where the socket
 * has `ping()` (`ws`), else the heartbeat message (WHATWG sockets).
 *
 * @example
 * ```ts
 * import { createKeepaliveClient } from '@keepalive/websocket-transport';
 *
 * const client = createKeepaliveClient('ws://127.0.0.1:8080', { heartbeatIntervalMs: 15_000, reconnect: { whenIdle: 'lazy' } });
 * client.on('reconnecting', ({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs} ms`));
 * await client.activity.run('api_call', async () => {
 *   client.send('hello');
 * });
 * const { undelivered } = await client.close();
 * console.log(undelivered.length);
 * ```
 */
export function createKeepaliveClient(target: ClientTarget, options: KeepaliveClientOptions = {}): KeepaliveClient {
  return new Client(target, options);
}
