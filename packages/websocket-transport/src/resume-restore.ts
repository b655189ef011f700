import { restoreDeliveryState, utf8Length, type DeliveryConfig, type DeliveryState } from '@keepalive/core';
import type { StoredSession } from './resume-store.js';
import type { SessionMessage } from './resume-types.js';

/**
 * Reading back a session another process held (spec B14): what its hub's store returned, checked before the hub
 * trusts any of it.
 */

/** A digest as `secretDigest` writes it: SHA-256 as unpadded base64url. */
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/** A session another process held, read back from the hub's store: its delivery state, unacknowledged payloads and digest. */
export interface RestoredSession {
  readonly state: DeliveryState;
  readonly unacked: readonly SessionMessage[];
  readonly proof: string;
}

/** Reads a stored session back; `null` when what was stored cannot be a session (a delivery's state and a digest). */
export function restoreSession(config: DeliveryConfig, stored: StoredSession, now: number): RestoredSession | null {
  const given: unknown = stored.unacked;
  const proof: unknown = stored.proof;
  if (!Array.isArray(given) || typeof proof !== 'string' || !DIGEST.test(proof)) return null;
  const unacked: SessionMessage[] = [];
  const sizes: number[] = [];
  for (const payload of given as readonly unknown[]) {
    if (typeof payload === 'string') sizes.push(utf8Length(payload));
    else if (payload instanceof Uint8Array) sizes.push(payload.byteLength);
    else return null;
    unacked.push(payload);
  }
  const state = restoreDeliveryState(config, { ...stored, unacked: sizes }, now);
  return state === null ? null : { state, unacked, proof };
}
