import { CLOSE_CODES, diagnostic } from './commands.js';
import { nestedOptions } from './errors.js';
import type { ConnectionCommand, ConnectionEvent, InboundFrame, ResumeTicket } from './kernel-types.js';
import type { Host, Layer } from './layer.js';
import {
  createResumeState,
  defineResumeConfig,
  isResuming,
  resumeDeadline,
  resumeRequest,
  resumeStep,
  type ResumeCommand,
  type ResumeConfig,
  type ResumeEvent,
  type ResumeOptions,
  type ResumeState,
} from './resume.js';
import { encodeAck, encodeHeartbeat, encodePingAck, encodeProof, escapeText, readPingAck, readResumeText, resumeQuery } from './wire.js';
import { heartbeatText, pingAck, readFrame, writeText } from './wire-codec.js';

/**
 * The client's resumable session as a layer (spec B14, B17): what `resumable()` returns and a client passes as its
 * `resume` option. It carries the client end (`resume.ts`, with the delivery machine), the translation of its
 * commands into the connection's, and the wire format codec (`wire.ts`) the client's driver reads and writes with.
 * The kernel receives it in its config and never imports it, so a program that does not pass one does not bundle any
 * of it. It owns its slice of the state (the client end) and asks the kernel for every other change.
 */

/**
 * The wire format codec a client uses on a resumable session (`wire.ts`): the resume parameters of its URL, the proof
 * and acknowledgements it writes, and the reading and escaping of text frames. `readFrame`, `writeText`,
 * `heartbeatText` and `pingAck` apply the rules of both ends (`wire-codec.ts`) to the client's codec mode.
 */
export interface ResumeWire {
  readonly readFrame: typeof readFrame;
  readonly writeText: typeof writeText;
  readonly heartbeatText: typeof heartbeatText;
  readonly pingAck: typeof pingAck;
  readonly resumeQuery: typeof resumeQuery;
  readonly encodeAck: typeof encodeAck;
  readonly encodeProof: typeof encodeProof;
  readonly encodeHeartbeat: typeof encodeHeartbeat;
  readonly encodePingAck: typeof encodePingAck;
  readonly readPingAck: typeof readPingAck;
  readonly escapeText: typeof escapeText;
  readonly readResumeText: typeof readResumeText;
}

/** The resume layer's slice of the connection state: the client end, `null` once closed for good. */
export interface ResumeSlice {
  resume: ResumeState | null;
}

/**
 * The resumable session as a layer (the value of a client's `resume` option): its validated options, the client end
 * of the session as a {@link Layer}, and the wire codec the client's driver uses. Make one with {@link resumable}.
 */
export interface ResumeLayer extends Layer<ResumeSlice> {
  readonly config: ResumeConfig;
  readonly wire: ResumeWire;
}

const CODEC_HELLO: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'codec', mode: 'hello' });
const CODEC_WIRE: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'codec', mode: 'wire' });
const CODEC_PLAIN: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'codec', mode: 'plain' });

/**
 * A resumable session (B14, wire format v2, `docs/resume-protocol.md`): pass it as the `resume` option of a client
 * (`createKeepaliveClient(url, { resume: resumable() })`; re-exported by `@keepalive/websocket-transport`, `@keepalive/bun`
 * and `@keepalive/deno`) or of `defineConnectionConfig`. Validates `options` now (B1): a bad one throws
 * `KeepaliveOptionError` naming it as `resume.<option>` with its value.
 */
export function resumable(options: ResumeOptions = {}): ResumeLayer {
  const config = nestedOptions('resume', options, defineResumeConfig);
  return Object.freeze({
    name: 'resume',
    config,
    wire: Object.freeze({ readFrame, writeText, heartbeatText, pingAck, resumeQuery, encodeAck, encodeProof, encodeHeartbeat, encodePingAck, readPingAck, escapeText, readResumeText }),
    init: (now: number): ResumeSlice => ({ resume: createResumeState(config, now) }),
    deadline: (s: Readonly<ResumeSlice>, k: { readonly phase: string }): number | null => (s.resume !== null && k.phase === 'open' ? resumeDeadline(s.resume) : null),
    ticket(host: Host, s: ResumeSlice): ResumeTicket | null {
      const request = s.resume === null ? null : resumeRequest(s.resume);
      if (request !== null) host.out.push(CODEC_HELLO);
      return request;
    },
    opened(host: Host, s: ResumeSlice): void {
      if (isResuming(s.resume)) run(host, s, { type: 'opened', now: host.k.now });
    },
    event: onHello,
    inbound(host: Host, s: ResumeSlice, frame: InboundFrame): void {
      // Application data before the hello means the server does not speak the protocol. Keep-alives decide nothing:
      // a server that speaks it may keep the connection alive while the client proves its session (B17), and one
      // that does not is found out by the hello timeout.
      if (s.resume?.phase === 'waiting' && frame === 'data') run(host, s, { type: 'foreign', now: host.k.now });
    },
    acked(host: Host, s: ResumeSlice, through: number): void {
      if (s.resume?.phase === 'resumed') run(host, s, { type: 'ack', now: host.k.now, through });
    },
    data(host: Host, s: ResumeSlice): boolean {
      // On a resumed connection the session numbers each data frame: delivered once, in order.
      if (s.resume?.phase !== 'resumed') return false;
      run(host, s, { type: 'data', now: host.k.now });
      return true;
    },
    send(host: Host, s: ResumeSlice, bytes: number): boolean {
      if (!isResuming(s.resume)) return false;
      // B14: numbered and kept until the server acknowledges it; transmitted now when the session is up.
      run(host, s, { type: 'accept', now: host.k.now, bytes });
      if (host.k.phase === 'parked' && unacked(s) > 0) host.unpark('send');
      return true;
    },
    ack(host: Host, s: ResumeSlice, heartbeat: boolean): number | null {
      // On a resumed connection, the acknowledgement owed rides on the keep-alive; a heartbeat message always carries
      // one (it is the wire format's heartbeat, `\u0006A<n>`).
      if (s.resume?.phase !== 'resumed') return null;
      const owed = run(host, s, { type: 'outgoing', now: host.k.now }, true, []);
      return owed ?? (heartbeat ? delivered(s) : null);
    },
    pending: (s: Readonly<ResumeSlice>): number => (isResuming(s.resume) ? s.resume.delivery.unacked.length : 0),
    timeout(host: Host, s: ResumeSlice): void {
      if (host.k.phase !== 'open' || s.resume === null) return;
      const due = resumeDeadline(s.resume);
      const waiting = s.resume.phase === 'waiting';
      if (due !== null && due <= host.k.now) run(host, s, { type: 'timeout', now: host.k.now });
      if (waiting && s.resume.phase === 'unsupported') {
        // No hello in time: this socket asked for the wire format, and a slow server that speaks it would still speak
        // it on it. A new socket, asking for nothing, follows.
        host.lose({ code: CLOSE_CODES.abnormal, reason: 'hello_timeout' });
      } else if (waiting && s.resume.phase === 'detached') {
        // Challenged, proved, and no verdict in time (B17): this connection is given up; the next one resumes again.
        host.lose({ code: CLOSE_CODES.abnormal, reason: 'verdict_timeout' });
      }
    },
    lost(host: Host, s: ResumeSlice): void {
      if (isResuming(s.resume)) run(host, s, { type: 'disconnected', now: host.k.now });
    },
    cleanClose(host: Host, s: ResumeSlice): void {
      if (isResuming(s.resume)) run(host, s, { type: 'closed_cleanly', now: host.k.now });
    },
    finish: finishResume,
  });
}

/** Messages the server has not acknowledged (read after a step: the client end may have changed). */
function unacked(s: ResumeSlice): number {
  return s.resume === null ? 0 : s.resume.delivery.unacked.length;
}

/** The last inbound message delivered, or `null` without a client end. */
function delivered(s: ResumeSlice): number | null {
  return s.resume === null ? null : s.resume.delivery.deliveredThrough;
}

/** The server's hello (the only event of the kernel's that this layer takes): the session comes up on this connection. */
function onHello(host: Host, s: ResumeSlice, event: ConnectionEvent): boolean {
  if (event.type !== 'hello') return false;
  const { hello } = event;
  const phase = host.k.phase;
  if (phase === 'closing' && s.resume?.phase === 'waiting') {
    // Closing before the session came up: nothing more is written, but what the server sends is read as the wire format.
    if (hello.status !== 'prove') host.out.push(CODEC_WIRE);
    return true;
  }
  if (phase !== 'open' || s.resume === null) {
    host.out.push(diagnostic('warn', 'protocol_error', { frame: 'hello' }));
    return true;
  }
  host.alive();
  // The wire format from here on, before anything is written: retransmitted text is escaped. A challenge is not the
  // session yet: the verdict is the next hello.
  if (s.resume.phase === 'waiting' && hello.status !== 'prove') host.out.push(CODEC_WIRE);
  run(host, s, { type: 'hello', now: host.k.now, hello });
  return true;
}

/**
 * Runs `event` through the client end and translates its commands into connection commands (appended to `out`).
 * Returns the acknowledgement it owes when `ride` (the caller sends a keep-alive that carries it); otherwise an owed
 * one goes out on its own (`send_ack`).
 */
function run(host: Host, s: ResumeSlice, event: ResumeEvent, ride = false, out: ConnectionCommand[] = host.out): number | null {
  /* c8 ignore next -- stepped only while its client end exists */
  if (s.resume === null) return null;
  const inner: ResumeCommand[] = [];
  s.resume = resumeStep(s.resume, event, inner);
  let ack: number | null = null;
  let handedBack = 0;
  for (const command of inner) {
    switch (command.type) {
      case 'ack':
        if (ride) ack = command.through;
        else out.push({ type: 'send_ack', through: command.through });
        break;
      case 'refuse':
        out.push({ type: 'refuse', reason: command.reason });
        break;
      case 'prove':
        out.push({ type: 'send_proof', secret: command.secret, delivered: command.delivered });
        break;
      case 'deliver':
      case 'duplicate':
        out.push({ type: command.type });
        break;
      case 'hand_back':
        handedBack += command.to - command.from + 1;
        out.push(command);
        break;
      case 'requeue':
        // The server does not speak it: what was kept goes to the plain queue, in order.
        host.requeue(command.messages, command.bytes);
        out.push({ type: 'requeue' });
        break;
      case 'negotiated':
        if (command.status === 'unsupported') out.push(CODEC_PLAIN);
        // Written to a server that forgot the session, or to an earlier one before a fallback: handed back.
        if (command.status === 'forgotten' || handedBack > 0) out.push({ type: 'event', event: { type: 'forgotten', messages: handedBack } });
        out.push({ type: 'event', event: { type: 'session', status: command.status, retransmitted: command.retransmitted } });
        if (command.status === 'unsupported' && host.k.queuedMessages > 0 && host.k.phase === 'open') out.push({ type: 'flush' });
        break;
      case 'number':
      case 'transmit':
      case 'release':
      case 'renumber':
      case 'diagnostic':
        out.push(command);
        break;
    }
  }
  return ack;
}

/** Closing for good: hands back what the server has not acknowledged (B14); returns how many of those were written. */
function finishResume(host: Host, s: ResumeSlice): number {
  const delivery = s.resume?.delivery;
  s.resume = null;
  // (After a fallback to plain delivery the session's buffer is empty: nothing is handed back here.)
  if (delivery === undefined || delivery.unacked.length === 0) return 0;
  const written = Math.max(0, Math.min(delivery.nextSeq - 1, delivery.transmittedThrough) - delivery.ackedThrough);
  // Closed for good with messages the server has not acknowledged: handed back with the closed event (B14).
  host.out.push({ type: 'hand_back', from: delivery.ackedThrough + 1, to: delivery.nextSeq - 1 });
  host.out.push(diagnostic('warn', 'undelivered', { messages: delivery.unacked.length }));
  return written;
}
