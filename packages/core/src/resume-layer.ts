import { diagnostic } from './commands.js';
import { CONNECTION_DIAGNOSTICS, type ConnectionCommand, type ConnectionDraft } from './connection.js';
import { nestedOptions } from './errors.js';
import {
  createResumeState,
  defineResumeConfig,
  resumeDeadline,
  resumeRequest,
  resumeStep,
  type ResumeCommand,
  type ResumeConfig,
  type ResumeEvent,
  type ResumeOptions,
} from './resume.js';
import { encodeAck, encodeHeartbeat, encodePingAck, encodeProof, escapeText, readPingAck, readResumeText, resumeQuery } from './wire.js';

/**
 * The client's resumable session as a layer (spec B14): what `resumable()` returns and a client passes as its
 * `resume` option. It carries the client end (`resume.ts`, with the delivery machine), the translation of its
 * commands into the connection machine's, and the wire format codec (`wire.ts`) the client's driver reads and
 * writes with. The connection machine (`connection.ts`) receives it in its config and never imports it, so a program
 * that does not pass one does not bundle any of it.
 */

/**
 * The wire format codec a client uses on a resumable session (`wire.ts`): the resume parameters of its URL, the proof
 * and acknowledgements it writes, and the reading and escaping of text frames.
 */
export interface ResumeWire {
  readonly resumeQuery: typeof resumeQuery;
  readonly encodeAck: typeof encodeAck;
  readonly encodeProof: typeof encodeProof;
  readonly encodeHeartbeat: typeof encodeHeartbeat;
  readonly encodePingAck: typeof encodePingAck;
  readonly readPingAck: typeof readPingAck;
  readonly escapeText: typeof escapeText;
  readonly readResumeText: typeof readResumeText;
}

/**
 * The resumable session as a layer (the value of a client's `resume` option): its validated options, the client end
 * of the session that the connection machine composes, and the wire codec the client's driver uses. The connection
 * machine receives it rather than imports it, so a program without `resume` does not bundle wire format v2. Make one
 * with {@link resumable}.
 */
export interface ResumeLayer {
  readonly config: ResumeConfig;
  /** A new client end (`createResumeState`). */
  readonly create: typeof createResumeState;
  /** Its earliest deadline (`resumeDeadline`). */
  readonly deadline: typeof resumeDeadline;
  /** What the next socket's URL asks for (`resumeRequest`). */
  readonly request: typeof resumeRequest;
  /**
   * For the connection machine, inside one of its steps: runs `event` through the client end of `d.resume` and
   * translates its commands into connection commands (appended to `out`). Returns the acknowledgement it owes when
   * `ride` (the caller sends a keep-alive that carries it); otherwise an owed one goes out on its own (`send_ack`).
   */
  readonly step: (d: ConnectionDraft, event: ResumeEvent, out: ConnectionCommand[], ride: boolean) => number | null;
  /**
   * For the connection machine, closing for good: hands back what the server has not acknowledged (B14); returns how
   * many of those, from the oldest, were written (they may have arrived; the rest never left).
   */
  readonly finish: (d: ConnectionDraft, out: ConnectionCommand[]) => number;
  readonly wire: ResumeWire;
}

/**
 * A resumable session (B14, wire format v2, `docs/resume-protocol.md`): pass it as the `resume` option of a client
 * (`createKeepaliveClient(url, { resume: resumable() })`; re-exported by `@keepalive/websocket-transport`, `@keepalive/bun`
 * and `@keepalive/deno`) or of `defineConnectionConfig`. Validates `options` now (B1): a bad one throws
 * `KeepaliveOptionError` naming it as `resume.<option>` with its value.
 */
export function resumable(options: ResumeOptions = {}): ResumeLayer {
  return Object.freeze({
    config: nestedOptions('resume', options, defineResumeConfig),
    create: createResumeState,
    deadline: resumeDeadline,
    request: resumeRequest,
    step: stepResume,
    finish: finishResume,
    wire: Object.freeze({ resumeQuery, encodeAck, encodeProof, encodeHeartbeat, encodePingAck, readPingAck, escapeText, readResumeText }),
  });
}

function stepResume(d: ConnectionDraft, event: ResumeEvent, out: ConnectionCommand[], ride: boolean): number | null {
  /* c8 ignore next -- the connection machine steps it only while its resume state exists */
  if (d.resume === null) return null;
  const inner: ResumeCommand[] = [];
  d.resume = resumeStep(d.resume, event, inner);
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
        d.queuedMessages += command.messages;
        d.queuedBytes += command.bytes;
        out.push({ type: 'requeue' });
        break;
      case 'negotiated':
        if (command.status === 'unsupported') out.push({ type: 'codec', mode: 'plain' });
        // Written to a server that forgot the session, or to an earlier one before a fallback: handed back.
        if (command.status === 'forgotten' || handedBack > 0) out.push({ type: 'event', event: { type: 'forgotten', messages: handedBack } });
        out.push({ type: 'event', event: { type: 'session', status: command.status, retransmitted: command.retransmitted } });
        if (command.status === 'unsupported' && d.queuedMessages > 0 && d.phase === 'open') out.push({ type: 'flush' });
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

function finishResume(d: ConnectionDraft, out: ConnectionCommand[]): number {
  const delivery = d.resume?.delivery;
  // (After a fallback to plain delivery the session's buffer is empty: nothing is handed back here.)
  if (delivery === undefined || delivery.unacked.length === 0) return 0;
  const written = Math.max(0, Math.min(delivery.nextSeq - 1, delivery.transmittedThrough) - delivery.ackedThrough);
  // Closed for good with messages the server has not acknowledged: handed back with the closed event (B14).
  out.push({ type: 'hand_back', from: delivery.ackedThrough + 1, to: delivery.nextSeq - 1 });
  out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.undelivered, { messages: delivery.unacked.length }));
  return written;
}
