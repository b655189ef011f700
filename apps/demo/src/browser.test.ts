import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from './demo.js';

/**
 * The dashboard in real headless Chromium (Debian's package, driven by
 * playwright-core): rows appear, "start long tool_exec" makes that worker's
 * keep-alive count rise, and it survives well past the idle limit.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-results/', import.meta.url));
const IDLE = 1_500;

let demo: Demo | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (the CI script does)`);
  demo = await startDemo({
    host: '127.0.0.1',
    port: 0,
    token: 'browser-test-token',
    workers: 3,
    idleLimitMs: IDLE,
    heartbeatIntervalMs: 300,
    pongTimeoutMs: 600,
    maxPayload: 65_536,
    seed: 42,
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 60_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('dashboard in headless Chromium', () => {
  it('shows the workers; a long tool_exec keeps its worker alive past the idle limit', async () => {
    if (demo === undefined || browser === undefined) throw new Error('setup failed');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(demo.server.dashboardUrl);
    await page.waitForSelector('#workers tbody tr[data-worker="3"]', { timeout: 10_000 });
    expect(await page.locator('#workers tbody tr').count()).toBe(3);

    const row = page.locator('#workers tbody tr[data-worker="1"]');
    const keepalives = async () => Number(await row.locator('.keepalives').textContent());
    const before = await keepalives();
    await row.getByRole('button', { name: 'start long tool_exec' }).click();
    // The first keep-alive of the burst: from here on the connection must not be reclaimed.
    await page.waitForFunction(
      ([start]) => Number(document.querySelector('#workers tr[data-worker="1"] .keepalives')?.textContent) > (start ?? 0),
      [before],
      { timeout: 5_000 },
    );
    expect(await row.locator('.reasons').textContent()).toContain('tool_exec');
    const startCount = await keepalives();
    const reclaimedBefore = demo.workers.get(1)!.view().reclaimed;
    const startedAt = performance.now();

    // Survive well past the idle limit while busy: the count keeps rising and nothing is reclaimed.
    await page.waitForFunction(
      ([start]) => Number(document.querySelector('#workers tr[data-worker="1"] .keepalives')?.textContent) >= (start ?? 0) + 6,
      [startCount],
      { timeout: IDLE * 3 },
    );
    await page.waitForTimeout(Math.max(0, IDLE * 2 - (performance.now() - startedAt)));
    expect(await keepalives()).toBeGreaterThan(startCount + 5);
    expect(await row.locator('.state').textContent()).toBe('busy');
    expect(demo.workers.get(1)!.view().reclaimed).toBe(reclaimedBefore);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    console.log(`screenshot: ${ARTIFACTS}dashboard.png (worker 1 keep-alives ${startCount} → ${await keepalives()})`);
  });
});
