import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  configureSessionActivity,
  isSessionActivityTrackingActive,
  registerSessionActivityCallback,
  sendSessionActivitySignal,
  sendKeepalivesFromEnv,
  shutdownSessionActivity,
  startSessionActivity,
  stopSessionActivity,
  unregisterSessionActivityCallback,
  SENDING_OFF_REPEAT_MS,
  sendingOffFix,
  type SessionActivityLog,
} from './compat.js';

/** The compat module against the reference behaviour, on vitest's fake timers. */

let log: { level: string; event: string; data: Record<string, unknown> }[];
const logger: SessionActivityLog = (level, event, data) => log.push({ level, event, data });

beforeEach(() => {
  vi.useFakeTimers();
  log = [];
  delete process.env.KEEPALIVE_SEND_KEEPALIVES;
  configureSessionActivity({ log: logger });
});
afterEach(() => {
  shutdownSessionActivity();
  unregisterSessionActivityCallback();
  shutdownSessionActivity();
  delete process.env.KEEPALIVE_SEND_KEEPALIVES;
  vi.useRealTimers();
});

describe('compat drop-in', () => {
  it('S5 S6 S9: the reference diagnostics sequence for start, ticks, stop, idle and shutdown', () => {
    process.env.KEEPALIVE_SEND_KEEPALIVES = '1';
    let sent = 0;
    registerSessionActivityCallback(() => sent++);
    startSessionActivity('api_call');
    vi.advanceTimersByTime(60_000);
    startSessionActivity('tool_exec');
    vi.advanceTimersByTime(30_000);
    stopSessionActivity('api_call');
    stopSessionActivity('tool_exec');
    vi.advanceTimersByTime(30_000);
    startSessionActivity('tool_exec');
    vi.advanceTimersByTime(5_000);
    shutdownSessionActivity();
    expect(log).toEqual([
      { level: 'debug', event: 'session_keepalive_heartbeat', data: { refcount: 1 } },
      { level: 'debug', event: 'session_keepalive_heartbeat', data: { refcount: 1 } },
      { level: 'debug', event: 'session_keepalive_heartbeat', data: { refcount: 2 } },
      { level: 'info', event: 'session_idle_30s', data: {} },
      { level: 'info', event: 'session_activity_at_shutdown', data: { refcount: 1, active: { tool_exec: 1 }, oldest_activity_ms: 5_000 } },
    ]);
    expect(sent).toBe(3);
  });

  it('S9: shutdown while idle reports oldest_activity_ms null', () => {
    shutdownSessionActivity();
    expect(log).toEqual([{ level: 'info', event: 'session_activity_at_shutdown', data: { refcount: 0, active: {}, oldest_activity_ms: null } }]);
  });

  it('S4: register while busy (reconnect mid-stream) restarts the heartbeat', () => {
    startSessionActivity('api_call');
    vi.advanceTimersByTime(45_000);
    expect(log).toEqual([]);
    registerSessionActivityCallback(() => undefined);
    vi.advanceTimersByTime(30_000);
    // Sending is off (no KEEPALIVE_SEND_KEEPALIVES): the first tick says so once.
    expect(log.map((e) => e.event)).toEqual(['keepalive_sending_off', 'session_keepalive_heartbeat']);
  });

  it('S4 S6: unregister stops the heartbeat and the idle timer', () => {
    registerSessionActivityCallback(() => undefined);
    startSessionActivity('api_call');
    stopSessionActivity('api_call');
    expect(vi.getTimerCount()).toBe(1);
    unregisterSessionActivityCallback();
    expect(vi.getTimerCount()).toBe(0);
    expect(isSessionActivityTrackingActive()).toBe(false);
    vi.advanceTimersByTime(120_000);
    expect(log).toEqual([]);
  });

  it('S5 S7: sending is off unless KEEPALIVE_SEND_KEEPALIVES is truthy, read at each tick and signal', () => {
    let sent = 0;
    registerSessionActivityCallback(() => sent++);
    expect(isSessionActivityTrackingActive()).toBe(true);
    startSessionActivity('api_call');
    sendSessionActivitySignal();
    vi.advanceTimersByTime(30_000);
    expect(sent).toBe(0);
    for (const value of ['1', 'true', 'YES', ' on ']) {
      process.env.KEEPALIVE_SEND_KEEPALIVES = value;
      sendSessionActivitySignal();
    }
    expect(sent).toBe(4);
    vi.advanceTimersByTime(30_000);
    expect(sent).toBe(5);
    for (const value of ['0', 'false', 'no', 'off', '', 'maybe']) {
      process.env.KEEPALIVE_SEND_KEEPALIVES = value;
      expect(sendKeepalivesFromEnv()).toBe(false);
      sendSessionActivitySignal();
    }
    expect(sent).toBe(5);
  });

  it('configure carries in-flight activities and the callback over, with new durations', () => {
    let sent = 0;
    registerSessionActivityCallback(() => sent++);
    startSessionActivity('tool_exec');
    configureSessionActivity({ log: logger, sendKeepalives: true, heartbeatIntervalMs: 1_000, idleAfterMs: 2_000 });
    vi.advanceTimersByTime(3_000);
    expect(sent).toBe(3);
    stopSessionActivity('tool_exec');
    vi.advanceTimersByTime(2_000);
    expect(log.map((e) => e.event)).toEqual([
      'session_keepalive_heartbeat',
      'session_keepalive_heartbeat',
      'session_keepalive_heartbeat',
      'session_idle_30s',
    ]);
    expect(() => { configureSessionActivity({ heartbeatIntervalMs: -5 }); }).toThrow(/heartbeatIntervalMs: -5/);
    expect(isSessionActivityTrackingActive()).toBe(true);
  });

  it('other diagnostics pass through under their own names', () => {
    stopSessionActivity('api_call');
    expect(log).toEqual([{ level: 'warn', event: 'unmatched_stop', data: { reason: 'api_call' } }]);
  });
});

describe('compat drop-in: sending off is said, with the fix, at a low rate', () => {
  it('S5: the first heartbeat with sending off (the default) emits one warn keepalive_sending_off {gate: env, fix}, before its heartbeat', () => {
    let sent = 0;
    registerSessionActivityCallback(() => sent++);
    startSessionActivity('api_call');
    vi.advanceTimersByTime(90_000);
    expect(sent).toBe(0);
    expect(log.map((e) => `${e.level} ${e.event}`)).toEqual([
      'warn keepalive_sending_off',
      'debug session_keepalive_heartbeat',
      'debug session_keepalive_heartbeat',
      'debug session_keepalive_heartbeat',
    ]);
    expect(log[0]?.data).toEqual({ gate: 'env', fix: sendingOffFix('env'), heartbeats: 1 });
    expect(log[0]?.data.fix).toMatch(/KEEPALIVE_SEND_KEEPALIVES=1.*configureSessionActivity\(\{ sendKeepalives: true \}\)/);
  });

  it('S5: while heartbeats go on ticking with sending off, the warning comes again every SENDING_OFF_REPEAT_MS of them (not once per process, never per tick)', () => {
    registerSessionActivityCallback(() => undefined);
    startSessionActivity('api_call');
    // 25 minutes of 30 s heartbeats: 50 heartbeats, warned at the 1st, the 21st and the 41st.
    vi.advanceTimersByTime(25 * 60_000);
    const warnings = log.filter((e) => e.event === 'keepalive_sending_off');
    expect(log.filter((e) => e.event === 'session_keepalive_heartbeat')).toHaveLength(50);
    expect(SENDING_OFF_REPEAT_MS).toBe(600_000);
    expect(warnings.map((e) => e.data.heartbeats)).toEqual([1, 21, 41]);
    for (const warning of warnings) expect([warning.level, warning.data.gate, warning.data.fix]).toEqual(['warn', 'env', sendingOffFix('env')]);
  });

  it('S5: no warning while sending is on, one when the option turns it off, and a signal alone warns nobody', () => {
    process.env.KEEPALIVE_SEND_KEEPALIVES = '1';
    let sent = 0;
    registerSessionActivityCallback(() => sent++);
    startSessionActivity('tool_exec');
    sendSessionActivitySignal();
    vi.advanceTimersByTime(60_000);
    expect(sent).toBe(3);
    expect(log.filter((e) => e.event === 'keepalive_sending_off')).toEqual([]);
    configureSessionActivity({ log: logger, sendKeepalives: false });
    sendSessionActivitySignal();
    expect(log.filter((e) => e.event === 'keepalive_sending_off')).toEqual([]);
    vi.advanceTimersByTime(90_000);
    expect(sent).toBe(3);
    expect(log.filter((e) => e.event === 'keepalive_sending_off')).toEqual([{ level: 'warn', event: 'keepalive_sending_off', data: { gate: 'option', fix: sendingOffFix('option'), heartbeats: 1 } }]);
    expect(sendingOffFix('option')).toMatch(/sendKeepalives: true/);
  });

  it('S5: without a log, the warning is a process warning with code KEEPALIVE_SENDING_OFF, saying the fix, at the same low rate', () => {
    configureSessionActivity({});
    const warnings: unknown[] = [];
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation((warning: string | Error, options?: unknown) => {
      warnings.push([warning, options]);
    });
    try {
      registerSessionActivityCallback(() => undefined);
      startSessionActivity('api_call');
      vi.advanceTimersByTime(90_000);
      expect(warnings).toHaveLength(1);
      vi.advanceTimersByTime(10 * 60_000);
    } finally {
      spy.mockRestore();
    }
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toEqual([expect.stringContaining('To send keep-alives, set KEEPALIVE_SEND_KEEPALIVES=1 in the environment, or call configureSessionActivity({ sendKeepalives: true })'), { code: 'KEEPALIVE_SENDING_OFF' }]);
  });
});
