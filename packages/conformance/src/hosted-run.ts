import { lineCollector, type Exit, type ScenarioChild } from './child.js';
import type { Runtime } from './runtimes.js';

/**
 * A scenario hosted by a runtime the suite drives through an API (a Chromium page, a request of a workerd isolate)
 * instead of a child process of its own: the time limit, the end (once), the lines collected, and the
 * `ScenarioChild` the tests hold, shared by `browser.ts` and `workerd.ts`. What differs (how the scenario starts,
 * where its lines come from, what is freed at the end) is the host's.
 */

/** What the host gives {@link hostedRun}. */
export interface HostedRunOptions {
  /** What runs the scenario, in the error `signal()` throws (`a Worker`, `a browser page`). */
  readonly host: string;
  /** The type of the line that reports a failure of the run itself (`worker-error`, `page-error`). */
  readonly errorType: string;
  /** Frees what the run holds (its workerd, its page): called once, after the run ended. */
  readonly release: () => void;
}

/** The run as its host drives it. */
export interface HostedRun {
  /** Text the scenario printed (JSON lines, in any chunks). */
  readonly feed: (text: string) => void;
  /** Ends the run with `code` (the first call only): the time limit cleared, `exited` resolved, then `release`. */
  readonly end: (code: number, timedOut: boolean) => void;
  /** Whether the run ended (read afresh: the time limit may end it while the host starts). */
  readonly over: () => boolean;
}

/**
 * Runs `start` as the host of one scenario, bounded by `timeoutMs` (then it ends with code 1, `timedOut`); a `start`
 * that rejects is reported as an `errorType` line and ends the run with code 1. `kill()` ends it with 137.
 */
export function hostedRun(runtime: Runtime, scenario: string, timeoutMs: number, options: HostedRunOptions, start: (run: HostedRun) => Promise<void>): ScenarioChild {
  const { host, errorType, release } = options;
  let finish: (exit: Exit) => void = () => undefined;
  const exited = new Promise<Exit>((resolve) => {
    finish = resolve;
  });
  const collector = lineCollector(exited, timeoutMs, (what, lines) => new Error(`${runtime.id} ${scenario}: ${what}\nlines: ${JSON.stringify(lines)}`));
  let ended = false;
  const end = (code: number, timedOut: boolean): void => {
    if (ended) return;
    ended = true;
    clearTimeout(limit);
    finish({ code, signal: null, at: performance.now(), timedOut });
    release();
  };
  const limit = setTimeout(() => {
    end(1, true);
  }, timeoutMs);
  void start({ feed: collector.feed, end, over: () => ended }).catch((error: unknown) => {
    collector.feed(`${JSON.stringify({ type: errorType, message: String(error) })}\n`);
    end(1, false);
  });
  return {
    lines: collector.lines,
    stderr: collector.noise,
    exited,
    kill: () => {
      end(137, false);
    },
    signal: () => {
      throw new Error(`${host} takes no signals`);
    },
    line: collector.line,
  };
}
