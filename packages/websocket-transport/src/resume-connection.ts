import { encodeHeartbeat, encodePingAck, readPingAck, readResumeText } from '@keepalive/core';
import type { ScheduledEntry } from '@keepalive/node-timers';
import { RESUME_CLOSE_CODES, SESSION_HUB_DIAGNOSTICS } from './resume-codes.js';
import { binaryOf, isFrame, pingText, textOf } from './resume-frames.js';
import type { ResumeConnection, ResumeFrame, ResumeFrameKind, ResumeSocket } from './resume-server.js';
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
  /** Whether a hello was written on this connection (before it, the plain heartbeat is answered plainly). */
  private greeted = false;
  /**
   * Whether the client has written a wire-format frame on this connection after the hello. Before that, a client's
   * keep-alive is the plain heartbeat message (it cannot know yet that the server speaks the wire format) and it
   * writes no application message; after it, every frame is wire format. Its frames are ordered, so plain
   * heartbeats come first. The proof does not count: it comes before the hello.
   */
  private speaking = false;
  /** The handshake's deadline (`handshakeTimeoutMs`), while it runs. */
  private timer: ScheduledEntry | null = null;

  constructor(
    private readonly host: HubHost,
    readonly socket: ResumeSocket,
    private readonly pings: boolean,
    readonly context: unknown,
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
      this.greeted = true;
    }
  }

  message(data: ResumeFrame, isBinary?: boolean): ResumeFrameKind {
    const session = this.session;
    if (session === null) return this.handshake(data, isBinary);
    if (!isFrame(data)) return this.invalid();
    if (typeof data !== 'string' && isBinary !== false) {
      this.spoke(session);
      session.receive(binaryOf(data));
      return 'data';
    }
    const text = textOf(data);
    if (text === null) return this.invalid();
    if (!this.speaking && text === this.host.heartbeatMessage) return 'heartbeat';
    this.spoke(session);
    const read = readResumeText(text);
    switch (read.kind) {
      case 'data':
        session.receive(read.text);
        return 'data';
      case 'heartbeat':
        session.acked(read.ack);
        return 'heartbeat';
      case 'ack':
        session.acked(read.ack);
        return 'ack';
      default:
        // An unreadable control frame, a hello (only servers send one) or a proof after the hello.
        return this.invalid();
    }
  }

  /** The client's first wire-format frame after the hello confirms the session (B17). */
  private spoke(session: Session): void {
    if (this.speaking) return;
    this.speaking = true;
    session.confirm();
  }

  /** A frame before the hello: the plain heartbeat (a keep-alive), the proof when challenged, or a protocol error. */
  private handshake(data: ResumeFrame, isBinary: boolean | undefined): ResumeFrameKind {
    if (this.stage === 'done' || this.gone || !isFrame(data)) return 'ignored';
    const text = typeof data !== 'string' && isBinary !== false ? null : textOf(data);
    if (text === this.host.heartbeatMessage) return 'heartbeat';
    const read = text === null ? null : readResumeText(text);
    if (this.stage === 'proving' && read?.kind === 'proof') {
      this.stage = 'pending';
      this.host.proved(this, read);
      return 'proof';
    }
    // A client that speaks wire format v2 writes nothing but its proof and plain keep-alives before the hello.
    this.host.refuse(this, 'invalid', RESUME_CLOSE_CODES.protocolError, this.stage === 'proving' ? 'proof expected' : 'hello expected');
    return 'invalid';
  }

  ping(payload: ResumeFrame): void {
    const session = this.session;
    if (session === null || !isFrame(payload)) return;
    // A ping may carry anything; only a count is an acknowledgement.
    const ack = readPingAck(pingText(payload));
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
    // Before the hello the client reads only a hello as a control frame: its plain keep-alive is answered plainly.
    if (session === null && !this.greeted) return this.host.heartbeatMessage;
    // A detached connection acknowledges nothing new (0 never lowers a cumulative acknowledgement).
    if (session === null) return encodeHeartbeat(0);
    session.carryAck();
    return encodeHeartbeat(session.state.deliveredThrough);
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
