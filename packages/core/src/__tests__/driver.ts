import {
  createSessionState,
  transition,
  type Diagnostic,
  type SessionCommand,
  type SessionConfig,
  type SessionEvent,
  type SessionOptions,
  type SessionState,
  type SessionTimer,
} from '../index.js';

type EventWithoutNow<E> = E extends unknown ? Omit<E, 'now'> : never;
/** A session event without its `now`: the driver adds its clock. */
export type Input = EventWithoutNow<SessionEvent>;

/**
 * A simulated driver for tests: owns a session, a fake monotonic clock and
 * the set of armed timers as the commands describe them, and records every
 * contract violation it sees (a timer armed twice, a cancel of a timer that
 * is not armed, a send while detached or disabled, anything armed after
 * shutdown) instead of throwing, so properties can assert on them.
 */
export class SimDriver {
  state: SessionState;
  now: number;
  readonly armed = new Map<SessionTimer, number>();
  readonly diagnostics: Diagnostic[] = [];
  readonly violations: string[] = [];
  readonly heartbeatDeadlines: number[] = [];
  /** Pairs [fired deadline, next armed deadline] of heartbeat ticks fired on time. */
  readonly heartbeatSteps: [number, number][] = [];
  sends = 0;
  closes = 0;
  lastCommands: readonly SessionCommand[] = [];

  constructor(options: SessionOptions | SessionConfig = {}, start = 0) {
    this.state = createSessionState(options, start);
    this.now = start;
  }

  /** Delivers an event at the current time (or at `at`). */
  send(input: Input, at = this.now): readonly SessionCommand[] {
    return this.apply({ ...input, now: at }, new Set());
  }

  /** Advances the clock to `to`, firing due timers at their deadlines, earliest first. */
  advance(to: number): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.earliest();
      if (due === null || due > to) break;
      this.now = Math.max(this.now, due);
      this.fireDue();
    }
    this.now = Math.max(this.now, to);
  }

  /** Delivers a `timeout` at the current time, as a one-timer driver would. */
  fireDue(): readonly SessionCommand[] {
    const fired = new Set<SessionTimer>();
    for (const [timer, at] of this.armed) if (at <= this.now) fired.add(timer);
    const beforeHeartbeat = this.armed.get('heartbeat');
    for (const timer of fired) this.armed.delete(timer);
    const commands = this.apply({ type: 'timeout', now: this.now }, fired);
    const after = this.armed.get('heartbeat');
    if (beforeHeartbeat !== undefined && fired.has('heartbeat') && after !== undefined && this.now - beforeHeartbeat < this.state.config.heartbeatIntervalMs) {
      this.heartbeatSteps.push([beforeHeartbeat, after]);
    }
    return commands;
  }

  earliest(): number | null {
    let earliest: number | null = null;
    for (const at of this.armed.values()) if (earliest === null || at < earliest) earliest = at;
    return earliest;
  }

  private apply(event: SessionEvent, firedNow: Set<SessionTimer>): readonly SessionCommand[] {
    const before = this.state;
    const gate =
      'sendKeepalives' in event && typeof event.sendKeepalives === 'boolean' ? event.sendKeepalives : before.config.sendKeepalives;
    const [next, commands] = transition(before, event);
    this.state = next;
    this.lastCommands = commands;
    for (const command of commands) {
      switch (command.type) {
        case 'arm':
          if (this.armed.has(command.timer)) this.violations.push(`${command.timer} armed twice`);
          if (next.shutdown) this.violations.push(`${command.timer} armed after shutdown`);
          this.armed.set(command.timer, command.deadline);
          if (command.timer === 'heartbeat') this.heartbeatDeadlines.push(command.deadline);
          break;
        case 'cancel':
          if (!this.armed.delete(command.timer) && !firedNow.has(command.timer)) {
            this.violations.push(`${command.timer} cancelled while not armed`);
          }
          break;
        case 'send':
          this.sends++;
          if (!before.attached) this.violations.push('keep-alive sent while detached');
          if (!gate) this.violations.push('keep-alive sent while sending is disabled');
          break;
        case 'close':
          this.closes++;
          break;
        case 'diagnostic':
          this.diagnostics.push(command);
          break;
      }
    }
    if (next.shutdown && this.armed.size > 0) this.violations.push('timers left armed after shutdown');
    return commands;
  }

  /** Diagnostics named `name`. */
  named(name: string): Diagnostic[] {
    return this.diagnostics.filter((d) => d.name === name);
  }
}
