import { defineConnectionConfig, type ConnectionUserEvent, type Diagnostic, type ShutdownReport } from '@keepalive/core';
import { describe, expect, it } from 'vitest';
import { ClientShell, type TransportCommand } from './index.js';
import { manualScheduler } from './test-support/manual-scheduler.js';

interface ProbeEvents {
  readonly open: { readonly attempt: number };
  readonly error: Error;
  readonly closed: { readonly cause: string; readonly report: ShutdownReport };
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
      ['open', 'error', 'closed'],
    );
    this.begin();
  }

  get report(): ShutdownReport | null {
    return this.last;
  }

  private last: ShutdownReport | null = null;

  step(type: 'socket_opened' | 'close'): void {
    if (type === 'socket_opened') this.dispatch({ type, now: this.now(), canPing: true });
    else this.dispatch({ type, now: this.now(), code: 1000, reason: '' });
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
