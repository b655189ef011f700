import { sha256 } from '@noble/hashes/sha2.js';

/**
 * The secrets of resumable sessions (spec B17), runtime-neutral: ids and secrets are 128 random bits from the
 * platform's `crypto.getRandomValues`, written as base64url; a session keeps (and a store persists) only the SHA-256
 * digest of its secret. A digest is enough to check a proof and useless to resume with: the secret is 128 random
 * bits, so a plain hash needs no salt or stretching.
 */

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const encoder = new TextEncoder();

/** `bytes` as unpadded base64url. */
export function base64url(bytes: Uint8Array): string {
  let text = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    text += BASE64URL.charAt(n >>> 18) + BASE64URL.charAt((n >>> 12) & 63) + BASE64URL.charAt((n >>> 6) & 63) + BASE64URL.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] as number;
    text += BASE64URL.charAt(n >>> 2) + BASE64URL.charAt((n & 3) << 4);
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
    text += BASE64URL.charAt(n >>> 10) + BASE64URL.charAt((n >>> 4) & 63) + BASE64URL.charAt((n & 15) << 2);
  }
  return text;
}

/** 128 random bits as base64url (22 characters): a session id, or a session secret. */
export function randomToken(): string {
  return base64url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

/** The digest a session keeps of its secret: SHA-256 of its UTF-8 bytes, as base64url (43 characters). */
export function secretDigest(secret: string): string {
  return base64url(sha256(encoder.encode(secret)));
}
