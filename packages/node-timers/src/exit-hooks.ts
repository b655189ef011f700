/**
 * One process `exit` listener for every instance that wants its shutdown
 * report at exit. It is added when the first instance registers and removed
 * when the last one leaves, so any number of instances add one listener.
 */

const pending = new Set<() => void>();

interface ProcessLike {
  on(event: 'exit', listener: () => void): unknown;
  off(event: 'exit', listener: () => void): unknown;
}

/** The process object where the runtime has one (Node, Bun, Deno's compatibility layer); not in browsers. */
function processLike(): ProcessLike | undefined {
  const candidate = (globalThis as { process?: Partial<ProcessLike> }).process;
  return typeof candidate?.on === 'function' && typeof candidate.off === 'function' ? (candidate as ProcessLike) : undefined;
}

function onExit(): void {
  for (const report of [...pending]) {
    try {
      report();
    } catch {
      // An exit hook must not throw.
    }
  }
  pending.clear();
}

/**
 * Registers `report` to run at process exit (one `exit` listener for all of
 * them); returns the unregister function, safe to call more than once.
 */
export function onProcessExit(report: () => void): () => void {
  const host = processLike();
  // No process to exit (a browser): nothing will run at exit.
  if (host === undefined) return noop;
  if (pending.size === 0) host.on('exit', onExit);
  pending.add(report);
  return () => {
    if (!pending.delete(report)) return;
    if (pending.size === 0) host.off('exit', onExit);
  };
}

/** The number of registered exit reports (for tests). */
export function exitHooksPending(): number {
  return pending.size;
}

function noop(): void {
  // Nothing was registered.
}
