import { once } from 'node:events';
import WebSocket from 'ws';
import { Queue, within } from 'keepalive-test-support';

/**
 * A resuming client of wire format v2 written by hand from docs/resume-protocol.md, for the tests: a raw `ws`
 * socket that sorts what the server sends by kind, and answers a challenge with the proof it was given (or stays
 * silent, as someone who read the URL in a log and has no secret would).
 */

export const CONTROL = '\u0006';
export type Frame = string | Uint8Array;

export interface Hello {
  readonly status: 'new' | 'resumed';
  readonly session: string;
  readonly delivered: number;
  /** The secret (`new` only): what the client proves when it comes back. */
  readonly secret?: string;
}

/** What a resuming client proves when challenged: the session's secret and how many of the server's messages it delivered. */
export interface ProofOf {
  readonly secret: string;
  readonly delivered: number;
}

/**
 * A resuming client written by hand from the wire format: it sorts what the server sends by kind, and answers the
 * server's challenge with `proof` (none: it stays silent, as an attacker without the secret would).
 */
export class RawClient {
  readonly hellos = new Queue<Hello>();
  /** Challenges (`\u0006H2 prove`) received. */
  challenges = 0;
  /** Application data, unescaped. */
  readonly data = new Queue<Frame>();
  /** `\u0006A<n>`: the server's heartbeat answers. */
  readonly replies = new Queue<number>();
  /** `\u0006a<n>`: standalone acknowledgements. */
  readonly acks = new Queue<number>();
  readonly others = new Queue<string>();
  readonly pings = new Queue<string>();
  readonly closed: Promise<{ code: number; reason: string }>;
  delivered = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly proof: ProofOf | null = null,
  ) {
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    ws.on('ping', (payload: Buffer) => this.pings.push(payload.toString()));
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.delivered++;
        this.data.push(new Uint8Array(raw));
        return;
      }
      const text = raw.toString();
      if (text.startsWith(CONTROL + CONTROL) || !text.startsWith(CONTROL)) {
        this.delivered++;
        this.data.push(text.startsWith(CONTROL) ? text.slice(1) : text);
        return;
      }
      const body = text.slice(1);
      const fresh = /^H2 new ([A-Za-z0-9_-]{1,64}) ([A-Za-z0-9_-]{22,128})$/.exec(body);
      const resumed = /^H2 resumed ([A-Za-z0-9_-]{1,64}) (0|[1-9]\d*)$/.exec(body);
      const count = /^([Aa])(0|[1-9]\d*)$/.exec(body);
      if (body === 'H2 prove') {
        this.challenges++;
        if (this.proof !== null) ws.send(`${CONTROL}P${this.proof.secret} ${String(this.proof.delivered)}`);
      } else if (fresh !== null) this.hellos.push({ status: 'new', session: fresh[1]!, delivered: 0, secret: fresh[2]! });
      else if (resumed !== null) this.hellos.push({ status: 'resumed', session: resumed[1]!, delivered: Number(resumed[2]) });
      else if (count?.[1] === 'A') this.replies.push(Number(count[2]));
      else if (count?.[1] === 'a') this.acks.push(Number(count[2]));
      else this.others.push(text);
    });
  }

  /** Sends application text, escaped as the wire format says. */
  say(text: string): void {
    this.ws.send(text.startsWith(CONTROL) ? CONTROL + text : text);
  }

  /**
   * A heartbeat carrying `ack`; resolves with the server's answer (its delivered count). Frames are ordered, so
   * once it resolves the server has read everything sent before, and what it wrote before answering has arrived.
   */
  async barrier(ack = 0): Promise<number> {
    this.ws.send(`${CONTROL}A${ack}`);
    return this.replies.next('heartbeat answer');
  }
}

/** Opens a raw client on `url` + `query` (answering a challenge with `proof`); resolves once the socket is open. */
export async function openRaw(url: string, query: string, proof: ProofOf | null = null, options?: WebSocket.ClientOptions): Promise<RawClient> {
  const ws = new WebSocket(`${url}/${query}`, options);
  const client = new RawClient(ws, proof);
  await within(once(ws, 'open'), 5_000, 'open');
  return client;
}
