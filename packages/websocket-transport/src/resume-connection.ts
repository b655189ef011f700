import { encodePingAck, readServerText, serverGreeted, serverHeartbeat, serverPingAck, serverWireAfter, type FrameRead, type ServerWireState } from '@keepalive/core';
import type { ScheduledEntry } from '@keepalive/node-timers';
import { RESUME_CLOSE_CODES, RESUME_CLOSE_REASONS, SESSION_HUB_DIAGNOSTICS } from './resume-codes.js';
import { binaryOf, isFrame, pingText, textOf } from './resume-frames.js';
import type { ResumeConnection, ResumeFrame, ResumeFrameKind, ResumeSocket } from './resume-types.js';
import type { HubHost, Session } from './resume-session.js';

/**
 * One connection of a resuming client at the server: its handshake (B17: the challenge, the one proof, the wait for
 * the store and the application) and then the session it carries, reading each inbound frame for it.
 */

/**
 * One connection's handle. Before its hello it is in its handshake (B17): `proving` (it named a session and was
 * challenged: the first frame must be its proof) or `pending` (the hub waits for the store or the `admit` hook),
 * bounded by `handshakeTimeoutMs`; then it carries a session (`session`), until it is let go; `done` once attached
 * or refused.
 */
export class Connection implements ResumeConnection {
  session: Session | null = null;
  /** The session the client named in its URL (public), or `null` for a new one. */
  named: string | null = null;
  stage: 'proving' | 'pending' | 'done' = 'pending';
  /** The socket closed before the handshake ended: nothing is taken up for it. */
  gone = false;
  /**
   * Where the connection's framing is (the core's `server-wire.ts`): `plain` before the hello (the plain heartbeat is
   * answered plainly), `greeted` after it (the client's plain heartbeats, written before it read the hello, are still
   * keep-alives), `speaking` from the client's first wire-format frame on (every frame is wire format).
   */
  wire: ServerWireState = 'plain';
  /** The handshake's deadline (`handshakeTimeoutMs`), while it runs. */
  private timer: ScheduledEntry | null = null;

  constructor(
    private readonly host: HubHost,
    readonly socket: ResumeSocket,
    private readonly pings: boolean,
    /**
     * What the adapter passed for this connection (for `keepAlive(wss)`, the socket and its upgrade request), for the
     * `admit` hook and the handshake's last event (`session` or `refused`); dropped once that event has carried it,
     * so a connection does not hold its upgrade request (about 1 kB on Node) for its whole life.
     */
    public context: unknown,
  ) {}

  get attached(): boolean {
    return this.session !== null;
  }

  /** Starts the handshake's clock. */
  arm(deadline: number): void {
    this.timer = this.host.scheduler.entry(this);
    this.timer.schedule(deadline);
  }

  /** The handshake ended (attached, refused, or the socket closed): its clock stops. */
  settle(): void {
    if (this.stage === 'done') return;
    this.stage = 'done';
    this.timer?.dispose();
    this.timer = null;
    this.host.handshakeEnded(this);
  }

  /** Called by the scheduler at the handshake's deadline. */
  wake(): void {
    if (this.stage !== 'done' && !this.gone) this.host.handshakeTimedOut(this);
  }

  /** The session this connection carries from now on (`null`: let go). */
  attach(session: Session | null): void {
    this.session = session;
    if (session !== null) {
      this.settle();
      this.wire = serverGreeted(this.wire);
    }
  }

  message(data: ResumeFrame, isBinary?: boolean): ResumeFrameKind {
    const session = this.session;
    if (session === null) return this.handshake(data, isBinary);
    if (!isFrame(data)) return this.invalid();
    let frame: FrameRead | null = null;
    if (typeof data === 'string' || isBinary === false) {
      const text = textOf(data);
      if (text === null) return this.invalid();
      frame = readServerText(this.wire, text, this.host.heartbeatMessage);
    }
    const before = this.wire;
    this.wire = serverWireAfter(before, frame);
    // The client's first wire-format frame after the hello confirms the session (B17).
    if (this.wire !== before) session.confirm();
    if (frame === null) {
      session.receive(binaryOf(data as Exclude<ResumeFrame, string>));
      return 'data';
    }
    switch (frame.kind) {
      case 'data':
        session.receive(frame.text);
        return 'data';
      case 'heartbeat':
        if (frame.ack !== null) session.acked(frame.ack);
        return 'heartbeat';
      case 'ack':
        session.acked(frame.ack);
        return 'ack';
      default:
        // An unreadable control frame, a hello (only servers send one) or a proof after the hello.
        return this.invalid();
    }
  }

  /** A frame before the hello: the plain heartbeat (a keep-alive), the proof when challenged, or a protocol error. */
  private handshake(data: ResumeFrame, isBinary: boolean | undefined): ResumeFrameKind {
    if (this.stage === 'done' || this.gone || !isFrame(data)) return 'ignored';
    const text = typeof data !== 'string' && isBinary !== false ? null : textOf(data);
    const frame = text === null ? null : readServerText(this.wire, text, this.host.heartbeatMessage);
    if (frame?.kind === 'heartbeat') return 'heartbeat';
    if (this.stage === 'proving' && frame?.kind === 'proof') {
      this.stage = 'pending';
      this.host.proved(this, frame);
      return 'proof';
    }
    // A client that speaks wire format v2 writes nothing but its proof and plain keep-alives before the hello.
    this.host.refuse(this, 'invalid', RESUME_CLOSE_CODES.protocolError, this.stage === 'proving' ? RESUME_CLOSE_REASONS.proofExpected : RESUME_CLOSE_REASONS.helloExpected);
    return 'invalid';
  }

  ping(payload: ResumeFrame): void {
    const session = this.session;
    if (session === null || !isFrame(payload)) return;
    // A ping may carry anything; only a count is an acknowledgement.
    const ack = serverPingAck(this.wire, pingText(payload));
    if (ack !== null) session.acked(ack);
  }

  pingPayload(): string {
    const session = this.session;
    if (!this.pings || session === null) return '';
    const ack = session.carryAck();
    return ack === null ? '' : encodePingAck(ack);
  }

  heartbeatReply(): string {
    const session = this.session;
    // The heartbeat carries the acknowledgement: the owed one is settled by it.
    session?.carryAck();
    return serverHeartbeat(this.wire, session === null ? null : session.state.deliveredThrough, this.host.heartbeatMessage);
  }

  closed(code: number): void {
    const session = this.session;
    if (session === null) {
      this.gone = true;
      this.settle();
      return;
    }
    session.connectionClosed(this, code);
  }

  private invalid(): ResumeFrameKind {
    this.host.report('warn', SESSION_HUB_DIAGNOSTICS.protocolError, { total: this.host.count('protocolErrors') });
    return 'invalid';
  }
}
