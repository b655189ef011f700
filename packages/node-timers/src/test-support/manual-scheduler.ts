import { createScheduler, type Platform } from '../index.js';

/** A scheduler on a clock the test moves; its one timer fires only when the test says. */
export function manualScheduler() {
  let now = 0;
  let timer: { fn: () => void; at: number } | null = null;
  let holds = 0;
  const platform: Platform = {
    now: () => now,
    setTimeout: (fn, delay) => {
      timer = { fn, at: now + delay };
      return 1;
    },
    clearTimeout: () => {
      timer = null;
    },
    unref: () => undefined,
    hold: () => {
      holds++;
      return () => {
        holds--;
      };
    },
  };
  const scheduler = createScheduler({ platform });
  return {
    scheduler,
    get holds() {
      return holds;
    },
    /** Moves the clock to the armed timer and fires it; false when nothing is armed. */
    fire(): boolean {
      const due = timer;
      if (due === null) return false;
      timer = null;
      now = Math.max(now, due.at);
      due.fn();
      return true;
    },
    get armedAt(): number | null {
      return timer?.at ?? null;
    },
  };
}
