import type { SessionMessage, StoredSession } from '@keepalive/websocket-transport';

/**
 * A resumable session's state as the Redis session store keeps it: compact JSON
 * `{"v":1,"d":…,"a":…,"t":…,"m":[[0,"text"],[1,"base64"],…]}` (delivered, acknowledged, transmitted, and the
 * unacknowledged messages: text as is, binary as base64). Decoding never throws: foreign or corrupt data is a
 * problem name.
 */

const VERSION = 1;

/** Encodes a stored session. */
export function encodeStoredSession(stored: StoredSession): string {
  const messages = stored.unacked.map((message) => (typeof message === 'string' ? [0, message] : [1, Buffer.from(bytesOf(message)).toString('base64')]));
  return JSON.stringify({ v: VERSION, d: stored.deliveredThrough, a: stored.ackedThrough, t: stored.transmittedThrough, m: messages });
}

function bytesOf(message: Exclude<SessionMessage, string>): Uint8Array {
  return message instanceof ArrayBuffer ? new Uint8Array(message) : message;
}

/**
 * What decoding found: the stored session, or the problem (`not_json`, `not_an_object`, `unknown_version`,
 * `bad_field`).
 */
export type DecodedSession = { readonly ok: true; readonly stored: StoredSession } | { readonly ok: false; readonly problem: 'not_json' | 'not_an_object' | 'unknown_version' | 'bad_field' };

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
  const { d, a, t, m } = record;
  if (!isCount(d) || !isCount(a) || !isCount(t) || !Array.isArray(m)) return { ok: false, problem: 'bad_field' };
  const unacked: SessionMessage[] = [];
  for (const entry of m as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[1] !== 'string') return { ok: false, problem: 'bad_field' };
    const [kind, payload] = entry as [unknown, string];
    if (kind === 0) unacked.push(payload);
    else if (kind === 1 && /^[A-Za-z0-9+/]*={0,2}$/.test(payload)) unacked.push(new Uint8Array(Buffer.from(payload, 'base64')));
    else return { ok: false, problem: 'bad_field' };
  }
  return { ok: true, stored: { deliveredThrough: d, ackedThrough: a, transmittedThrough: t, unacked } };
}
