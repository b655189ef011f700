import {
  createSessionState,
  pollTimeout,
  step,
  type SessionCommand,
  type SessionEvent,
  type SessionOptions,
  type SessionState,
} from '@keepalive/core';

interface Scripted { readonly at: number; readonly event: DistributiveOmit<SessionEvent, 'now'> }
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The options of the scripted session: short durations so the story fits on a screen. */
export const SCRIPT_OPTIONS: SessionOptions = {
  heartbeatIntervalMs: 10_000,
  idleDelayMs: 15_000,
  pongTimeoutMs: 5_000,
};

/**
 * A busy/idle story: a worker connects, streams a model response, runs a
 * tool, goes idle, loses its connection mid-stream, reconnects, and shuts down.
 */
export const SCRIPT: readonly Scripted[] = [
  { at: 0, event: { type: 'attach' } },
  { at: 1_000, event: { type: 'start', reason: 'api_call' } },
  { at: 12_000, event: { type: 'alive' } },
  { at: 18_000, event: { type: 'start', reason: 'tool_exec' } },
  { at: 22_000, event: { type: 'alive' } },
  { at: 26_000, event: { type: 'stop', reason: 'api_call' } },
  { at: 32_000, event: { type: 'alive' } },
  { at: 35_000, event: { type: 'stop', reason: 'tool_exec' } },
  { at: 70_000, event: { type: 'start', reason: 'api_call' } },
  { at: 75_000, event: { type: 'detach' } },
  { at: 78_000, event: { type: 'attach' } },
  { at: 95_000, event: { type: 'stop', reason: 'api_call' } },
  { at: 96_000, event: { type: 'stop', reason: 'api_call' } },
  { at: 100_000, event: { type: 'shutdown' } },
];

/** Formats one command as one line. */
export function formatCommand(now: number, command: SessionCommand): string {
  const t = `t=${String(now).padStart(6)}ms`;
  switch (command.type) {
    case 'arm':
      return `${t}  arm     ${command.timer} at ${command.deadline}`;
    case 'cancel':
      return `${t}  cancel  ${command.timer}`;
    case 'send':
      return `${t}  send    keep-alive`;
    case 'close':
      return `${t}  close   ${command.reason} (code ${command.code}${command.terminate ? ', terminate' : ''})`;
    case 'diagnostic':
      return `${t}  ${command.level.padEnd(6)}  ${command.name} ${JSON.stringify(command.fields)}`;
  }
}

/**
 * Plays the script on a simulated clock: between scripted events, the
 * driver fires due timers at their deadlines using the core's
 * earliest-deadline helper, as a real one-timer driver would. The peer
 * answers keep-alives only where the script says `alive`, so the unanswered
 * one after the reconnect is detected as a dead peer.
 */
export function play(options: SessionOptions = SCRIPT_OPTIONS, script: readonly Scripted[] = SCRIPT): string[] {
  const lines: string[] = [];
  const out: SessionCommand[] = [];
  let state: SessionState = createSessionState(options, 0);
  const deliver = (event: SessionEvent): void => {
    state = step(state, event, out);
    for (const command of out) lines.push(formatCommand(event.now, command));
    out.length = 0;
  };
  for (const { at, event } of script) {
    for (let deadline = pollTimeout(state); deadline !== null && deadline <= at; deadline = pollTimeout(state)) {
      deliver({ type: 'timeout', now: deadline });
    }
    lines.push(`t=${String(at).padStart(6)}ms  event   ${describe(event)}`);
    deliver({ ...event, now: at });
  }
  return lines;
}

function describe(event: Scripted['event']): string {
  return 'reason' in event ? `${event.type}(${event.reason})` : event.type;
}
