import { within } from 'keepalive-test-support';

/** Resolves when `check()` holds, checked on every event-loop turn; bounded by `within` (fails naming `what`). */
export function until(check: () => boolean, what: string, ms = 3_000): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const poll = (): void => {
        if (check()) resolve();
        else setImmediate(poll);
      };
      poll();
    }),
    ms,
    what,
  );
}
