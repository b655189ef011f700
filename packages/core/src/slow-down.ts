import { CLOSE_CODES, diagnostic } from './commands.js';
import type { CloseInfo } from './kernel-types.js';
import type { Host, Layer } from './layer.js';
import { readPingFloodReason } from './ping-policy.js';

/**
 * The ping-flood slow-down (B13): a layer. A server that closes with 1008 and the reason `ping_flood` (our servers
 * add their minimum: `ping_flood min_interval_ms=5000`) says this client pings too often. The client does not give up
 * (the kernel never takes that close as terminal): it slows its heartbeat down, to the server's minimum when the
 * close said it (with a tenth more, for the network's jitter: one close and the ends agree), else doubled, up to
 * `maxHeartbeatIntervalMs`, and reconnects.
 */

/** The slow-down layer's slice: nothing of its own (the interval lives in the session's config). */
export type SlowDownState = Record<string, never>;

/** The slow-down layer, up to `maxHeartbeatIntervalMs` (checked by the composition against the heartbeat interval). */
export function slowDownLayer(maxHeartbeatIntervalMs: number): Layer<SlowDownState> {
  return Object.freeze({
    name: 'slow-down',
    init: (): SlowDownState => ({}),
    closedWith(host: Host, _s: SlowDownState, info: CloseInfo, opened: boolean): void {
      const flood = opened && info.code === CLOSE_CODES.policyViolation ? readPingFloodReason(info.reason) : null;
      if (flood === null) return;
      const previous = host.k.session.config.heartbeatIntervalMs;
      if (previous >= maxHeartbeatIntervalMs) {
        host.out.push(diagnostic('warn', 'ping_flood_at_bound', { interval_ms: previous }));
        return;
      }
      const { minIntervalMs } = flood;
      const wanted = minIntervalMs === null ? previous * 2 : Math.max(previous + 1, Math.ceil(minIntervalMs * 1.1));
      const next = Math.min(maxHeartbeatIntervalMs, wanted);
      host.setHeartbeatInterval(next);
      host.out.push(diagnostic('warn', 'keepalive_slowed', { from_ms: previous, to_ms: next }));
      host.emit({ type: 'slowed', heartbeatIntervalMs: next, previousIntervalMs: previous });
    },
  });
}
