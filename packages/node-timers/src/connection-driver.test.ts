import { defineConnectionConfig, type ConnectionCommand, type ConnectionEvent } from '@keepalive/core';
import { describe, expect, it } from 'vitest';
import { ConnectionDriver, StateSubscribers, clientPhase } from './index.js';
import { manualScheduler } from './test-support/manual-scheduler.js';

interface Harness {
  readonly driver: ConnectionDriver<string>;
  readonly commands: ConnectionCommand[];
  readonly log: string[];
  readonly unclaimed: string[];
  readonly clock: ReturnType<typeof manualScheduler>;
}

function harness(react: (command: ConnectionCommand, h: Harness) => void = () => undefined, keepProcessAlive = false): Harness {
  const clock = manualScheduler();
  const commands: ConnectionCommand[] = [];
  const log: string[] = [];
  const unclaimed: string[] = [];
  const subscribers = new StateSubscribers(() => undefined);
  subscribers.add(() => log.push('notify'));
  const h: Harness = {
    get driver() {
      return driver;
    },
    commands,
    log,
    unclaimed,
    clock,
  };
  const driver: ConnectionDriver<string> = new ConnectionDriver<string>({
    config: defineConnectionConfig({ reconnect: { initialDelayMs: 100, maxDelayMs: 100 } }),
    scheduler: clock.scheduler,
    keepProcessAlive,
    subscribers,
    transport: {
      execute: (command) => {
        commands.push(command);
        react(command, h);
      },
      unclaimed: (message) => unclaimed.push(message),
      timeout: (now): ConnectionEvent => ({ type: 'timeout', now }),
    },
  });
  return h;
}

const types = (commands: readonly ConnectionCommand[]): string[] => commands.map((command) => command.type);

describe('ConnectionDriver: the one loop every client runs around the connection machine', () => {
  it('B10: opening carries out nothing until open(); start() arms the timer at the connect deadline and delivers', () => {
    const h = harness((command, { driver }) => {
      if (command.type === 'open_socket') driver.later(() => h.log.push('open_socket delivered'));
    });
    expect(h.commands).toEqual([]);
    h.driver.open();
    expect(types(h.commands)).toContain('open_socket');
    expect(h.log).toEqual([]);
    h.driver.start();
    expect(h.log).toEqual(['open_socket delivered', 'notify']);
    expect(clientPhase(h.driver.machine)).toBe('connecting');
    // The connect timeout (10 s by default) is the one deadline armed.
    expect(h.clock.armedAt).toBe(10_000);
  });

  it('B10: an event a command reports during a step is stepped after that step, in order; work for the application waits for the end', () => {
    const order: string[] = [];
    let steppingWhenReported: boolean | null = null;
    const h = harness((command, { driver }) => {
      if (command.type !== 'event') return;
      order.push(`command ${command.event.type}`);
      driver.later(() => order.push(`delivered ${command.event.type}`));
      // The socket fails while the open is being carried out: its fact is queued behind this step.
      if (command.event.type === 'open') {
        steppingWhenReported = driver.stepping;
        driver.enqueue({ type: 'socket_closed', now: driver.now(), code: 1006, reason: '' });
        order.push('reported close');
      }
    });
    h.driver.open();
    h.driver.start();
    h.driver.dispatch({ type: 'socket_opened', now: h.driver.now(), canPing: true });
    expect(steppingWhenReported).toBe(true);
    expect(order).toEqual(['command open', 'reported close', 'command close', 'command reconnecting', 'delivered open', 'delivered close', 'delivered reconnecting']);
    expect(clientPhase(h.driver.machine)).toBe('reconnecting');
  });

  it('B6: a pending reconnect holds the process (the timer is unref\'d); the hold goes when the client is open or closed', () => {
    const h = harness();
    h.driver.open();
    h.driver.start();
    h.driver.dispatch({ type: 'socket_closed', now: h.driver.now(), code: 1006, reason: '' });
    expect(h.driver.machine.phase).toBe('backoff');
    expect(h.clock.holds).toBe(1);
    // The backoff deadline fires through the scheduler: a new attempt, and no hold while connecting.
    expect(h.clock.fire()).toBe(true);
    expect(h.driver.machine.phase).toBe('connecting');
    expect(h.clock.holds).toBe(0);
    expect(types(h.commands).filter((type) => type === 'open_socket')).toHaveLength(2);
    h.driver.dispatch({ type: 'close', now: h.driver.now(), code: 1000, reason: '', immediate: true });
    expect(h.driver.machine.phase).toBe('closed');
    h.driver.dispose();
    expect(h.clock.fire()).toBe(false);
  });

  it('S4: with keepProcessAlive, work in flight holds the process while open', () => {
    const h = harness(undefined, true);
    h.driver.open();
    h.driver.start();
    h.driver.dispatch({ type: 'socket_opened', now: h.driver.now(), canPing: true });
    expect(h.clock.holds).toBe(0);
    h.driver.dispatch({ type: 'start', now: h.driver.now(), reason: 'api_call' });
    expect(h.clock.holds).toBe(1);
    h.driver.dispatch({ type: 'stop', now: h.driver.now(), reason: 'api_call' });
    expect(h.clock.holds).toBe(0);
  });

  it('B14: an inbound message is taken by `deliver`; one no command takes is handed back as unclaimed, never lost silently', () => {
    const taken: (string | null)[] = [];
    const h = harness((command, { driver }) => {
      if (command.type === 'deliver') taken.push(driver.take());
    });
    h.driver.open();
    h.driver.start();
    h.driver.dispatch({ type: 'socket_opened', now: h.driver.now(), canPing: true });
    h.driver.dispatch({ type: 'inbound', now: h.driver.now(), frame: 'data' }, 'first');
    expect(taken).toEqual(['first']);
    expect(h.unclaimed).toEqual([]);
    // After the socket is gone, a frame of it is stale: the machine takes nothing, the driver says so.
    h.driver.dispatch({ type: 'socket_closed', now: h.driver.now(), code: 1006, reason: '' });
    h.driver.dispatch({ type: 'inbound', now: h.driver.now(), frame: 'data' }, 'stale');
    expect(taken).toEqual(['first']);
    expect(h.unclaimed).toEqual(['stale']);
  });

  it('now() never goes back before the last event', () => {
    const h = harness();
    h.driver.open();
    h.driver.start();
    h.driver.dispatch({ type: 'socket_opened', now: 5_000, canPing: true });
    expect(h.driver.now()).toBe(5_000);
  });

  it('clientPhase: the public state of every machine phase', () => {
    const h = harness();
    const machine = h.driver.machine;
    expect(clientPhase({ ...machine, phase: 'connecting', attempt: 0 })).toBe('connecting');
    expect(clientPhase({ ...machine, phase: 'connecting', attempt: 2 })).toBe('reconnecting');
    expect(clientPhase({ ...machine, phase: 'backoff' })).toBe('reconnecting');
    expect(clientPhase({ ...machine, phase: 'parked' })).toBe('parked');
    expect(clientPhase({ ...machine, phase: 'open' })).toBe('open');
    expect(clientPhase({ ...machine, phase: 'closing' })).toBe('closing');
    expect(clientPhase({ ...machine, phase: 'closed' })).toBe('closed');
  });
});
