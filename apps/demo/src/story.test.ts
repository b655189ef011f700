import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { storyNotice, storyTimes } from './story.js';

describe('the headless story length', () => {
  it('`--headless` without a duration runs the whole story (52 s at the default idle limit); with the dashboard, until Ctrl-C', () => {
    const headless = parseConfig(['--headless'], {});
    expect(headless === 'help' ? null : headless.durationMs).toBe(52_000);
    const short = parseConfig(['--headless', '--idle-limit', '1500', '--heartbeat', '300'], {});
    expect(short === 'help' ? null : short.durationMs).toBe(storyTimes(1_500).full);
    const dashboard = parseConfig([], {});
    expect(dashboard === 'help' ? null : dashboard.durationMs).toBe(0);
    const explicit = parseConfig(['--headless', '--duration', '0'], {});
    expect(explicit === 'help' ? null : explicit.durationMs).toBe(0);
  });

  it('a duration shorter than the story says what it will not show; a long enough one (or none) says nothing', () => {
    expect(storyNotice(8_000, 8_000)[0]).toBe(
      '--duration 8000 ms ≤ idle limit 8000 ms: no reclaim will be shown (no connection is silent for the idle limit), so no lost work, no parking and no lazy reconnect either',
    );
    expect(storyNotice(10_000, 8_000)[0]).toMatch(/^--duration 10000 ms < 12000 ms: no reclaim will be shown/);
    expect(storyNotice(30_000, 8_000)[0]).toMatch(/^--duration 30000 ms < 32000 ms: no idle worker will be reclaimed and parked/);
    expect(storyNotice(35_000, 8_000)[0]).toMatch(/< 39200 ms: no parked worker will reconnect/);
    expect(storyNotice(40_000, 8_000)[0]).toMatch(/< 48800 ms: some workers may not be reclaimed, parked and reconnected/);
    expect(storyNotice(30_000, 8_000)[1]).toBe('(the whole story takes 52000 ms at this idle limit: leave --duration out to run that long)');
    expect(storyNotice(52_000, 8_000)).toEqual([]);
    expect(storyNotice(0, 8_000)).toEqual([]);
  });
});
