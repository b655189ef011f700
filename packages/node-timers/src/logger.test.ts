import { describe, expect, it } from 'vitest';
import { createSessionActivity, debugListener } from './index.js';
import { manualScheduler } from './test-support/manual-scheduler.js';

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
    const clock = manualScheduler();
    const scheduler = clock.scheduler;
    const heard: string[] = [];
    const logged: string[] = [];
    const pino = { debug: () => logged.push('debug'), info: () => logged.push('info'), warn: () => logged.push('warn'), child: () => pino, level: 'info' };
    const loud = createSessionActivity({ scheduler, heartbeatIntervalMs: 100, onDiagnostic: (d) => heard.push(d.name) });
    const quiet = createSessionActivity({ scheduler, heartbeatIntervalMs: 100, logger: pino });
    for (const activity of [loud, quiet]) {
      activity.attach(() => undefined);
      activity.start('api_call');
    }
    // Both heartbeats are due at 100: one wake of the shared timer fires them.
    expect(clock.armedAt).toBe(100);
    clock.fire();
    expect(heard).toContain('heartbeat');
    expect(logged).not.toContain('debug');
    expect(quiet.state.keepalivesSent).toBe(1);
    loud.shutdown();
    quiet.shutdown();
  });
});
