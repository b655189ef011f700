import type { ResumeSocket } from '../resume-server.js';

/**
 * The session hub's tests' socket double: records the frames sent (binary ones as a `Uint8Array` copy) until it is
 * closed, and the first close; with `failClose`, closing throws as a socket already gone would.
 */
export class Wire implements ResumeSocket {
  readonly sent: (string | Uint8Array)[] = [];
  closedWith: readonly [number, string] | null = null;
  failClose = false;
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.closedWith !== null) return;
    this.sent.push(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
  }
  close(code: number, reason: string): void {
    if (this.failClose) throw new Error('gone');
    this.closedWith ??= [code, reason];
  }
}

/** The hub's query reader over fixed parameters (what an adapter reads from the upgrade request's URL). */
export const query =
  (params: Record<string, string>) =>
  (name: string): string | null =>
    params[name] ?? null;
