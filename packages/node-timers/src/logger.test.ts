import { describe, expect, it } from 'vitest';
import { createScheduler, createSessionActivity, debugListener, type Platform } from './index.js';

describe('diagnostic sink', () => {
  it('S5: debugListener says whether a debug diagnostic would reach anyone', () => {
    expect(debugListener({ session: 1 })()).toBe(false);
    expect(debugListener({ session: 1, onDiagnostic: () => undefined })()).toBe(true);
    expect(debugListener({ session: 1, logger: () => undefined })()).toBe(true);
    const consoleLike = { debug: () => undefined, info: () => undefined, warn: () => undefined };
    expect(debugListener({ session: 1, logger: consoleLike })()).toBe(true);
    const pino = { ...consoleLike, child: () => pino, level: 'info' };
    const sink = debugListener({ session: 1, logger: pino });
    expect(sink()).toBe(false);
    pino.level = 'debug';
    expect(sink()).toBe(true);
    pino.level = 'trace';
    expect(sink()).toBe(true);
  });

  it('S5: the heartbeat tick reaches a debug listener, and a pino logger at info gets no heartbeat', () => {
    let time = 0;
    const pending: { at: number; fn: () => void }[] = [];
    const platform: Platform = {
      now: () => time,
      setTimeout: (fn, delay) => {
        pending.push({ at: time + delay, fn });
        return pending.length;
      },
      clearTimeout: () => undefined,
      unref: () => undefined,
    };
    const scheduler = createScheduler({ platform });
    const heard: string[] = [];
    const logged: string[] = [];
    const pino = { debug: () => logged.push('debug'), info: () => logged.push('info'), warn: () => logged.push('warn'), child: () => pino, level: 'info' };
    const loud = createSessionActivity({ scheduler, heartbeatIntervalMs: 100, onDiagnostic: (d) => heard.push(d.name) });
    const quiet = createSessionActivity({ scheduler, heartbeatIntervalMs: 100, logger: pino });
    for (const activity of [loud, quiet]) {
      activity.attach(() => undefined);
      activity.start('api_call');
    }
    time = 100;
    for (let guard = 0; guard < 10 && pending.length > 0; guard++) {
      const due = pending.splice(0);
      for (const timer of due) if (timer.at <= time) timer.fn();
    }
    expect(heard).toContain('heartbeat');
    expect(logged).not.toContain('debug');
    expect(quiet.state.keepalivesSent).toBe(1);
    loud.shutdown();
    quiet.shutdown();
  });
});
