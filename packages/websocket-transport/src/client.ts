import {
  CLOSE_CODES,
  heldMessages,
  isResuming,
  layerState,
  wantsSocket,
  type CodecMode,
  type ConnectionEvent,
  type ConnectionUserEvent,
  type ResumeWire,
} from '@keepalive/core';
import { ClientShell, type TransportCommand, errorName, toError } from '@keepalive/node-timers';
import { gateReader, resolveClientOptions, type ResolvedClientOptions } from './client-options.js';
import { checkCloseArguments } from './client-target.js';
import { PayloadQueue, QueueFullError, byteSize, copyPayload, isClientData, type ClientData, type QueuedMessage } from './client-queue.js';
import { watchLifecycle, type LifecycleFact } from './client-lifecycle.js';
import { canPing, createSocket, destroySocket, listen, normalizeData, type SocketFact } from './client-socket.js';
import {
  ClientClosedError,
  type ClientClosedEvent,
  type ClientMessageEvent,
  type ClientTarget,
  type ConnectContext,
  type KeepaliveClient,
  type KeepaliveClientEvents,
  type KeepaliveClientOptions,
  type WebSocketConstructorLike,
  type WebSocketLike,
} from './client-types.js';
import { isHeartbeatText } from './heartbeat.js';
import { OPEN } from './ready-state.js';

/** Why `send` refuses the heartbeat message. */
const HEARTBEAT_AS_DATA = 'send(data): the heartbeat message is the keep-alive on the wire (a server reads it as one), not a message';

export * from './client-types.js';
export { QueueFullError, type ClientData, type QueuedMessage } from './client-queue.js';
export { resumable, type ResumeLayer } from '@keepalive/core';
export { BufferOverflowError, type ClientMessagesOptions, type EmitterListener, type EmitterListenerOptions } from '@keepalive/node-timers';

/**
 * The client driver: it translates, the core decides. Socket facts become
 * connection events, the connection machine's commands become socket calls,
 * and what reaches the application (user events, diagnostics, messages,
 * errors, a new socket from the target) is delivered after the step, in
 * order, by the loop every client shares (`ConnectionDriver`). Its only
 * state is the socket and the payloads (queued, kept for replay, copied).
 */

/** What the connection machine made of a `send`. */
type SendOutcome = 'write' | 'enqueue' | 'messages' | 'bytes' | 'closed';

const EVENT_NAMES: readonly (keyof KeepaliveClientEvents)[] = /* @__PURE__ */ Object.freeze([
  'open',
  'message',
  'close',
  'reconnecting',
  'parked',
  'idle',
  'dead-peer',
  'slowed',
  'rejected',
  'closed',
  'session',
  'forgotten',
  'unconfirmed',
  'error',
]);

/** How text frames are read and written (the connection machine says, with `codec` commands). */
type Codec = CodecMode;

class Client extends ClientShell<KeepaliveClientEvents, ClientMessageEvent> implements KeepaliveClient {
  private readonly options: ResolvedClientOptions;
  private readonly readGate: () => boolean | undefined;
  private readonly payloads = new PayloadQueue();
  private socket: WebSocketLike | null = null;
  private release: () => void = noop;
  private undelivered: QueuedMessage[] = [];
  private codec: Codec = 'plain';
  /** Resumable session: the messages the server has not acknowledged, by number (B14). */
  private readonly kept = new Map<number, QueuedMessage>();
  /** Taken out by `hand_back`, for the `forgotten` or `closed` event that follows. */
  private handedBack: QueuedMessage[] = [];
  /** Copies of plain writes the peer has not confirmed yet, oldest first (B14). */
  private copies: QueuedMessage[] = [];
  /** The number the connection machine gave the message of the `send` being stepped. */
  private sendSeq: number | null = null;
  /** The message of the `send` being stepped, and what became of it. */
  private outgoing: ClientData | null = null;
  private outcome: SendOutcome | null = null;
  private writeError: unknown = null;
  private unwatchLifecycle: () => void = noop;

  constructor(target: ClientTarget, given: KeepaliveClientOptions | undefined, defaultWebSocket: unknown) {
    const options = resolveClientOptions(target, given, defaultWebSocket);
    super({ ...options, logger: given?.logger, onDiagnostic: given?.onDiagnostic }, EVENT_NAMES);
    this.options = options;
    this.readGate = gateReader(options.gate, (error) => {
      this.driver.later(() => {
        this.warn('send_gate_failed', { error: errorName(error) });
      });
    });
    this.begin(() => {
      // Browsers: the network and the page's visibility are facts for the machine (B10, B15).
      if (options.lifecycle) {
        this.unwatchLifecycle = watchLifecycle((fact) => {
          this.lifecycle(fact);
        });
      }
    });
  }

  protected override sendGate(): boolean | undefined {
    return this.readGate();
  }

  /** A restart (`reconnect()`): what the closed connection left is gone; the first socket reads as at the start. */
  protected override restarted(): void {
    this.codec = 'plain';
    this.kept.clear();
    this.handedBack = [];
    this.copies = [];
    this.undelivered = [];
  }

  /** The machine took the frame as stale (its socket is gone): said, not dropped silently. */
  protected unclaimed(): void {
    this.driver.later(() => {
      this.warn('stale_message', {});
    });
  }

  /** The wire format codec, present exactly when `resume` is on (every wire command and codec mode implies it). */
  private get wire(): ResumeWire | undefined {
    return this.options.config.resume?.wire;
  }

  get queuedMessages(): number {
    return heldMessages(this.machine);
  }

  /** The refusal of a full queue, or (with `resume`) of a full replay buffer, with its bounds and counts. */
  private queueFull(limit: 'messages' | 'bytes', bytes: number): QueueFullError {
    const { config, queuedMessages, queuedBytes } = this.machine;
    const resume = layerState(this.machine, this.options.config.resume)?.resume ?? null;
    if (!isResuming(resume)) return new QueueFullError(limit, config.maxQueuedMessages, config.maxQueuedBytes, queuedMessages, queuedBytes, bytes);
    const { delivery } = resume;
    return new QueueFullError(limit, delivery.config.maxUnackedMessages, delivery.config.maxUnackedBytes, delivery.unacked.length, delivery.unackedBytes, bytes, 'replay');
  }

  get heartbeatIntervalMs(): number {
    return this.machine.session.config.heartbeatIntervalMs;
  }

  send(data: ClientData): 'sent' | 'queued' {
    if (!isClientData(data)) throw new TypeError('send(data): expected a string, an ArrayBuffer or an ArrayBufferView');
    // The heartbeat message is the keep-alive on the wire: a server reads it as one, and a runtime that answers
    // keep-alives itself (Cloudflare's auto-response) swallows it. Sent as data it would be lost without a word.
    if (typeof data === 'string' && isHeartbeatText(data, this.options.heartbeatMessage)) throw new TypeError(HEARTBEAT_AS_DATA);
    // Only a socket that calls back synchronously from inside one of its own methods could get here mid-step; its
    // message would have no answer to return, so it is refused loudly rather than queued blind.
    if (this.driver.stepping) throw new Error('send(): called synchronously from inside a socket method while the client is handling an event');
    const bytes = byteSize(data);
    this.outgoing = data;
    this.outcome = null;
    this.writeError = null;
    this.sendSeq = null;
    try {
      this.dispatch({ type: 'send', now: this.now(), bytes, writable: this.socket?.readyState === OPEN });
    } finally {
      this.outgoing = null;
      this.sendSeq = null;
    }
    const { outcome, error } = this.sendOutcome();
    if (outcome === 'closed') throw new ClientClosedError();
    if (outcome === 'messages' || outcome === 'bytes') throw this.queueFull(outcome, bytes);
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

  // -------------------------------------------------------------------------
  // Commands: carried out during the step; what reaches the application waits for the loop to deliver it.

  protected execute(command: TransportCommand): void {
    const socket = this.socket;
    switch (command.type) {
      case 'open_socket': {
        const wire = this.wire;
        const query = command.resume === null || wire === undefined ? '' : new URLSearchParams(wire.resumeQuery({ ...command.resume, pings: this.options.pingPayloads }) as [string, string][]).toString();
        this.driver.later(() => {
          this.openSocket(command.serial, { attempt: command.attempt, query });
        });
        return;
      }
      case 'codec':
        this.codec = command.mode;
        return;
      case 'close_socket':
        try {
          socket?.close(command.code, command.reason);
        } catch (error) {
          // A socket that cannot close politely is destroyed; the close is then complete.
          this.driver.later(() => {
          this.emitError(error);
        });
          this.dropSocket(true);
          this.enqueue({ type: 'socket_closed', now: this.machine.now, code: command.code, reason: command.reason });
        }
        return;
      case 'destroy_socket':
      case 'abandon_socket':
        this.dropSocket(command.type === 'destroy_socket');
        return;
      case 'keepalive':
      case 'reply_heartbeat':
        if (socket?.readyState !== OPEN) return;
        this.write(socket, () => {
          const { ack } = command;
          const wire = this.wire;
          if (command.type === 'keepalive' && command.frame === 'ping' && canPing(socket)) {
            if (ack === null || wire === undefined) socket.ping();
            else socket.ping(wire.encodePingAck(ack));
          } else socket.send(wire === undefined ? this.options.heartbeatMessage : wire.heartbeatText(ack, this.options.heartbeatMessage));
        });
        return;
      case 'send_ack': {
        const wire = this.wire;
        if (socket?.readyState === OPEN && wire !== undefined) this.write(socket, () => socket.send(wire.encodeAck(command.through)));
        return;
      }
      case 'send_proof': {
        // B17: the session's secret goes only here, in-band on the socket the server challenged; never in the URL.
        const wire = this.wire;
        if (socket?.readyState === OPEN && wire !== undefined) this.write(socket, () => socket.send(wire.encodeProof(command)));
        return;
      }
      case 'write':
        this.outcome = 'write';
        if (this.outgoing === null) return;
        try {
          socket?.send(this.outgoing);
        } catch (error) {
          this.writeError = error;
        }
        // Kept until the peer proves it has it (B14): reported with an `unconfirmed` event if the connection is lost.
        this.copies.push(copyPayload(this.outgoing));
        return;
      case 'forget_copies':
        this.copies.splice(0, command.copies);
        return;
      case 'deliver': {
        const message = this.driver.take();
        if (message !== null) this.driver.later(() => this.events.emit('message', message));
        return;
      }
      case 'duplicate':
        this.driver.take();
        return;
      case 'number':
        this.outcome = 'enqueue';
        this.sendSeq = command.seq;
        if (this.outgoing !== null) this.kept.set(command.seq, copyPayload(this.outgoing));
        return;
      case 'transmit':
        if (command.seq === this.sendSeq) this.outcome = 'write';
        this.transmit(command.seq);
        return;
      case 'release':
        for (const seq of this.kept.keys()) {
          if (seq > command.through) break;
          this.kept.delete(seq);
        }
        return;
      case 'hand_back':
        for (let seq = command.from; seq <= command.to; seq++) {
          const message = this.kept.get(seq);
          if (message !== undefined) this.handedBack.push(message);
          this.kept.delete(seq);
        }
        return;
      case 'renumber': {
        // A forgotten session: the kept messages never written go on as the new session's first ones, in order.
        const carried: QueuedMessage[] = [];
        for (let seq = command.from; seq <= command.to; seq++) {
          const message = this.kept.get(seq);
          if (message !== undefined) carried.push(message);
        }
        this.kept.clear();
        carried.forEach((message, index) => this.kept.set(index + 1, message));
        return;
      }
      case 'requeue':
        // The server does not speak the protocol: what was kept goes to the plain queue, in order.
        for (const message of this.kept.values()) this.payloads.push(message, byteSize(message));
        this.kept.clear();
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
    }
  }

  /** Writes kept message `seq` (escaped for a resumed connection). */
  private transmit(seq: number): void {
    const message = this.kept.get(seq);
    const socket = this.socket;
    if (message === undefined || socket?.readyState !== OPEN) return;
    const wire = this.wire;
    this.write(socket, () => socket.send(typeof message === 'string' && wire !== undefined ? wire.writeText(this.codec, message) : message));
  }

  /**
   * One write of the machine's on an open socket. A socket that throws has lost a frame the machine counted as
   * written (and, on a resumed connection, numbered): it is destroyed and reported closed, so the frame goes again
   * after the reconnect (B14), and the frames after it are not misnumbered.
   */
  private write(socket: WebSocketLike, send: () => void): void {
    try {
      send();
    } catch (error) {
      this.driver.later(() => {
          this.emitError(error);
        });
      if (this.socket !== socket) return;
      this.dropSocket(true);
      this.enqueue({ type: 'socket_closed', now: this.machine.now, code: CLOSE_CODES.abnormal, reason: 'send_failed' });
    }
  }

  /** Queues an event the driver itself reports during a step (it carries no inbound message). */
  private enqueue(event: ConnectionEvent): void {
    this.driver.enqueue(event);
  }

  protected emitUserEvent(event: ConnectionUserEvent): void {
    if (event.type === 'forgotten') {
      // Exactly the messages this event counts: a `closed` in the same step hands back its own.
      const messages = Object.freeze(this.handedBack.splice(0, event.messages));
      this.events.emit('forgotten', { messages });
      return;
    }
    if (event.type === 'unconfirmed') {
      const messages = Object.freeze(this.copies);
      this.copies = [];
      this.events.emit('unconfirmed', { messages, uncopied: event.messages - messages.length });
      return;
    }
    if (event.type !== 'closed') {
      const { type, ...payload } = event;
      this.events.emit(type, payload);
      return;
    }
    const undelivered = this.handedBack.length === 0 ? this.undelivered : [...this.handedBack, ...this.undelivered];
    this.handedBack = [];
    const closed: ClientClosedEvent = Object.freeze({ cause: event.cause, code: event.code, reason: event.reason, undelivered: Object.freeze(undelivered), written: event.written, report: event.report });
    this.closedWith(closed);
  }

  /** Closed for good: the socket dropped and the page no longer watched, then the shell's part. */
  protected override finish(): void {
    this.dropSocket(true);
    this.unwatchLifecycle();
    super.finish();
  }

  // -------------------------------------------------------------------------
  // Sockets: asked for by `open_socket` (serial), their facts translated.

  private openSocket(serial: number, context: ConnectContext): void {
    if (!wantsSocket(this.machine, serial)) return;
    createSocket(
      () => this.options.factory(context),
      (socket) => {
        this.adopt(serial, socket);
      },
      (error) => {
        // Reported like a refused connection, unless the attempt was abandoned meanwhile.
        if (!wantsSocket(this.machine, serial) || this.socket !== null) return;
        this.driver.later(() => {
          this.emitError(error);
        });
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
      case 'ping':
        this.dispatch({ type: 'inbound', now, frame: 'ping', ack: this.wire?.pingAck(this.codec, fact.payload) ?? undefined });
        return;
      case 'close':
        this.dropSocket(false);
        this.dispatch({ type: 'socket_closed', now, code: fact.code, reason: fact.reason });
        return;
      case 'error':
        if (this.machine.phase === 'closing') return;
        this.driver.later(() => {
          this.diagnose({ type: 'diagnostic', level: 'warn', name: 'socket_error', fields: { error: errorName(fact.error) } });
          this.events.emit('error', fact.error);
        });
        this.dispatch(null);
        return;
      default:
        this.dispatch({ type: 'inbound', now, frame: fact.type });
    }
  }

  private received(data: unknown): void {
    const now = this.now();
    const message = normalizeData(data);
    if (message === null) {
      this.driver.later(() => this.events.emit('error', new TypeError(`Unsupported message data type: ${Object.prototype.toString.call(data)}`)));
      this.dispatch({ type: 'inbound', now, frame: 'data' });
      return;
    }
    const wire = this.wire;
    if (typeof message.data === 'string' && wire !== undefined) {
      // The codec mode is how the client reads (the core's rule for both ends): while awaiting the hello, only a
      // hello is a control frame; then the wire format (control frames, escaped text).
      const frame = wire.readFrame(this.codec, message.data, this.options.heartbeatMessage);
      if (frame.kind === 'hello') this.dispatch({ type: 'hello', now, hello: frame });
      else if (frame.kind === 'data') this.dispatch({ type: 'inbound', now, frame: 'data' }, { data: frame.text, binary: false });
      else if (frame.kind === 'heartbeat' || frame.kind === 'ack') this.dispatch({ type: 'inbound', now, frame: frame.kind, ack: frame.ack ?? undefined });
      // An unreadable control frame (or a proof: the client's to send, never the server's) is a protocol error.
      else this.dispatch({ type: 'inbound', now, frame: 'invalid' });
      return;
    }
    // Heartbeats are proof of life only, never application data (the core answers or settles them).
    // (Binary frames never are: the socket delivers text frames as strings.)
    const heartbeat = typeof message.data === 'string' && isHeartbeatText(message.data, this.options.heartbeatMessage);
    this.dispatch({ type: 'inbound', now, frame: heartbeat ? 'heartbeat' : 'data' }, heartbeat ? null : message);
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
        this.driver.later(() => {
          this.emitError(error);
        });
        break;
      }
      // Kept until the peer proves it has it, as every plain write (B14).
      this.copies.push(payload);
      bytes += this.payloads.shift();
      messages++;
    }
    if (messages > 0) this.enqueue({ type: 'dequeued', now: this.machine.now, messages, bytes });
  }
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
