/**
 * Liveness (spec B5): after a keep-alive is sent, proof of life (a pong or
 * any inbound traffic) is expected within a timeout; when none comes, the
 * peer is dead. The session machine embeds this rule; this module also
 * exposes it on its own for drivers that track many peers (a server).
 */

/**
 * The liveness state of one peer.
 */
export interface LivenessState {
  /** When proof of life is due, or `null` while nothing is owed. */
  readonly deadline: number | null;
  /** Monotonic time of the last proof of life (or of creation). */
  readonly lastProofAt: number;
}

/**
 * The verdict for a peer at a given time.
 */
export type LivenessVerdict = 'alive' | 'waiting' | 'dead';

/**
 * The proof-of-life deadline after sending a keep-alive at `now`. An
 * unanswered keep-alive keeps its earlier deadline, so repeated keep-alives
 * never postpone detection.
 */
export function pongDeadlineAfterSend(current: number | null, now: number, timeoutMs: number): number {
  return current ?? now + timeoutMs;
}

/**
 * A fresh liveness state; the peer counts as alive at `now`.
 */
export function createLiveness(now: number): LivenessState {
  return { deadline: null, lastProofAt: now };
}

/**
 * Records that a keep-alive was sent at `now`.
 */
export function keepaliveSent(state: LivenessState, now: number, timeoutMs: number): LivenessState {
  if (state.deadline !== null) return state;
  return { deadline: pongDeadlineAfterSend(null, now, timeoutMs), lastProofAt: state.lastProofAt };
}

/**
 * Records proof of life at `now` (a pong, a heartbeat reply or any message).
 */
export function proofOfLife(state: LivenessState, now: number): LivenessState {
  if (state.deadline === null && state.lastProofAt >= now) return state;
  return { deadline: null, lastProofAt: Math.max(state.lastProofAt, now) };
}

/**
 * Whether the peer is alive (nothing owed), waiting (a keep-alive is
 * unanswered but still within its timeout) or dead (past the deadline).
 */
export function checkLiveness(state: LivenessState, now: number): LivenessVerdict {
  if (state.deadline === null) return 'alive';
  return now >= state.deadline ? 'dead' : 'waiting';
}

/**
 * The worst-case time from a peer's death to its detection when keep-alives
 * go out every `intervalMs` and each allows `timeoutMs` for an answer: the
 * peer may die just after answering, the next keep-alive leaves at most one
 * interval later, and its answer is due one timeout after that.
 */
export function detectionBound(intervalMs: number, timeoutMs: number): number {
  return intervalMs + timeoutMs;
}
