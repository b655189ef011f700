import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';

const EXAMPLE = fileURLToPath(new URL('../example/fleet.mjs', import.meta.url));
const README = fileURLToPath(new URL('../README.md', import.meta.url));
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis.stop();
});

describe('the README example', () => {
  it('is the README text, and runs to completion against a real Redis: busy, reclaimable, ended', async () => {
    const source = readFileSync(EXAMPLE, 'utf8');
    expect(readFileSync(README, 'utf8')).toContain(source.trim());
    const { stdout } = await promisify(execFile)(process.execPath, [EXAMPLE], { env: { ...process.env, REDIS_URL: redis.url }, timeout: 20_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('session-1 busy on worker-1: {"tool_exec":1}');
    expect(lines[1]).toMatch(/^session-1 idle for \d+ ms or more: reclaimable$/);
    expect(lines[2]).toBe('session-1 ended');
    expect(lines).toHaveLength(3);
  });
});
