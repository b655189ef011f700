import { describe, expect, it } from 'vitest';
import { play } from './script.js';

describe('scripted example', () => {
  const lines = play();

  it('prints one line per event and per command, in time order', () => {
    const times = lines.map((line) => Number(/t=\s*(\d+)ms/.exec(line)?.[1]));
    expect(times.every((t) => Number.isFinite(t))).toBe(true);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('sends keep-alives only while busy, notices idleness, a dead peer, and reports at shutdown', () => {
    const sends = lines.filter((line) => line.includes('send    keep-alive')).map((line) => line.slice(0, 10).trim());
    expect(sends).toEqual(['t= 11000ms', 't= 21000ms', 't= 31000ms', 't= 88000ms']);
    expect(lines).toContain('t= 50000ms  info    idle {"idle_ms":15000}');
    expect(lines).toContain('t= 93000ms  close   dead_peer (code 1006, terminate)');
    expect(lines.at(-1)).toBe(
      't=100000ms  info    activity_at_shutdown {"total":0,"active":{},"oldest_activity_ms":null,"keepalives_sent":4}',
    );
  });
});
