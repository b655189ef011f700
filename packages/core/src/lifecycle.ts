import { diagnostic } from './commands.js';
import type { ConnectionEvent } from './kernel-types.js';
import type { Host, Layer } from './layer.js';

/**
 * The platform's lifecycle (browsers' `online` / `offline` and page visibility): a layer. While the network is down no
 * attempt starts (a waiting reconnect holds its delay); back online, a waiting reconnect starts at once and an open
 * connection is checked (one keep-alive, its answer due within `pongTimeoutMs`: B5). A page visible again checks an
 * open connection the same way, and so does going offline (the connection may be gone with the network).
 */

/** The lifecycle layer's slice. */
export interface LifecycleState {
  /** Whether the network is up as far as the platform says (`network` events). */
  online: boolean;
}

/** The lifecycle layer (see the module's description); `connection.ts` runs it in every default client. */
export const lifecycleLayer: Layer<LifecycleState> = /* @__PURE__ */ Object.freeze({
  name: 'lifecycle',
  init: (): LifecycleState => ({ online: true }),
  holds: (s: Readonly<LifecycleState>): boolean => !s.online,
  event(host: Host, s: LifecycleState, event: ConnectionEvent): boolean {
    if (event.type === 'visibility') {
      if (event.visible) check(host, 'visible');
      return true;
    }
    if (event.type !== 'network') return false;
    const { online } = event;
    if (online === s.online) return true;
    s.online = online;
    host.out.push(diagnostic('info', online ? 'online' : 'offline', { phase: host.k.phase }));
    // Back online with a reconnect waiting: the wait was for the network, not for the server. Go now.
    if (online && host.k.phase === 'backoff') host.reconnectNow();
    else check(host, online ? 'online' : 'offline');
    return true;
  },
});

/** Checks an open connection now (B5): one keep-alive, whose answer is due within `pongTimeoutMs`. */
function check(host: Host, trigger: 'visible' | 'online' | 'offline'): void {
  if (host.k.phase !== 'open') return;
  host.out.push(diagnostic('debug', 'liveness_check', { trigger }));
  host.signal();
}
