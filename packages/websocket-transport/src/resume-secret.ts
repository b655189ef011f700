import { sha256 } from '@noble/hashes/sha2.js';

/**
 * The secrets of resumable sessions (spec B17), runtime-neutral: ids and secrets are 128 random bits from the
 * platform's `crypto.getRandomValues`, written as base64url; a session keeps (and a store persists) only the SHA-256
 * digest of its secret. A digest is enough to check a proof and useless to resume with: the secret is 128 random
 * bits, so a plain hash needs no salt or stretching.
 */

const encoder = new TextEncoder();

/**
 * `bytes` as unpadded base64url, one flat string (built with `btoa`, not by concatenation: a concatenated string stays
 * a rope of small pieces in V8, several hundred bytes for what a session keeps for its lifetime).
 */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 128 random bits as base64url (22 characters): a session id, or a session secret. */
export function randomToken(): string {
  return base64url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

/** The digest a session keeps of its secret: SHA-256 of its UTF-8 bytes, as base64url (43 characters). */
export function secretDigest(secret: string): string {
  return base64url(sha256(encoder.encode(secret)));
}
