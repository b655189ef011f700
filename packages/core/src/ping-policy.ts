import { CLOSE_CODES, diagnostic, type CloseTransport, type Diagnostic } from './commands.js';
import { checkDuration, checkOptions, integerIn, type OptionSchema } from './errors.js';

/**
 * Ping-flood policy (spec B8), after gRPC's server keepalive enforcement: a
 * peer that pings sooner than `minPingIntervalMs` after its previous ping
 * earns a strike; one strike more than `maxPingStrikes` closes the
 * connection with 1008 (policy violation). Application data from the peer
 * clears the strikes, as data frames do in gRPC.
 */

/**
 * Options of the ping-flood policy.
 */
export interface PingPolicyOptions {
  /** The shortest allowed time between two pings from a peer. Default 5 000 ms. */
  readonly minPingIntervalMs?: number | undefined;
  /** Strikes tolerated before closing; the next one closes. Default 2. */
  readonly maxPingStrikes?: number | undefined;
}

/**
 * Validated, frozen ping-policy options.
 */
export interface PingPolicyConfig {
  readonly minPingIntervalMs: number;
  readonly maxPingStrikes: number;
}

/**
 * Defaults of the ping-flood policy.
 */
export const PING_POLICY_DEFAULTS: PingPolicyConfig = /* @__PURE__ */ Object.freeze({ minPingIntervalMs: 5_000, maxPingStrikes: 2 });

/** The ping policy's options table (B1): each option's default and check. */
const PING_POLICY_SCHEMA: OptionSchema<PingPolicyConfig> = /* @__PURE__ */ Object.freeze({
  minPingIntervalMs: [PING_POLICY_DEFAULTS.minPingIntervalMs, checkDuration],
  maxPingStrikes: [PING_POLICY_DEFAULTS.maxPingStrikes, /* @__PURE__ */ integerIn(0, 1_000)],
});

/**
 * Validates ping-policy options once; throws {@link KeepaliveOptionError}.
 */
export function definePingPolicy(options: PingPolicyOptions = {}): PingPolicyConfig {
  return Object.freeze(checkOptions(options, PING_POLICY_SCHEMA, 'ping policy'));
}

/**
 * One peer's standing under the policy.
 */
export interface PingPolicyState {
  /** When the previous ping arrived, or `null`. */
  readonly lastPingAt: number | null;
  /** Strikes collected since the last application data. */
  readonly strikes: number;
  /** Whether the policy has already closed this peer. */
  readonly violated: boolean;
}

/**
 * Events of the policy: a ping from the peer, or application data from it.
 */
export type PingPolicyEvent = { readonly type: 'ping'; readonly now: number } | { readonly type: 'data'; readonly now: number };

/**
 * Commands of the policy: a warn `ping_flood` `{strikes}` diagnostic and a
 * close with 1008.
 */
export type PingPolicyCommand = CloseTransport | Diagnostic;

const FRESH: PingPolicyState = /* @__PURE__ */ Object.freeze({ lastPingAt: null, strikes: 0, violated: false });

const FLOOD_REASON = /^ping_flood(?: min_interval_ms=(0|[1-9][0-9]{0,9}))?$/;

/**
 * The close reason of a ping flood (B13), one copy for both ends: `ping_flood min_interval_ms=<n>`, the server's
 * minimum in it, so that the client slows down to it in one step (at most 123 bytes, as a close reason must be).
 */
export function pingFloodReason(minIntervalMs: number): string {
  return `ping_flood min_interval_ms=${String(Math.round(minIntervalMs))}`;
}

/**
 * Reads a close reason as a ping flood: `null` when it is not one; `minIntervalMs` when the server said its minimum
 * (`null` for a bare `ping_flood`, from servers that do not say).
 */
export function readPingFloodReason(reason: string): { readonly minIntervalMs: number | null } | null {
  const match = FLOOD_REASON.exec(reason);
  if (match === null) return null;
  return { minIntervalMs: match[1] === undefined ? null : Number(match[1]) };
}

/**
 * A peer with no pings and no strikes.
 */
export function createPingPolicyState(): PingPolicyState {
  return FRESH;
}

/**
 * Applies one event; appends commands to `out` and returns the next state
 * (the same object when nothing changed). Once violated, the peer stays
 * violated and nothing more is emitted.
 */
export function pingPolicyStep(
  state: PingPolicyState,
  config: PingPolicyConfig,
  event: PingPolicyEvent,
  out: { push(command: PingPolicyCommand): unknown },
): PingPolicyState {
  if (state.violated) return state;
  if (event.type === 'data') {
    return state.strikes === 0 ? state : { lastPingAt: state.lastPingAt, strikes: 0, violated: false };
  }
  const tooSoon = state.lastPingAt !== null && event.now - state.lastPingAt < config.minPingIntervalMs;
  const strikes = tooSoon ? state.strikes + 1 : state.strikes;
  if (strikes > config.maxPingStrikes) {
    out.push(diagnostic('warn', 'ping_flood', { strikes }));
    out.push({ type: 'close', reason: 'ping_flood', code: CLOSE_CODES.policyViolation, terminate: false, text: pingFloodReason(config.minPingIntervalMs) });
    return { lastPingAt: event.now, strikes, violated: true };
  }
  return { lastPingAt: event.now, strikes, violated: false };
}
