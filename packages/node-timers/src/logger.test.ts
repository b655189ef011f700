import { describe, expect, it } from 'vitest';
import { createDiagnosticSink, createScheduler, createSessionActivity, type Platform } from './index.js';

describe('diagnostic sink', () => {
  it('S5: wantsDebug says whether a debug diagnostic would reach anyone', () => {
    expect(createDiagnosticSink({ session: 1 }).wantsDebug()).toBe(false);
    expect(createDiagnosticSink({ session: 1, onDiagnostic: () => undefined }).wantsDebug()).toBe(true);
    expect(createDiagnosticSink({ session: 1, logger: () => undefined }).wantsDebug()).toBe(true);
    const consoleLike = { debug: () => undefined, info: () => undefined, warn: () => undefined };
    expect(createDiagnosticSink({ session: 1, logger: consoleLike }).wantsDebug()).toBe(true);
    const pino = { ...consoleLike, child: () => pino, level: 'info' };
    const sink = createDiagnosticSink({ session: 1, logger: pino });
    expect(sink.wantsDebug()).toBe(false);
    pino.level = 'debug';
    expect(sink.wantsDebug()).toBe(true);
    const enabled = { ...pino, level: 'info', isLevelEnabled: (level: string) => level !== 'debug' };
    expect(createDiagnosticSink({ session: 1, logger: enabled }).wantsDebug()).toBe(false);
    const throwing = { ...pino, isLevelEnabled: () => { throw new Error('x'); } };
    expect(createDiagnosticSink({ session: 1, logger: throwing }).wantsDebug()).toBe(true);
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
