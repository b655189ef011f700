import { CLOSE_CODES, diagnostic } from './commands.js';
import { checkDuration } from './errors.js';
import type { Host, Layer } from './layer.js';
import { wantsHeartbeat } from './session.js';

/**
 * The idle read timeout (B5 while idle, B15): a layer. While no heartbeat runs (no work in flight, and
 * `permitWithoutActivity` off), an open connection that receives nothing for `timeoutMs` is dead, exactly as if a
 * keep-alive had gone unanswered (`dead-peer`, the socket destroyed, a reconnect). For a transport that cannot send
 * keep-alives (Server-Sent Events) this is the idle limit. A late check is reported and given a fresh limit (B15):
 * the process was not running, so what the peer sent may be unread.
 */

/** The idle-read layer's slice: the read deadline, armed exactly while open with no heartbeat running. */
export interface IdleReadState {
  /** Counted from when the connection went quiet or from the last inbound frame; `null` while not armed. */
  readAt: number | null;
}

/** The idle read timeout as a layer of `timeoutMs` (validated now: B1). */
export function idleReadLayer(timeoutMs: number): Layer<IdleReadState> {
  const limit = checkDuration('idleReadTimeoutMs', timeoutMs);
  return Object.freeze({
    name: 'idle-read',
    init: (): IdleReadState => ({ readAt: null }),
    deadline: (s: Readonly<IdleReadState>): number | null => s.readAt,
    settle(host: Host, s: IdleReadState, heard: boolean): void {
      const k = host.k;
      const wanted = k.phase === 'open' && !wantsHeartbeat(k.session);
      s.readAt = !wanted ? null : heard || s.readAt === null ? k.now + limit : s.readAt;
    },
    timeout(host: Host, s: IdleReadState): void {
      const k = host.k;
      if (k.phase !== 'open' || s.readAt === null || s.readAt > k.now) return;
      const late = k.now - s.readAt;
      if (late > k.session.config.lateTimerMs) {
        host.out.push(diagnostic('warn', 'heartbeat_late', { timer: 'idle_read', late_ms: late, missed: 0 }));
        s.readAt = k.now + limit;
        return;
      }
      s.readAt = null;
      host.out.push(diagnostic('warn', 'idle_read_timeout', { timeout_ms: limit }));
      host.emit({ type: 'dead-peer', timeoutMs: limit });
      host.lose({ code: CLOSE_CODES.abnormal, reason: 'idle_read_timeout' });
    },
  });
}

