/**
 * The browser's lifecycle as facts for the connection machine: the network
 * going down and coming back (`offline` / `online`), the page becoming
 * hidden or visible (`visibilitychange`), and the page going away
 * (`pagehide`). Outside a browser page (Node, Bun, Deno, workers without a
 * document) there is nothing to watch and nothing is listened to.
 */

/** One lifecycle fact. */
export type LifecycleFact = 'online' | 'offline' | 'visible' | 'hidden' | 'pagehide';

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

interface BrowserGlobals extends Partial<EventTargetLike> {
  readonly document?: Partial<EventTargetLike> & { readonly visibilityState?: string };
  readonly navigator?: { readonly onLine?: boolean };
}

/**
 * Watches the page's lifecycle and reports each fact; returns the function
 * that stops watching. Reports `offline` at once when the page starts
 * offline.
 */
export function watchLifecycle(report: (fact: LifecycleFact) => void): () => void {
  const page = globalThis as BrowserGlobals;
  const document = page.document;
  if (typeof page.addEventListener !== 'function' || typeof page.removeEventListener !== 'function') return noop;
  if (typeof document?.addEventListener !== 'function' || typeof document.removeEventListener !== 'function') return noop;
  const target = page as EventTargetLike;
  const doc = document as EventTargetLike & { readonly visibilityState?: string };
  const onOnline = (): void => {
    report('online');
  };
  const onOffline = (): void => {
    report('offline');
  };
  const onVisibility = (): void => {
    report(doc.visibilityState === 'hidden' ? 'hidden' : 'visible');
  };
  const onPagehide = (): void => {
    report('pagehide');
  };
  target.addEventListener('online', onOnline);
  target.addEventListener('offline', onOffline);
  target.addEventListener('pagehide', onPagehide);
  doc.addEventListener('visibilitychange', onVisibility);
  if (page.navigator?.onLine === false) report('offline');
  return () => {
    target.removeEventListener('online', onOnline);
    target.removeEventListener('offline', onOffline);
    target.removeEventListener('pagehide', onPagehide);
    doc.removeEventListener('visibilitychange', onVisibility);
  };
}

function noop(): void {
  // Not a browser page: nothing was watched.
}
