import type { Host, Layer } from './layer.js';

/**
 * Lazy park (B10's `parked` phase, `reconnect.whenIdle: 'lazy'`): a layer. A connection lost while no work is in
 * flight, nothing is queued and nothing is held unacknowledged is not worth re-establishing yet: the kernel parks it
 * (no socket, nothing armed) until work starts or a message is sent, then connects at once. A backoff delay that ends
 * in the same condition parks too. Without this layer (`whenIdle: 'eager'`) every loss reconnects with backoff.
 */

/** The lazy-park layer's slice: nothing of its own (the kernel keeps when it parked). */
export type LazyParkState = Record<string, never>;

/** The lazy-park layer (see the module's description). */
export const lazyParkLayer: Layer<LazyParkState> = /* @__PURE__ */ Object.freeze({
  name: 'lazy-park',
  init: (): LazyParkState => ({}),
  parks: (host: Host): boolean => host.idle(),
});
