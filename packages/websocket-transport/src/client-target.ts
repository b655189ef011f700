import { KeepaliveOptionError, utf8Length } from '@keepalive/core';

/**
 * The checks of what every WebSocket client of this package is given (B1), written once for the default client
 * (`client-options.ts`) and the kernel client (`lite.ts`): the target URL, the WebSocket constructor, the
 * subprotocols and the arguments of `close`. Runtime-neutral, with nothing else in the module, so the kernel client
 * bundles only these.
 */

/** The WebSocket constructor: the one given, else the platform's; throws naming `WebSocket` when there is none. */
export function checkWebSocket(given: unknown, platform: unknown): unknown {
  const Ctor = given ?? platform;
  if (typeof Ctor !== 'function') {
    const expected = given === undefined ? 'a WHATWG WebSocket constructor: this runtime has no global WebSocket (on Node 20, install ws)' : 'a WHATWG WebSocket constructor';
    throw new KeepaliveOptionError('WebSocket', Ctor, expected);
  }
  return Ctor;
}

/** The subprotocols to offer: a string, an array of strings (copied), or none. */
export function checkProtocols(protocols: unknown): string | string[] | undefined {
  if (protocols !== undefined && typeof protocols !== 'string' && !(Array.isArray(protocols) && protocols.every((item) => typeof item === 'string'))) {
    throw new KeepaliveOptionError('protocols', protocols, 'a string or an array of strings');
  }
  return typeof protocols === 'string' ? protocols : Array.isArray(protocols) ? [...protocols] : undefined;
}

/** A `ws:`, `wss:`, `http:` or `https:` URL (as a string or a `URL`); the value is never echoed in the error (S10). */
export function parseTarget(target: unknown): string {
  const expected = 'a ws:, wss:, http: or https: URL, or a function returning a socket (or a promise of one)';
  // The value is not echoed: URLs may carry credentials (spec S10).
  let url: URL;
  if (target instanceof URL) url = target;
  else if (typeof target === 'string' && URL.canParse(target)) url = new URL(target);
  else throw new KeepaliveOptionError('target', typeof target === 'string' ? '<unparsable URL>' : target, expected);
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) throw new KeepaliveOptionError('target', `<${url.protocol} URL>`, expected);
  return url.href;
}

/** Validates the arguments of `close(code, reason)`: 1000 or 3000–4999, and a reason of at most 123 UTF-8 bytes. */
export function checkCloseArguments(code: unknown, reason: unknown): { readonly code: number; readonly reason: string } {
  const closeCode = code ?? 1000;
  if (typeof closeCode !== 'number' || !Number.isInteger(closeCode) || (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999))) {
    throw new RangeError(`close(code): invalid code ${typeof closeCode === 'number' ? String(closeCode) : typeof closeCode} (expected 1000 or an integer in [3000, 4999])`);
  }
  const closeReason = reason ?? '';
  if (typeof closeReason !== 'string' || utf8Length(closeReason) > 123) throw new RangeError('close(code, reason): reason must be a string of at most 123 UTF-8 bytes');
  return { code: closeCode, reason: closeReason };
}
