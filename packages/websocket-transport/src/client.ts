import {
  CLOSE_CODES,
  connectionDeadline,
  connectionStep,
  openConnection,
  wantsSocket,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionState,
  type ConnectionUserEvent,
  type Diagnostic,
} from '@keepalive/core';
import { StateSubscribers, createDiagnosticSink, createWorkActivity, errorName, nextInstanceId, onProcessExit, type ScheduledEntry, type WorkActivity } from '@keepalive/node-timers';
import { checkCloseArguments, gateReader, resolveClientOptions, type ResolvedClientOptions } from './client-options.js';
import { PayloadQueue, QueueFullError, byteSize, isClientData, type ClientData, type QueuedMessage } from './client-queue.js';
import { watchLifecycle, type LifecycleFact } from './client-lifecycle.js';
import { canPing, createSocket, destroySocket, listen, normalizeData, type SocketFact } from './client-socket.js';
import {
  CLIENT_DIAGNOSTICS,
  ClientClosedError,
  type ClientClosedEvent,
  type ClientTarget,
  type KeepaliveClient,
  type KeepaliveClientEvents,
  type KeepaliveClientOptions,
  type KeepaliveClientState,
  type WebSocketConstructorLike,
  type WebSocketLike,
} from './client-types.js';
import { Emitter } from './emitter.js';
import { isHeartbeatMessage } from './heartbeat.js';

export * from './client-types.js';
export { QueueFullError, type ClientData, type QueuedMessage } from './client-queue.js';

/**
 * The client driver: it translates, the core decides. Socket facts become
 * connection events, the connection machine's commands become socket calls,
 * and what reaches the application (user events, diagnostics, messages,
 * errors, a new socket from the target) is delivered after the step, in
 * order. Its only state is the socket and the queued payloads.
 */

const OPEN = 1;

/** What the connection machine made of a `send`. */
type SendOutcome = 'write' | 'enqueue' | 'messages' | 'bytes' | 'closed';

const EVENT_NAMES: readonly (keyof KeepaliveClientEvents)[] = Object.freeze(['open', 'message', 'close', 'reconnecting', 'idle', 'dead-peer', 'slowed', 'rejected', 'closed', 'error']);

class Client implements KeepaliveClient {
  readonly activity: WorkActivity;
  private machine: ConnectionState;
  private readonly options: ResolvedClientOptions;
  private readonly diagnose: (diagnostic: Diagnostic) => void;
  private readonly readGate: () => boolean | undefined;
  private readonly events: Emitter<KeepaliveClientEvents>;
  private readonly subscribers: StateSubscribers;
  private readonly entry: ScheduledEntry;
  private readonly payloads = new PayloadQueue();
  private socket: WebSocketLike | null = null;
  private release: () => void = noop;
  private undelivered: QueuedMessage[] = [];
  private readonly pending: ConnectionEvent[] = [];
  private readonly later: (() => void)[] = [];
  private stepping = false;
  private delivering = false;
  /** The message of the `send` being stepped, and what became of it. */
  private outgoing: ClientData | null = null;
  private outcome: SendOutcome | null = null;
  private writeError: unknown = null;
  private releaseHold: (() => void) | null = null;
  private unregisterExit: () => void = noop;
  private unwatchLifecycle: () => void = noop;
  private resolveClosed: (event: ClientClosedEvent) => void = noop;
  private readonly whenClosed = new Promise<ClientClosedEvent>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(target: ClientTarget, given: KeepaliveClientOptions | undefined, defaultWebSocket: unknown) {
    const options = resolveClientOptions(target, given, defaultWebSocket);
    this.options = options;
    const id = nextInstanceId();
    this.diagnose = createDiagnosticSink({ session: id, logger: given?.logger, onDiagnostic: given?.onDiagnostic });
    const report = (name: string, error: unknown, event?: string): void => {
      this.diagnose({ type: 'diagnostic', level: 'warn', name, fields: event === undefined ? { error: errorName(error) } : { event, error: errorName(error) } });
    };
    this.events = new Emitter(EVENT_NAMES, (event, error) => {
      report(CLIENT_DIAGNOSTICS.listenerFailed, error, event);
      if (event !== 'error') this.events.emit('error', toError(error));
    });
    this.subscribers = new StateSubscribers((error) => {
      report('subscriber_failed', error);
    });
    this.readGate = gateReader(options.gate, (error) => this.later.push(() => report('send_gate_failed', error)));
    this.activity = createWorkActivity({
      id,
      session: () => this.machine.session,
      now: () => this.now(),
      work: (event) => {
        this.dispatch(event);
      },
      readGate: this.readGate,
      subscribers: this.subscribers,
    });
    this.entry = options.scheduler.entry((now) => {
      this.dispatch({ type: 'timeout', now: Math.max(now, this.machine.now), sendKeepalives: this.readGate() });
    });
    // B3: the jitter is seeded from the platform's CSPRNG; the core draws from the seed.
    const [machine, commands] = openConnection(options.config, options.scheduler.now(), globalThis.crypto.getRandomValues(new Uint32Array(1))[0] ?? 0);
    this.machine = machine;
    for (const command of commands) this.execute(command);
    // An aborted signal never connects: the close is stepped before the socket is asked for.
    if (options.signal?.aborted === true) this.abort();
    else options.signal?.addEventListener('abort', this.abort);
    // S9 at process exit: no time for a handshake, so the close is immediate.
    if (options.reportOnExit && this.machine.phase !== 'closed') {
      this.unregisterExit = onProcessExit(() => {
        this.dispatch({ type: 'close', now: this.now(), code: CLOSE_CODES.goingAway, reason: '', immediate: true });
      });
    }
    // Browsers: the network and the page's visibility are facts for the machine (B10, B15).
    if (options.lifecycle && this.machine.phase !== 'closed') {
      this.unwatchLifecycle = watchLifecycle((fact) => {
        this.lifecycle(fact);
      });
    }
    this.dispatch(null);
  }

  get state(): KeepaliveClientState {
    const { phase, attempt } = this.machine;
    if (phase === 'connecting') return attempt === 0 ? 'connecting' : 'reconnecting';
    if (phase === 'backoff') return 'reconnecting';
    return phase === 'parked' ? 'idle' : phase;
  }

  get queuedMessages(): number {
    return this.machine.queuedMessages;
  }

  get heartbeatIntervalMs(): number {
    return this.machine.session.config.heartbeatIntervalMs;
  }

  send(data: ClientData): 'sent' | 'queued' {
    if (!isClientData(data)) throw new TypeError('send(data): expected a string, an ArrayBuffer or an ArrayBufferView');
    // Only a socket that calls back synchronously from inside one of its own methods could get here mid-step; its
    // message would have no answer to return, so it is refused loudly rather than queued blind.
    if (this.stepping) throw new Error('send(): called synchronously from inside a socket method while the client is handling an event');
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
    const { config, queuedMessages, queuedBytes } = this.machine;
    if (outcome === 'closed') throw new ClientClosedError();
    if (outcome === 'messages' || outcome === 'bytes') throw new QueueFullError(outcome, config.maxQueuedMessages, config.maxQueuedBytes, queuedMessages, queuedBytes, bytes);
    if (error !== null) throw toError(error);
    return outcome === 'write' ? 'sent' : 'queued';
  }

  close(code?: number, reason?: string): Promise<ClientClosedEvent> {
    try {
      this.dispatch({ type: 'close', now: this.now(), ...checkCloseArguments(code, reason) });
    } catch (error) {
      return Promise.reject(toError(error));
    }
    return this.whenClosed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  on<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): () => void {
    const off = this.events.on(event, listener);
    // A closed client emits nothing more and keeps no listeners.
    if (this.machine.phase === 'closed') off();
    return off;
  }

  off<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  private now(): number {
    return Math.max(this.options.scheduler.now(), this.machine.now);
  }

  private sendOutcome(): { readonly outcome: SendOutcome | null; readonly error: unknown } {
    return { outcome: this.outcome, error: this.writeError };
  }

  private lifecycle(fact: LifecycleFact): void {
    const now = this.now();
    if (fact === 'online' || fact === 'offline') this.dispatch({ type: 'network', now, online: fact === 'online' });
    // The page is going away: the browser ends the socket with 1001 (which a page cannot send itself).
    else if (fact === 'pagehide') this.dispatch({ type: 'close', now, code: CLOSE_CODES.goingAway, reason: 'pagehide', immediate: true, abandon: true });
    else this.dispatch({ type: 'visibility', now, visible: fact === 'visible' });
  }

  private readonly abort = (): void => {
    this.dispatch({ type: 'close', now: this.now(), code: 1000, reason: '', cause: 'aborted' });
  };

  // -------------------------------------------------------------------------
  // The step: events in order, commands carried out, the rest delivered after.

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
    const socket = this.socket;
    switch (command.type) {
      case 'open_socket':
        this.later.push(() => {
          this.openSocket(command.serial);
        });
        return;
      case 'close_socket':
        try {
          socket?.close(command.code, command.reason);
        } catch (error) {
          // A socket that cannot close politely is destroyed; the close is then complete.
          this.later.push(() => this.events.emit('error', toError(error)));
          this.dropSocket(true);
          this.pending.push({ type: 'socket_closed', now: this.machine.now, code: command.code, reason: command.reason });
        }
        return;
      case 'destroy_socket':
      case 'abandon_socket':
        this.dropSocket(command.type === 'destroy_socket');
        return;
      case 'keepalive':
      case 'reply_heartbeat':
        if (socket?.readyState !== OPEN) return;
        if (command.type === 'keepalive' && command.frame === 'ping' && canPing(socket)) socket.ping();
        else socket.send(this.options.heartbeatMessage);
        return;
      case 'write':
        this.outcome = 'write';
        try {
          if (this.outgoing !== null) socket?.send(this.outgoing);
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
      case 'event': {
        const event = command.event;
        if (event.type === 'closed') this.finish();
        this.later.push(() => {
          this.emitUserEvent(event);
        });
        return;
      }
      case 'diagnostic':
        this.later.push(() => {
          this.diagnose(command);
        });
        return;
    }
  }

  /** Delivers what the steps left for the application, in order; callbacks that step again append to the same queue. */
  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let next = this.later.shift(); next !== undefined; next = this.later.shift()) next();
      this.subscribers.notify(() => this.machine.session);
    } finally {
      this.delivering = false;
    }
  }

  private emitUserEvent(event: ConnectionUserEvent): void {
    if (event.type !== 'closed') {
      const { type, ...payload } = event;
      this.events.emit(type, payload);
      return;
    }
    const closed: ClientClosedEvent = Object.freeze({ cause: event.cause, code: event.code, reason: event.reason, undelivered: Object.freeze(this.undelivered), report: event.report });
    this.events.emit('closed', closed);
    this.events.clear();
    this.subscribers.notify(() => this.machine.session);
    this.subscribers.clear();
    this.resolveClosed(closed);
  }

  /** Closed for good: nothing armed, held or listened to remains. */
  private finish(): void {
    this.dropSocket(true);
    this.entry.dispose();
    this.options.signal?.removeEventListener('abort', this.abort);
    this.unregisterExit();
    this.unwatchLifecycle();
  }

  /** The scheduler's timer is unref'd: a hold keeps the process alive while a reconnect is pending (or work is in flight, with keepProcessAlive). */
  private syncHold(): void {
    const { phase, session } = this.machine;
    const wanted = phase === 'backoff' || (this.options.keepProcessAlive && phase !== 'closed' && session.total > 0);
    if (wanted && this.releaseHold === null) {
      this.releaseHold = this.options.scheduler.hold();
    } else if (!wanted && this.releaseHold !== null) {
      this.releaseHold();
      this.releaseHold = null;
    }
  }

  // -------------------------------------------------------------------------
  // Sockets: asked for by `open_socket` (serial), their facts translated.

  private openSocket(serial: number): void {
    if (!wantsSocket(this.machine, serial)) return;
    createSocket(
      this.options.factory,
      (socket) => {
        this.adopt(serial, socket);
      },
      (error) => {
        // Reported like a refused connection, unless the attempt was abandoned meanwhile.
        if (!wantsSocket(this.machine, serial) || this.socket !== null) return;
        this.later.push(() => this.events.emit('error', toError(error)));
        this.dispatch({ type: 'socket_closed', now: this.now(), code: CLOSE_CODES.abnormal, reason: '' });
      },
    );
  }

  private adopt(serial: number, socket: WebSocketLike): void {
    // B12: an asynchronous target may deliver after its attempt was abandoned (timed out, closed).
    if (!wantsSocket(this.machine, serial) || this.socket !== null) {
      destroySocket(socket);
      return;
    }
    this.socket = socket;
    this.release = listen(socket, (fact) => {
      if (this.socket === socket) this.translate(socket, fact);
    });
  }

  /** One fact of the current socket, as a connection event. */
  private translate(socket: WebSocketLike, fact: SocketFact): void {
    const now = this.now();
    switch (fact.type) {
      case 'open':
        if (this.machine.phase === 'connecting') this.dispatch({ type: 'socket_opened', now, canPing: !this.options.messageFrames && canPing(socket) });
        return;
      case 'message':
        this.received(fact.data);
        return;
      case 'close':
        this.dropSocket(false);
        this.dispatch({ type: 'socket_closed', now, code: fact.code, reason: fact.reason });
        return;
      case 'error':
        if (this.machine.phase === 'closing') return;
        this.later.push(() => {
          this.diagnose({ type: 'diagnostic', level: 'warn', name: CLIENT_DIAGNOSTICS.socketError, fields: { error: errorName(fact.error) } });
          this.events.emit('error', fact.error);
        });
        this.dispatch(null);
        return;
      default:
        this.dispatch({ type: 'inbound', now, frame: fact.type });
    }
  }

  private received(data: unknown): void {
    const message = normalizeData(data);
    // Heartbeats are proof of life only, never application data (the core answers or settles them).
    const heartbeat = message !== null && isHeartbeatMessage(message.data, this.options.heartbeatMessage, message.binary);
    this.later.push(
      message === null
        ? () => this.events.emit('error', new TypeError(`Unsupported message data type: ${Object.prototype.toString.call(data)}`))
        : () => {
            if (!heartbeat) this.events.emit('message', message);
          },
    );
    this.dispatch({ type: 'inbound', now: this.now(), frame: heartbeat ? 'heartbeat' : 'data' });
  }

  private dropSocket(destroy: boolean): void {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    this.release();
    this.release = noop;
    if (destroy) destroySocket(socket);
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
        this.later.push(() => this.events.emit('error', toError(error)));
        break;
      }
      bytes += this.payloads.shift();
      messages++;
    }
    if (messages > 0) this.pending.push({ type: 'dequeued', now: this.machine.now, messages, bytes });
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`Non-error thrown: ${typeof error}`);
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
  return new Client(target, options, (globalThis as { WebSocket?: unknown }).WebSocket);
}

/**
 * The client with another default WebSocket constructor for URL targets
 * (the Node entry passes `ws`'s, since Node 20 has no global WebSocket).
 */
export function createClientWithDefaultSocket(defaultWebSocket: WebSocketConstructorLike): typeof createKeepaliveClient {
  return (target: ClientTarget, options?: KeepaliveClientOptions): KeepaliveClient => new Client(target, options, defaultWebSocket);
}
