import { diagnostic } from './commands.js';
import { answerHeartbeat } from './heartbeat.js';
import { DELIVER, REPLY, anyLayer, eachLayer, firstOf, runSession, type Step } from './kernel-step.js';
import type { InboundFrame } from './kernel-types.js';
import { rttAnswered } from './rtt.js';

/**
 * What the peer sends (B5, B13): any inbound frame on the open socket is proof of life; a heartbeat message is
 * answered in kind or is the answer to the client's own (the heartbeat-answer rule, one copy for both ends), a pong
 * answers a ping (both time the round trip), and data is delivered (or taken by a layer: a resumed connection numbers
 * it). While the client's close handshake runs, data is still delivered.
 */

/** An inbound frame (`inbound`), with the acknowledgement it carried; `false` when it changed nothing (not open). */
export function onInbound(h: Step, frame: InboundFrame, ack: number | undefined): boolean {
  const d = h.k;
  // Data still arrives while the client's close handshake runs; nothing else matters then.
  if (d.phase === 'closing' && frame === 'data') {
    deliver(h);
    return true;
  }
  if (d.phase !== 'open') return false;
  eachLayer(h, (layer, slice) => layer.inbound?.(h, slice, frame));
  // B5: any inbound frame is proof of life.
  d.heardAt = d.now;
  runSession(h, { type: 'alive', now: d.now });
  if (typeof ack === 'number') eachLayer(h, (layer, slice) => layer.acked?.(h, slice, ack));
  switch (frame) {
    case 'heartbeat': {
      // The heartbeat-answer rule, one copy for both ends.
      const verdict = answerHeartbeat(d.heartbeatsOwed);
      d.heartbeatsOwed = verdict.unanswered;
      if (verdict.reply) {
        const owed = firstOf(h, (layer, slice) => layer.ack?.(h, slice, true));
        h.out.push(owed === null ? REPLY : { type: 'reply_heartbeat', ack: owed });
      } else {
        rttAnswered(d, d.now);
        eachLayer(h, (layer, slice) => layer.answered?.(h, slice));
      }
      return true;
    }
    case 'pong':
      rttAnswered(d, d.now);
      eachLayer(h, (layer, slice) => layer.answered?.(h, slice));
      return true;
    case 'data':
      deliver(h);
      return true;
    case 'invalid':
      h.out.push(diagnostic('warn', 'protocol_error', { frame: 'control' }));
      return true;
    default:
      return true;
  }
}

/** An inbound data frame: a layer may take it (a resumed connection numbers it); else it is delivered. */
function deliver(h: Step): void {
  if (!anyLayer(h, (layer, slice) => layer.data?.(h, slice))) h.out.push(DELIVER);
}
