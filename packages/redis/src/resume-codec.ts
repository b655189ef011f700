import type { SessionMessage, StoredSession } from '@keepalive/websocket-transport';

/**
 * A resumable session's state as the Redis session store keeps it: compact JSON
 * `{"v":2,"p":…,"d":…,"a":…,"t":…,"m":[[0,"text"],[1,"base64"],…]}` (the digest of the session's secret,
 * delivered, acknowledged, transmitted, and the unacknowledged messages: text as is, binary as base64). The
 * digest is the SHA-256 of the secret as unpadded base64url (43 characters), never the secret itself (B17): what is
 * stored is enough to check a client's proof and useless to resume with. Decoding never throws: foreign or corrupt
 * data is a problem name. A value of version 1 (written before sessions had secrets: no digest) is
 * `unknown_version`, never a session without a digest.
 */

const VERSION = 2;

/** The digest of a session's secret as the hub keeps it (`secretDigest`): SHA-256 as unpadded base64url. */
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/** Whether `value` has the shape of the digest of a session's secret (43 characters of base64url). */
export function isSecretDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/**
 * Encodes a stored session. Throws a `TypeError` when `stored.proof` is not a digest (43 characters of base64url):
 * a session secret (22 characters) or anything else is never written.
 */
export function encodeStoredSession(stored: StoredSession): string {
  if (!isSecretDigest(stored.proof)) throw new TypeError('StoredSession.proof is not the digest of a session secret');
  const messages = stored.unacked.map((message) => (typeof message === 'string' ? [0, message] : [1, Buffer.from(bytesOf(message)).toString('base64')]));
  return JSON.stringify({ v: VERSION, p: stored.proof, d: stored.deliveredThrough, a: stored.ackedThrough, t: stored.transmittedThrough, m: messages });
}

function bytesOf(message: Exclude<SessionMessage, string>): Uint8Array {
  return message instanceof ArrayBuffer ? new Uint8Array(message) : message;
}

/**
 * What decoding found: the stored session, or the problem (`not_json`, `not_an_object`, `unknown_version` (also a
 * value of version 1, which has no digest), `bad_proof` (no digest, or not one of 43 characters of base64url),
 * `bad_field`).
 */
export type DecodedSession =
  | { readonly ok: true; readonly stored: StoredSession }
  | { readonly ok: false; readonly problem: 'not_json' | 'not_an_object' | 'unknown_version' | 'bad_proof' | 'bad_field' };

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Decodes a stored value; never throws. The counters' consistency is the hub's to check (it refuses impossible ones). */
export function decodeStoredSession(text: string): DecodedSession {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not_json' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: 'not_an_object' };
  const record = value as Record<string, unknown>;
  if (record.v !== VERSION) return { ok: false, problem: 'unknown_version' };
  const { p, d, a, t, m } = record;
  if (!isSecretDigest(p)) return { ok: false, problem: 'bad_proof' };
  if (!isCount(d) || !isCount(a) || !isCount(t) || !Array.isArray(m)) return { ok: false, problem: 'bad_field' };
  const unacked: SessionMessage[] = [];
  for (const entry of m as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[1] !== 'string') return { ok: false, problem: 'bad_field' };
    const [kind, payload] = entry as [unknown, string];
    if (kind === 0) unacked.push(payload);
    else if (kind === 1 && /^[A-Za-z0-9+/]*={0,2}$/.test(payload)) unacked.push(new Uint8Array(Buffer.from(payload, 'base64')));
    else return { ok: false, problem: 'bad_field' };
  }
  return { ok: true, stored: { deliveredThrough: d, ackedThrough: a, transmittedThrough: t, unacked, proof: p } };
}
