/**
 * One process `exit` listener for every instance that wants its shutdown
 * report at exit. It is added when the first instance registers and removed
 * when the last one leaves, so any number of instances add one listener.
 */

const pending = new Set<() => void>();

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
  if (pending.size === 0) process.on('exit', onExit);
  pending.add(report);
  return () => {
    if (!pending.delete(report)) return;
    if (pending.size === 0) process.off('exit', onExit);
  };
}

/** The number of registered exit reports (for tests). */
export function exitHooksPending(): number {
  return pending.size;
}
