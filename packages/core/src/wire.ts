/**
 * The resumable session's wire format, version 2 (spec B14, B17), in one copy
 * for both ends: what goes in the URL, how a control frame is written and
 * read, and how application text is escaped so that nothing an application
 * sends is ever taken for a control frame. `docs/resume-protocol.md` is the
 * prose version, written for someone implementing a peer in another language.
 *
 * - Negotiation is in the URL (browsers cannot set headers): the client asks
 *   with `ka=2`, and on a reconnect names its session with `ka_s`. The id is
 *   public (proxies log URLs; a load balancer may route on it): on its own it
 *   resumes nothing.
 * - A server that speaks it answers with a hello, the first frame of the
 *   connection. A new session's hello carries the session's **secret**; a
 *   connection that names a session gets a challenge instead, and the client
 *   answers it in-band with its secret and how many of the server's messages
 *   it delivered (the proof). Only then, and only once the application admitted
 *   the connection, does the server say `resumed` (or `new`: forgotten). The
 *   secret never travels in a URL or a header.
 * - A server that does not speak it ignores the parameters; the client falls
 *   back when the first frame is anything else, or nothing comes.
 * - Application messages are numbered implicitly: after the hello, the n-th
 *   data frame a side writes on a connection carries number `start + n`,
 *   where `start` is what the other side said it had delivered. A WebSocket
 *   connection is ordered and reliable, so the number costs no bytes.
 * - Acknowledgements are cumulative, and ride on keep-alives: the payload of
 *   a protocol ping (decimal ASCII), or the heartbeat message itself.
 */

/** The protocol version this code speaks. */
export const RESUME_PROTOCOL_VERSION = 2;

/** The URL query parameters of a resuming client (names kept short: they go on every connection). */
export const RESUME_PARAMS = /* @__PURE__ */ Object.freeze({
  /** `2`: the client speaks version 2 and asks for a resumable session. */
  version: 'ka',
  /** The session to resume, as the server's hello named it (public: resuming it needs the secret, given in-band). */
  session: 'ka_s',
  /** `1`: the client reads protocol ping payloads, so the server's acknowledgements may ride on its pings. */
  pings: 'ka_p',
} as const);

/** The first character of every control frame (U+0006, ASCII ACK). Application text starting with it is escaped. */
export const CONTROL_PREFIX = '\u0006';

/** The longest session id a peer accepts: 1 to 64 characters of `A-Z a-z 0-9 _ -`. */
export const MAX_SESSION_ID_LENGTH = 64;

/**
 * A session secret: 22 to 128 characters of `A-Z a-z 0-9 _ -` (the reference server: 22 characters of base64url,
 * 128 random bits; never shorter, so that guessing one is hopeless).
 */
const SECRET = /^[A-Za-z0-9_-]{22,128}$/;
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const COUNT = /^(0|[1-9][0-9]{0,15})$/;

/** What a client asks for in its URL: a new session (`session` null) or the resumption of one (proved in-band). */
export interface ResumeRequest {
  /** The session to resume, or `null` for a new one. */
  readonly session: string | null;
  /** Whether the client reads protocol ping payloads. */
  readonly pings: boolean;
}

/**
 * Why a URL's resume request cannot be served: `legacy` (wire format version 1, refused: its session ids were bearer
 * credentials in the URL) or `invalid` (an unknown version, a malformed id, a parameter out of place).
 */
export type ResumeQueryProblem = 'legacy' | 'invalid';

/** How a server answered: a `new` session, the `resumed` one the client proved, or a challenge (`prove`). */
export type HelloStatus = 'new' | 'resumed' | 'prove';

/**
 * The server's hello, the first frame of a connection (and, after a challenge, the frame that answers the proof):
 * - `new`: a new session, its id and its secret (what the client proves on later connections); `delivered` is 0;
 * - `resumed`: the session the client proved, and how many of the client's messages the server has delivered;
 * - `prove`: the client named a session: it must prove it holds the secret before anything else happens.
 */
export type Hello =
  | { readonly status: 'new'; readonly session: string; readonly secret: string; readonly delivered: 0 }
  | { readonly status: 'resumed'; readonly session: string; readonly delivered: number }
  | { readonly status: 'prove' };

/** A client's proof: the session's secret, and how many of the server's messages it has delivered. */
export interface Proof {
  readonly secret: string;
  readonly delivered: number;
}

/**
 * A text frame of a resumed connection, read:
 * - `data`: application text (unescaped);
 * - `hello`: the server's hello (or challenge);
 * - `proof`: the client's answer to a challenge (read by servers only);
 * - `heartbeat`: a keep-alive message carrying the sender's acknowledgement (answered by the heartbeat-answer rule);
 * - `ack`: an acknowledgement on its own (proof of life, never answered);
 * - `invalid`: a control frame this version cannot read (a protocol error of the peer).
 */
export type ResumeText =
  | { readonly kind: 'data'; readonly text: string }
  | ({ readonly kind: 'hello' } & Hello)
  | ({ readonly kind: 'proof' } & Proof)
  | { readonly kind: 'heartbeat'; readonly ack: number }
  | { readonly kind: 'ack'; readonly ack: number }
  | { readonly kind: 'invalid' };

const INVALID: ResumeText = /* @__PURE__ */ Object.freeze({ kind: 'invalid' });

/** Reads a cumulative count (`0`, or a decimal integer without leading zeros, at most 2^53 - 1); `null` if it is not one. */
export function parseCount(text: string): number | null {
  if (!COUNT.test(text)) return null;
  const value = Number(text);
  return value <= Number.MAX_SAFE_INTEGER ? value : null;
}

/** Whether `id` is a valid session id. */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID.test(id);
}

/** Whether `secret` has the shape of a session secret (22 to 128 characters of `A-Z a-z 0-9 _ -`). */
export function isSessionSecret(secret: unknown): secret is string {
  return typeof secret === 'string' && SECRET.test(secret);
}

/** The query parameters that ask for `request`, in order, as `[name, value]` pairs. The secret is never one. */
export function resumeQuery(request: ResumeRequest): readonly (readonly [string, string])[] {
  const params: (readonly [string, string])[] = [[RESUME_PARAMS.version, String(RESUME_PROTOCOL_VERSION)]];
  if (request.session !== null) params.push([RESUME_PARAMS.session, request.session]);
  if (request.pings) params.push([RESUME_PARAMS.pings, '1']);
  return params;
}

/**
 * Reads a client's resume request from its query parameters (`get` returns a parameter or `null`): `null` when the
 * client did not ask (a plain client), a {@link ResumeQueryProblem} when it asked in a way this version does not
 * serve.
 */
export function readResumeQuery(get: (name: string) => string | null): ResumeRequest | ResumeQueryProblem | null {
  const version = get(RESUME_PARAMS.version);
  if (version === null) return null;
  if (version === '1') return 'legacy';
  if (version !== String(RESUME_PROTOCOL_VERSION)) return 'invalid';
  const session = get(RESUME_PARAMS.session);
  const pings = get(RESUME_PARAMS.pings) === '1';
  if (session === null) return { session: null, pings };
  return isSessionId(session) ? { session, pings } : 'invalid';
}

/** The server's hello frame (see {@link Hello}). */
export function encodeHello(hello: Hello): string {
  const head = `${CONTROL_PREFIX}H${RESUME_PROTOCOL_VERSION}`;
  switch (hello.status) {
    case 'new':
      return `${head} new ${hello.session} ${hello.secret}`;
    case 'resumed':
      return `${head} resumed ${hello.session} ${hello.delivered}`;
    case 'prove':
      return `${head} prove`;
  }
}

/** The client's answer to a challenge: `U+0006 "P" secret SP delivered`. Written only in-band, never in a URL. */
export function encodeProof(proof: Proof): string {
  return `${CONTROL_PREFIX}P${proof.secret} ${proof.delivered}`;
}

/** A keep-alive message carrying `ack` (the heartbeat of a resumed connection). */
export function encodeHeartbeat(ack: number): string {
  return `${CONTROL_PREFIX}A${ack}`;
}

/** An acknowledgement on its own. */
export function encodeAck(ack: number): string {
  return `${CONTROL_PREFIX}a${ack}`;
}

/** The payload of a protocol ping carrying `ack`: decimal ASCII, at most 16 bytes (a ping may carry 125). */
export function encodePingAck(ack: number): string {
  return String(ack);
}

/** Reads a protocol ping's payload as an acknowledgement: `null` when it carries none (empty, or not a count). */
export function readPingAck(payload: string): number | null {
  return payload === '' ? null : parseCount(payload);
}

/** Escapes application text for a resumed connection: text starting with the control prefix gets one more. */
export function escapeText(text: string): string {
  return text.startsWith(CONTROL_PREFIX) ? CONTROL_PREFIX + text : text;
}

/** Reads a text frame of a resumed connection (see {@link ResumeText}). */
export function readResumeText(text: string): ResumeText {
  if (!text.startsWith(CONTROL_PREFIX)) return { kind: 'data', text };
  const kind = text.charAt(1);
  if (kind === CONTROL_PREFIX) return { kind: 'data', text: text.slice(1) };
  if (kind === 'A' || kind === 'a') {
    const ack = parseCount(text.slice(2));
    if (ack === null) return INVALID;
    return kind === 'A' ? { kind: 'heartbeat', ack } : { kind: 'ack', ack };
  }
  if (kind === 'H') return readHello(text.slice(2));
  if (kind === 'P') return readProof(text.slice(2));
  return INVALID;
}

function readHello(body: string): ResumeText {
  const [version, status, session, last, ...rest] = body.split(' ');
  if (version !== String(RESUME_PROTOCOL_VERSION) || rest.length > 0) return INVALID;
  if (status === 'prove') return session === undefined ? { kind: 'hello', status } : INVALID;
  if (!isSessionId(session) || last === undefined) return INVALID;
  if (status === 'new') return isSessionSecret(last) ? { kind: 'hello', status, session, secret: last, delivered: 0 } : INVALID;
  const delivered = status === 'resumed' ? parseCount(last) : null;
  return delivered === null ? INVALID : { kind: 'hello', status: 'resumed', session, delivered };
}

function readProof(body: string): ResumeText {
  const space = body.indexOf(' ');
  const secret = body.slice(0, space);
  const delivered = space < 0 ? null : parseCount(body.slice(space + 1));
  return delivered === null || !isSessionSecret(secret) ? INVALID : { kind: 'proof', secret, delivered };
}

/**
 * Compares two strings in time that depends only on their lengths, not on where they differ (for secrets and their
 * digests: an attacker who times the comparison learns nothing about how much of a guess was right).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i % (b.length || 1));
  return diff === 0;
}
