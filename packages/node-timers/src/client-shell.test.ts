import { defineConnectionConfig, type ConnectionUserEvent, type Diagnostic, type ShutdownReport } from '@keepalive/core';
import { describe, expect, it } from 'vitest';
import { ClientShell, type TransportCommand } from './index.js';
import { manualScheduler } from './test-support/manual-scheduler.js';

interface ProbeEvents {
  readonly open: { readonly attempt: number };
  readonly error: Error;
  readonly closed: { readonly cause: string; readonly report: ShutdownReport };
  readonly message: string;
}

/** The smallest transport over the shell: it records the commands and never gets a socket. */
class Probe extends ClientShell<ProbeEvents, string> {
  readonly commands: string[] = [];
  readonly userEvents: string[] = [];
  readonly stale: string[] = [];
  finished = 0;

  constructor(
    readonly clock: ReturnType<typeof manualScheduler>,
    readonly diagnostics: Diagnostic[],
    signal?: AbortSignal,
  ) {
    super(
      {
        config: defineConnectionConfig({}),
        scheduler: clock.scheduler,
        keepProcessAlive: false,
        reportOnExit: false,
        signal,
        onDiagnostic: (diagnostic) => diagnostics.push(diagnostic),
      },
      ['open', 'error', 'closed', 'message'],
    );
    this.begin();
  }

  get report(): ShutdownReport | null {
    return this.last;
  }

  private last: ShutdownReport | null = null;

  step(type: 'socket_opened' | 'close' | 'rejected'): void {
    if (type === 'socket_opened') this.dispatch({ type, now: this.now(), canPing: true });
    else if (type === 'rejected') this.dispatch({ type: 'socket_closed', now: this.now(), code: 4401, reason: 'unauthorized' });
    else this.dispatch({ type, now: this.now(), code: 1000, reason: '' });
  }

  /** An inbound message on the open socket. */
  receive(message: string): void {
    this.dispatch({ type: 'inbound', now: this.now(), frame: 'data' }, message);
  }

  deliverStale(message: string): void {
    this.dispatch({ type: 'inbound', now: this.now(), frame: 'data' }, message);
  }

  /** Emits `open` directly, as a transport bug would after the close. */
  emitOpen(): void {
    this.events.emit('open', { attempt: -1 });
  }

  whenDone(): Promise<ProbeEvents['closed']> {
    return this.whenClosed;
  }

  protected execute(command: TransportCommand): void {
    this.commands.push(command.type);
    if (command.type === 'deliver') {
      const message = this.driver.take();
      if (message !== null) this.driver.later(() => this.events.emit('message', message));
    }
    if (command.type === 'close_socket') this.driver.enqueue({ type: 'socket_closed', now: this.now(), code: 1000, reason: '' });
  }

  protected emitUserEvent(event: ConnectionUserEvent): void {
    this.userEvents.push(event.type);
    if (event.type === 'open') this.events.emit('open', { attempt: event.attempt });
    if (event.type === 'closed') {
      this.last = event.report;
      this.closedWith({ cause: event.cause, report: event.report });
    }
  }

  protected unclaimed(message: string): void {
    this.stale.push(message);
  }

  protected override finish(): void {
    this.finished++;
    super.finish();
  }

  restarts = 0;

  protected override restarted(): void {
    this.restarts++;
  }
}

describe('ClientShell: the half of a client every transport shares', () => {
  it('B10: an aborted signal never connects: the close is stepped before the socket is wanted, and the client is closed for good', async () => {
    const controller = new AbortController();
    controller.abort();
    const diagnostics: Diagnostic[] = [];
    const probe = new Probe(manualScheduler(), diagnostics, controller.signal);
    expect(probe.state).toBe('closed');
    // The first command asks for attempt 0; the close right after it destroys the socket it would be.
    expect(probe.commands.slice(0, 2)).toEqual(['open_socket', 'destroy_socket']);
    const closed = await probe.whenDone();
    expect(closed.cause).toBe('aborted');
    expect(probe.finished).toBe(1);
    // Nothing is armed once closed.
    expect(probe.clock.armedAt).toBeNull();
  });

  it('a signal aborted later closes with cause aborted once; the listener is removed with the close', async () => {
    const controller = new AbortController();
    const probe = new Probe(manualScheduler(), [], controller.signal);
    probe.step('socket_opened');
    expect(probe.state).toBe('open');
    controller.abort();
    const closed = await probe.whenDone();
    expect(closed.cause).toBe('aborted');
    expect(probe.state).toBe('closed');
    expect(probe.finished).toBe(1);
  });

  it('S10: a listener that throws is reported by event name and error name, then as an `error` event; an `error` listener that throws is reported only', () => {
    const diagnostics: Diagnostic[] = [];
    const probe = new Probe(manualScheduler(), diagnostics);
    const errors: string[] = [];
    probe.on('open', () => {
      throw new TypeError('boom');
    });
    probe.on('error', (error) => {
      errors.push(error.message);
      throw new RangeError('again');
    });
    probe.step('socket_opened');
    expect(errors).toEqual(['boom']);
    const failures = diagnostics.filter((diagnostic) => diagnostic.name === 'listener_failed').map((diagnostic) => diagnostic.fields);
    expect(failures).toEqual([
      { event: 'open', error: 'TypeError' },
      { event: 'error', error: 'RangeError' },
    ]);
  });

  it('S9: closed for good, the `closed` event carries the report, then no listener or subscriber is kept and `on` keeps nothing', async () => {
    const probe = new Probe(manualScheduler(), []);
    probe.step('socket_opened');
    const seen: number[] = [];
    probe.activity.subscribe((state) => seen.push(state.total));
    const release = probe.activity.start('tool_exec');
    probe.step('close');
    const closed = await probe.whenDone();
    expect(closed.cause).toBe('closed');
    expect(probe.finished).toBe(1);
    expect(probe.userEvents).toEqual(['open', 'closed']);
    expect(closed.report).toEqual(probe.report);
    expect(closed.report.total).toBe(1);
    expect(closed.report.active).toEqual({ tool_exec: 1 });
    const count = seen.length;
    release();
    expect(seen.length).toBe(count);
    let opened = 0;
    probe.on('open', () => opened++);
    probe.emitOpen();
    expect(opened).toBe(0);
    expect(probe.clock.armedAt).toBeNull();
  });

  it('an inbound message the machine did not take goes to the transport, not nowhere', () => {
    const probe = new Probe(manualScheduler(), []);
    // Not open yet: the data frame is stale.
    probe.deliverStale('late');
    expect(probe.stale).toEqual(['late']);
  });
});

describe('ClientShell: reconnect() after rejected or exhausted (B11, B12)', () => {
  it('B12: rejected, then reconnect(): attempt 0 again, listeners kept, a new close() promise; the transport was told first', async () => {
    const diagnostics: Diagnostic[] = [];
    const probe = new Probe(manualScheduler(), diagnostics);
    probe.step('socket_opened');
    const opens: number[] = [];
    probe.on('open', ({ attempt }) => opens.push(attempt));
    const first = probe.whenDone();
    probe.step('rejected');
    expect((await first).cause).toBe('rejected');
    expect(probe.state).toBe('closed');
    expect(probe.clock.armedAt).toBeNull();
    // Still listening: a restartable close keeps the listeners (a client closed on purpose keeps none).
    probe.on('open', () => opens.push(-1));
    probe.commands.length = 0;
    probe.reconnect();
    expect(probe.restarts).toBe(1);
    expect(probe.state).toBe('connecting');
    expect(probe.commands).toEqual(['open_socket']);
    expect(diagnostics.map((diagnostic) => diagnostic.name)).toContain('restarted');
    // The connect timeout is armed again on a new scheduler entry.
    expect(probe.clock.armedAt).not.toBeNull();
    expect(probe.whenDone()).not.toBe(first);
    probe.step('socket_opened');
    expect(opens).toEqual([0, -1]);
    probe.step('close');
    expect((await probe.whenDone()).cause).toBe('closed');
    // Closed on purpose: final; reconnect() is refused with a warning and never throws.
    probe.reconnect();
    expect(probe.state).toBe('closed');
    expect(diagnostics.filter((diagnostic) => diagnostic.name === 'restart_ignored').map((diagnostic) => diagnostic.fields)).toEqual([{ phase: 'closed', cause: 'closed' }]);
    expect(probe.restarts).toBe(1);
  });

  it('B10: reconnect() while open changes nothing and warns restart_ignored', () => {
    const diagnostics: Diagnostic[] = [];
    const probe = new Probe(manualScheduler(), diagnostics);
    probe.step('socket_opened');
    probe.reconnect();
    expect(probe.state).toBe('open');
    expect(probe.restarts).toBe(0);
    expect(diagnostics.filter((diagnostic) => diagnostic.name === 'restart_ignored').map((diagnostic) => diagnostic.fields)).toEqual([{ phase: 'open', cause: null }]);
  });
});

describe('ClientShell: the event API people expect', () => {
  it('once, addEventListener with { once } and { signal }, removeEventListener', () => {
    const probe = new Probe(manualScheduler(), []);
    const heard: string[] = [];
    probe.once('message', (message) => heard.push(`once:${message}`));
    probe.addEventListener('message', (message) => heard.push(`ael-once:${message}`), { once: true });
    const controller = new AbortController();
    probe.addEventListener('message', { handleEvent: (message: string) => heard.push(`signal:${message}`) }, { signal: controller.signal });
    const removed = (message: string): void => {
      heard.push(`removed:${message}`);
    };
    probe.addEventListener('message', removed);
    probe.removeEventListener('message', removed);
    probe.step('socket_opened');
    probe.receive('a');
    controller.abort();
    probe.receive('b');
    expect(heard).toEqual(['once:a', 'ael-once:a', 'signal:a']);
  });

  it('messages(): in order, buffered while the loop is busy, ended by the close', async () => {
    const probe = new Probe(manualScheduler(), []);
    probe.step('socket_opened');
    const iterator = probe.messages({ maxBuffered: 5 });
    probe.receive('1');
    probe.receive('2');
    const got: string[] = [];
    const reading = (async () => {
      for await (const message of iterator) got.push(message);
    })();
    probe.receive('3');
    probe.step('close');
    await reading;
    expect(got).toEqual(['1', '2', '3']);
    expect(() => probe.messages({ maxBuffered: 0 })).toThrow(/maxBuffered/);
  });
});
