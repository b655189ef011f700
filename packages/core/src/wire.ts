/**
 * The resumable session's wire format, version 1 (spec B14), in one copy for
 * both ends: what goes in the URL, how a control frame is written and read,
 * and how application text is escaped so that nothing an application sends
 * is ever taken for a control frame. `docs/resume-protocol.md` is the prose
 * version, written for someone implementing a peer in another language.
 *
 * - Negotiation is in the URL (browsers cannot set headers): the client asks
 *   with `ka=1`, and on a reconnect presents `ka_s` (its session) and
 *   `ka_d` (how many of the server's messages it has delivered).
 * - A server that speaks it answers with a hello, the first frame of the
 *   connection. A server that does not ignores the parameters; the client
 *   falls back when the first frame is anything else, or nothing comes.
 * - Application messages are numbered implicitly: after the hello, the n-th
 *   data frame a side writes on a connection carries number `start + n`,
 *   where `start` is what the other side said it had delivered. A WebSocket
 *   connection is ordered and reliable, so the number costs no bytes.
 * - Acknowledgements are cumulative, and ride on keep-alives: the payload of
 *   a protocol ping (decimal ASCII), or the heartbeat message itself.
 */

/** The protocol version this code speaks. */
export const RESUME_PROTOCOL_VERSION = 1;

/** The URL query parameters of a resuming client (names kept short: they go on every connection). */
export const RESUME_PARAMS = /* @__PURE__ */ Object.freeze({
  /** `1`: the client speaks version 1 and asks for a resumable session. */
  version: 'ka',
  /** The session to resume (as the server's hello named it). */
  session: 'ka_s',
  /** How many of the server's messages the client has delivered (cumulative). */
  delivered: 'ka_d',
  /** `1`: the client reads protocol ping payloads, so the server's acknowledgements may ride on its pings. */
  pings: 'ka_p',
} as const);

/** The first character of every control frame (U+0006, ASCII ACK). Application text starting with it is escaped. */
export const CONTROL_PREFIX = '\u0006';

/** The longest session id a peer accepts: 1 to 64 characters of `A-Z a-z 0-9 _ -`. */
export const MAX_SESSION_ID_LENGTH = 64;

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const COUNT = /^(0|[1-9][0-9]{0,15})$/;

/** What a client asks for in its URL: a new session (`session` null) or the resumption of one. */
export interface ResumeRequest {
  /** The session to resume, or `null` for a new one. */
  readonly session: string | null;
  /** How many of the server's messages the client has delivered. */
  readonly delivered: number;
  /** Whether the client reads protocol ping payloads. */
  readonly pings: boolean;
}

/** How a server answered: a `new` session, or the `resumed` one the client presented. */
export type HelloStatus = 'new' | 'resumed';

/** The server's hello: the session's id and how many of the client's messages it has delivered. */
export interface Hello {
  readonly status: HelloStatus;
  readonly session: string;
  readonly delivered: number;
}

/**
 * A text frame of a resumed connection, read:
 * - `data`: application text (unescaped);
 * - `hello`: the server's hello;
 * - `heartbeat`: a keep-alive message carrying the sender's acknowledgement (answered by the heartbeat-answer rule);
 * - `ack`: an acknowledgement on its own (proof of life, never answered);
 * - `invalid`: a control frame this version cannot read (a protocol error of the peer).
 */
export type ResumeText =
  | { readonly kind: 'data'; readonly text: string }
  | ({ readonly kind: 'hello' } & Hello)
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

/** The query parameters that ask for `request`, in order, as `[name, value]` pairs. */
export function resumeQuery(request: ResumeRequest): readonly (readonly [string, string])[] {
  const params: (readonly [string, string])[] = [[RESUME_PARAMS.version, String(RESUME_PROTOCOL_VERSION)]];
  if (request.session !== null) {
    params.push([RESUME_PARAMS.session, request.session], [RESUME_PARAMS.delivered, String(request.delivered)]);
  }
  if (request.pings) params.push([RESUME_PARAMS.pings, '1']);
  return params;
}

/**
 * Reads a client's resume request from its query parameters (`get` returns a parameter or `null`): `null` when the
 * client did not ask (a plain client), `'invalid'` when it asked in a way this version cannot read (an unknown
 * version, a malformed session or count).
 */
export function readResumeQuery(get: (name: string) => string | null): ResumeRequest | 'invalid' | null {
  const version = get(RESUME_PARAMS.version);
  if (version === null) return null;
  if (version !== String(RESUME_PROTOCOL_VERSION)) return 'invalid';
  const session = get(RESUME_PARAMS.session);
  const deliveredText = get(RESUME_PARAMS.delivered);
  const pings = get(RESUME_PARAMS.pings) === '1';
  if (session === null) return deliveredText === null ? { session: null, delivered: 0, pings } : 'invalid';
  const delivered = deliveredText === null ? null : parseCount(deliveredText);
  if (!isSessionId(session) || delivered === null) return 'invalid';
  return { session, delivered, pings };
}

/** The server's hello frame. */
export function encodeHello(hello: Hello): string {
  return `${CONTROL_PREFIX}H${RESUME_PROTOCOL_VERSION} ${hello.status} ${hello.session} ${hello.delivered}`;
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
  return INVALID;
}

function readHello(body: string): ResumeText {
  const [version, status, session, deliveredText, ...rest] = body.split(' ');
  if (version !== String(RESUME_PROTOCOL_VERSION) || rest.length > 0) return INVALID;
  if (status !== 'new' && status !== 'resumed') return INVALID;
  const delivered = deliveredText === undefined ? null : parseCount(deliveredText);
  if (!isSessionId(session) || delivered === null) return INVALID;
  return { kind: 'hello', status, session, delivered };
}
