import { sha256 } from '@noble/hashes/sha2.js';

/**
 * The secrets of resumable sessions (spec B17), runtime-neutral: ids and secrets are 128 random bits from the
 * platform's `crypto.getRandomValues`, written as base64url; a session keeps (and a store persists) only the SHA-256
 * digest of its secret. A digest is enough to check a proof and useless to resume with: the secret is 128 random
 * bits, so a plain hash needs no salt or stretching.
 */

const encoder = new TextEncoder();

/** The base64url alphabet (RFC 4648 §5). */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * `bytes` as unpadded base64url, one flat string of its own: written from character codes in one call, neither
 * concatenated (a rope of small pieces in V8) nor cut from a padded encoding (a slice keeps its whole parent alive),
 * since a session keeps its id and the digest of its secret for its lifetime.
 */
export function base64url(bytes: Uint8Array): string {
  const codes: number[] = [];
  for (let i = 0; i < bytes.length; i += 3) {
    const left = bytes.length - i;
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    codes.push(ALPHABET.charCodeAt(n >>> 18), ALPHABET.charCodeAt((n >>> 12) & 63));
    if (left > 1) codes.push(ALPHABET.charCodeAt((n >>> 6) & 63));
    if (left > 2) codes.push(ALPHABET.charCodeAt(n & 63));
  }
  return String.fromCharCode(...codes);
}

/** 128 random bits as base64url (22 characters): a session id, or a session secret. */
export function randomToken(): string {
  return base64url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

/** The digest a session keeps of its secret: SHA-256 of its UTF-8 bytes, as base64url (43 characters). */
export function secretDigest(secret: string): string {
  return base64url(sha256(encoder.encode(secret)));
}
