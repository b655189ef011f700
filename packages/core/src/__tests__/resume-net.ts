import {
  connectionDeadline,
  connectionStep,
  createDeliveryState,
  deliveryDeadline,
  deliveryStep,
  openConnection,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionUserEvent,
  type DeliveryCommand,
  type DeliveryEvent,
  type DeliveryState,
  type Hello,
  type ResumeTicket,
} from '../index.js';

/**
 * A client connection machine and a server end joined by a simulated
 * network, speaking wire format v2 as frames of plain data: the connection
 * is an ordered channel each way that a cut empties (whatever was in flight
 * is lost); the server process can restart (forgetting every session). The
 * server end is the delivery machine driven the way a v2 server drives it:
 * a new session's hello with its secret, or a challenge answered by the
 * client's proof and then the hello; implicit numbers, acks on pings,
 * heartbeats or on their own.
 * Application messages are numbered ids so the tests can account for every
 * one of them.
 */

export type Frame =
  | { readonly kind: 'hello'; readonly hello: Hello }
  | { readonly kind: 'proof'; readonly secret: string; readonly delivered: number }
  | { readonly kind: 'data'; readonly id: number }
  | { readonly kind: 'ping'; readonly ack: number | null }
  | { readonly kind: 'pong' }
  | { readonly kind: 'heartbeat'; readonly ack: number | null }
  | { readonly kind: 'ack'; readonly through: number };

type WithoutNow<E> = E extends unknown ? Omit<E, 'now'> : never;

/** The server process: one session at most (enough for one client), lost on a restart. */
class ServerEnd {
  incarnation = 0;
  session: string | null = null;
  state: DeliveryState | null = null;
  readonly payloads = new Map<number, number>();
  /** Client ids delivered, per incarnation. */
  readonly delivered: number[][] = [[]];
  /** Server ids accepted (all incarnations) and handed back at expiry/restart. */
  readonly accepted: number[] = [];
  readonly lostInRestart: number[] = [];
  connected = false;
  private sessions = 0;

  constructor(private readonly net: ResumeNet) {}

  restart(): void {
    for (const id of this.payloads.values()) this.lostInRestart.push(id);
    this.payloads.clear();
    this.incarnation++;
    this.delivered.push([]);
    this.session = null;
    this.state = null;
    this.connected = false;
  }

  /** Proofs that did not match the session's secret (none is expected from the one client). */
  wrongProofs = 0;
  private secret = '';

  connect(ticket: ResumeTicket): void {
    this.connected = true;
    // B17: a named session is challenged; the hello waits for the client's proof.
    if (ticket.session !== null) this.net.toClient.push({ kind: 'hello', hello: { status: 'prove' } });
    else this.join(null, 0);
  }

  private join(named: string | null, delivered: number): void {
    const known = this.state !== null && named !== null && named === this.session;
    const valid = known && this.state !== null && delivered >= this.state.ackedThrough && delivered <= this.state.nextSeq - 1;
    let status: 'new' | 'resumed' = 'resumed';
    if (!valid) {
      // A new session (the old one, if any, is forgotten: its unacknowledged payloads are reported here).
      for (const id of this.payloads.values()) this.lostInRestart.push(id);
      this.payloads.clear();
      this.sessions++;
      this.session = `s${this.incarnation}x${this.sessions}`;
      this.secret = `secret${this.incarnation}x${this.sessions}`.padEnd(22, '_');
      this.state = createDeliveryState({ ackDelayMs: 50, maxUnackedMessages: 10_000, maxUnackedBytes: 1 << 30 }, this.net.now);
      status = 'new';
    }
    const state = this.state as DeliveryState;
    const session = this.session as string;
    this.net.toClient.push({
      kind: 'hello',
      hello: status === 'new' ? { status, session, secret: this.secret, delivered: 0 } : { status, session, delivered: state.deliveredThrough },
    });
    this.step({ type: 'resumed', peerDelivered: status === 'new' ? 0 : delivered });
  }

  disconnected(): void {
    this.connected = false;
    if (this.state !== null) this.step({ type: 'disconnected' });
  }

  send(id: number): void {
    if (this.state === null) return;
    this.pendingId = id;
    this.step({ type: 'accept', bytes: 1 });
    this.pendingId = null;
  }

  receive(frame: Frame): void {
    if (frame.kind === 'proof') {
      // The secret decides; a session this process does not hold (restarted) is forgotten: a new one.
      const proven = this.state !== null && frame.secret === this.secret;
      if (this.state !== null && !proven) this.wrongProofs++;
      this.join(proven ? this.session : null, frame.delivered);
      return;
    }
    if (this.state === null) return;
    switch (frame.kind) {
      case 'data':
        this.incoming = frame.id;
        this.step({ type: 'frame', seq: this.state.deliveredThrough + 1 });
        this.incoming = null;
        return;
      case 'ping':
        if (frame.ack !== null) this.step({ type: 'ack', through: frame.ack });
        this.net.toClient.push({ kind: 'pong' });
        return;
      case 'heartbeat': {
        if (frame.ack !== null) this.step({ type: 'ack', through: frame.ack });
        // Answered in kind, carrying the server's acknowledgement (the heartbeat-answer rule: the client never pings
        // itself here, so every client heartbeat is the client's own keep-alive).
        const out = this.step({ type: 'outgoing' });
        const ack = out.find((command) => command.type === 'ack');
        this.net.toClient.push({ kind: 'heartbeat', ack: ack?.type === 'ack' ? ack.through : this.state.deliveredThrough });
        return;
      }
      case 'ack':
        this.step({ type: 'ack', through: frame.through });
        return;
      default:
        return;
    }
  }

  /** The server's own keep-alive ping, carrying an owed acknowledgement. */
  ping(): void {
    if (this.state === null || !this.connected) return;
    const out = this.step({ type: 'outgoing' });
    const ack = out.find((command) => command.type === 'ack');
    this.net.toClient.push({ kind: 'ping', ack: ack?.type === 'ack' ? ack.through : null });
  }

  timeout(): void {
    if (this.state === null) return;
    const at = deliveryDeadline(this.state);
    if (at !== null && at <= this.net.now) this.step({ type: 'timeout' });
  }

  private pendingId: number | null = null;
  private incoming: number | null = null;

  private step(event: WithoutNow<DeliveryEvent>): DeliveryCommand[] {
    const out: DeliveryCommand[] = [];
    this.state = deliveryStep(this.state as DeliveryState, { ...event, now: this.net.now }, out);
    for (const command of out) {
      switch (command.type) {
        case 'number':
          if (this.pendingId !== null) {
            this.payloads.set(command.seq, this.pendingId);
            this.accepted.push(this.pendingId);
          }
          break;
        case 'transmit':
          if (this.connected) this.net.toClient.push({ kind: 'data', id: this.payloads.get(command.seq) ?? -1 });
          break;
        case 'deliver':
          if (this.incoming !== null) this.delivered[this.delivered.length - 1]?.push(this.incoming);
          break;
        case 'release':
          for (const seq of [...this.payloads.keys()]) if (seq <= command.through) this.payloads.delete(seq);
          break;
        case 'ack':
          // Only when not riding on a keep-alive (the callers of `outgoing` take it from `out`).
          if (event.type === 'timeout' && this.connected) this.net.toClient.push({ kind: 'ack', through: command.through });
          break;
        default:
          break;
      }
    }
    return out;
  }
}

/** The client machine with a driver that keeps payload ids, and the network between it and the server. */
export class ResumeNet {
  now = 0;
  state: ConnectionState;
  readonly server: ServerEnd;
  toServer: Frame[] = [];
  toClient: Frame[] = [];
  /** Whether the client's socket is there (asked for, not yet lost) and open. */
  socket: { open: boolean; closing: boolean } | null = null;
  readonly kept = new Map<number, number>();
  readonly accepted: number[] = [];
  readonly refused: number[] = [];
  readonly handedBack: number[] = [];
  readonly delivered: number[] = [];
  readonly events: ConnectionUserEvent[] = [];
  readonly violations: string[] = [];
  readonly queue: number[] = [];
  private sending: number | null = null;
  private incoming: number | null = null;
  private ticket: ResumeTicket | null = null;
  private readonly pending: ConnectionEvent[] = [];

  constructor(options: ConnectionOptions, readonly canPing = true) {
    this.server = new ServerEnd(this);
    const [state, commands] = openConnection({ heartbeatIntervalMs: 100, pongTimeoutMs: 1_000, reconnect: { initialDelayMs: 10, maxDelayMs: 50 }, ...options }, 0, 7);
    this.state = state;
    this.execute(commands);
  }

  apply(input: WithoutNow<ConnectionEvent>): void {
    this.pending.push({ ...input, now: this.now });
    for (let event = this.pending.shift(); event !== undefined; event = this.pending.shift()) {
      const out: ConnectionCommand[] = [];
      this.state = connectionStep(this.state, event, out);
      this.execute(out);
    }
  }

  send(id: number): void {
    this.sending = id;
    this.apply({ type: 'send', bytes: 1, writable: this.socket?.open === true });
    this.sending = null;
  }

  /** The pending socket opens: the server sees the connection (with the ticket of its URL). */
  open(): void {
    if (this.socket === null || this.socket.open) return;
    this.socket.open = true;
    this.apply({ type: 'socket_opened', canPing: this.canPing });
    if (this.ticket !== null) this.server.connect(this.ticket);
  }

  /** The path is cut: everything in flight is lost, both ends learn it. */
  cut(): void {
    if (this.socket === null) return;
    const wasOpen = this.socket.open;
    this.socket = null;
    this.toServer = [];
    this.toClient = [];
    if (wasOpen) this.server.disconnected();
    this.apply({ type: 'socket_closed', code: 1006, reason: '' });
  }

  restartServer(): void {
    const wasOpen = this.socket?.open === true;
    this.server.restart();
    if (wasOpen) this.cut();
  }

  /** Delivers the oldest frame in flight to the server. */
  deliverToServer(): void {
    const frame = this.toServer.shift();
    if (frame !== undefined && this.socket?.open === true) this.server.receive(frame);
  }

  /** Delivers the oldest frame in flight to the client. */
  deliverToClient(): void {
    const frame = this.toClient.shift();
    if (frame === undefined || this.socket?.open !== true) return;
    switch (frame.kind) {
      case 'hello':
        this.apply({ type: 'hello', hello: frame.hello });
        return;
      case 'data':
        this.incoming = frame.id;
        this.apply({ type: 'inbound', frame: 'data' });
        this.incoming = null;
        return;
      case 'ping':
        this.apply(frame.ack === null ? { type: 'inbound', frame: 'ping' } : { type: 'inbound', frame: 'ping', ack: frame.ack });
        return;
      case 'pong':
        this.apply({ type: 'inbound', frame: 'pong' });
        return;
      case 'heartbeat':
        this.apply(frame.ack === null ? { type: 'inbound', frame: 'heartbeat' } : { type: 'inbound', frame: 'heartbeat', ack: frame.ack });
        return;
      case 'ack':
        this.apply({ type: 'inbound', frame: 'ack', ack: frame.through });
        return;
    }
  }

  /** Advances time by `ms`, firing the client's deadlines (and the server's ack timer) on the way. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const at = connectionDeadline(this.state);
      if (at === null || at > end) break;
      this.now = Math.max(this.now, at);
      this.apply({ type: 'timeout' });
    }
    this.now = end;
    this.server.timeout();
  }

  /** Heals: the socket opens and every frame is delivered until nothing moves. */
  settle(): void {
    for (let round = 0; round < 200; round++) {
      if (this.socket !== null && !this.socket.open) this.open();
      if (this.toServer.length === 0 && this.toClient.length === 0) {
        if (this.socket?.open === true && this.kept.size === 0 && this.server.payloads.size === 0) return;
        this.server.ping();
        this.advance(60);
      }
      while (this.toServer.length > 0 || this.toClient.length > 0) {
        this.deliverToServer();
        this.deliverToClient();
      }
    }
  }

  private execute(commands: readonly ConnectionCommand[]): void {
    for (const command of commands) {
      switch (command.type) {
        case 'open_socket':
          if (this.socket !== null) this.violations.push('a second socket');
          this.socket = { open: false, closing: false };
          this.ticket = command.resume;
          break;
        case 'destroy_socket':
        case 'abandon_socket':
          if (this.socket?.open === true) this.server.disconnected();
          this.socket = null;
          this.toServer = [];
          this.toClient = [];
          break;
        case 'close_socket':
          if (this.socket !== null) this.socket.closing = true;
          break;
        case 'keepalive':
          if (this.socket?.open !== true) this.violations.push('a keep-alive with no open socket');
          else this.toServer.push(command.frame === 'ping' ? { kind: 'ping', ack: command.ack } : { kind: 'heartbeat', ack: command.ack });
          break;
        case 'reply_heartbeat':
          if (this.socket?.open === true) this.toServer.push({ kind: 'heartbeat', ack: command.ack });
          break;
        case 'send_ack':
          if (this.socket?.open === true) this.toServer.push({ kind: 'ack', through: command.through });
          break;
        case 'send_proof':
          if (this.socket?.open !== true) this.violations.push('a proof with no open socket');
          else this.toServer.push({ kind: 'proof', secret: command.secret, delivered: command.delivered });
          break;
        case 'number':
          if (this.sending !== null) {
            this.kept.set(command.seq, this.sending);
            this.accepted.push(this.sending);
          }
          break;
        case 'transmit': {
          const id = this.kept.get(command.seq);
          if (this.socket?.open !== true) this.violations.push('a transmit with no open socket');
          else if (id === undefined) this.violations.push(`transmit of unknown ${command.seq}`);
          else this.toServer.push({ kind: 'data', id });
          break;
        }
        case 'release':
          for (const seq of [...this.kept.keys()]) if (seq <= command.through) this.kept.delete(seq);
          break;
        case 'hand_back':
          for (let seq = command.from; seq <= command.to; seq++) {
            const id = this.kept.get(seq);
            if (id === undefined) this.violations.push(`hand_back of unknown ${seq}`);
            else this.handedBack.push(id);
            this.kept.delete(seq);
          }
          break;
        case 'renumber': {
          const carried: number[] = [];
          for (let seq = command.from; seq <= command.to; seq++) {
            const id = this.kept.get(seq);
            if (id === undefined) this.violations.push(`renumber of unknown ${seq}`);
            else carried.push(id);
          }
          this.kept.clear();
          carried.forEach((id, index) => this.kept.set(index + 1, id));
          break;
        }
        case 'refuse':
          if (this.sending !== null) this.refused.push(this.sending);
          break;
        case 'deliver':
          if (this.incoming !== null) this.delivered.push(this.incoming);
          this.incoming = null;
          break;
        case 'duplicate':
          this.incoming = null;
          break;
        case 'write':
        case 'enqueue':
        case 'requeue':
          this.violations.push(`plain delivery (${command.type}) against a server that speaks the wire format`);
          break;
        case 'event':
          this.events.push(command.event);
          break;
        default:
          break;
      }
    }
  }
}
