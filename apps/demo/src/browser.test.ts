import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from './demo.js';

/**
 * The dashboard in real headless Chromium (Debian's package, driven by playwright-core): rows appear (the worker
 * without keep-alives among them), "start long tool_exec" makes that worker's keep-alive count rise and it survives
 * well past the idle limit; "freeze" stops a worker's process, the server's dead-peer verdict shows, then "resume"
 * and the reconnection, in that order; at phone width nothing overflows and every control is on screen; no console
 * error, no failed request (a favicon is inline).
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

/** A page whose console errors, page errors and failed requests are collected. */
async function open(width: number, height: number): Promise<{ page: Page; problems: string[] }> {
  if (demo === undefined || browser === undefined) throw new Error('setup failed');
  const page = await browser.newPage({ viewport: { width, height } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
  await page.goto(demo.server.dashboardUrl);
  await page.waitForSelector('#workers tbody tr[data-worker="4"]', { timeout: 10_000 });
  return { page, problems };
}

function cell(worker: number, name: string): string {
  return `#workers tr[data-worker="${worker}"] .${name}`;
}

describe('dashboard in headless Chromium', () => {
  it('shows the workers; a long tool_exec keeps its worker alive past the idle limit; no console errors', async () => {
    const { page, problems } = await open(1280, 900);
    expect(await page.locator('#workers tbody tr').count()).toBe(4);
    expect(await page.locator(cell(4, 'name')).textContent()).toBe('worker 4 (no keep-alives)');

    const row = page.locator('#workers tbody tr[data-worker="1"]');
    const keepalives = async () => Number(await row.locator('.keepalives').textContent());
    const before = await keepalives();
    await row.getByRole('button', { name: 'start long tool_exec' }).click();
    // The first keep-alive of the burst: from here on the connection must not be reclaimed.
    await page.waitForFunction(([selector, start]) => Number(document.querySelector(selector)?.textContent) > start, [cell(1, 'keepalives'), before] as const, {
      timeout: 5_000,
    });
    expect(await row.locator('.reasons').textContent()).toContain('tool_exec');
    const startCount = await keepalives();
    const reclaimedBefore = demo!.workers.get(1)!.view().reclaimed;

    // Survive well past the idle limit while busy: the count rises by 6 keep-alives (6 × 300 ms > the 1.5 s limit).
    await page.waitForFunction(([selector, start]) => Number(document.querySelector(selector)?.textContent) >= start + 6, [cell(1, 'keepalives'), startCount] as const, {
      timeout: IDLE * 4,
    });
    expect(await row.locator('.state').textContent()).toBe('busy');
    expect(demo!.workers.get(1)!.view().reclaimed).toBe(reclaimedBefore);
    // The timeline and its legend are drawn.
    expect(await page.locator('#chart-timeline canvas').count()).toBeGreaterThan(0);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('freeze stops the worker: the server declares it a dead peer, then resume brings it back, in that order', async () => {
    const { page, problems } = await open(1280, 900);
    const row = page.locator('#workers tbody tr[data-worker="2"]');
    const deadPeersBefore = demo!.server.reclaimer.stats().deadPeers;
    await row.getByRole('button', { name: 'start long tool_exec' }).click();
    await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'busy', cell(2, 'state'), { timeout: 5_000 });
    await row.getByRole('button', { name: 'freeze' }).click();
    await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'frozen', cell(2, 'state'), { timeout: 5_000 });
    // A frozen process sends nothing: its keep-alive count stands still while the server waits for a pong.
    const frozenCount = await row.locator('.keepalives').textContent();
    // The verdict: the row's dead-peer count and the status line rise; the event says so.
    await page.waitForFunction((selector) => Number(document.querySelector(selector)?.textContent) >= 1, cell(2, 'dead-peers'), { timeout: 10_000 });
    expect(await row.locator('.keepalives').textContent()).toBe(frozenCount);
    expect(await row.locator('.state').textContent()).toBe('frozen');
    expect(demo!.server.reclaimer.stats().deadPeers).toBeGreaterThan(deadPeersBefore);
    await page.waitForFunction((before) => /dead peers (\d+)/.exec(document.querySelector('#status')?.textContent ?? '')?.[1] !== String(before), deadPeersBefore, {
      timeout: 5_000,
    });

    await row.getByRole('button', { name: 'resume' }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('worker 2: reconnected')), undefined, {
      timeout: 10_000,
    });
    // The events list is newest first: read it oldest first and check the order of the story.
    const events = (await page.locator('#events li').allTextContents()).reverse();
    const at = (pattern: RegExp): number => events.findIndex((line) => pattern.test(line));
    const frozen = at(/worker 2: frozen/);
    const verdict = at(/no proof of life from worker 2 .*dead peer/);
    const resumed = at(/worker 2: resumed/);
    const reconnected = events.findIndex((line, i) => i > resumed && line.includes('worker 2: reconnected'));
    expect(frozen).toBeGreaterThanOrEqual(0);
    expect(verdict).toBeGreaterThan(frozen);
    expect(resumed).toBeGreaterThan(verdict);
    expect(reconnected).toBeGreaterThan(resumed);
    await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'busy', cell(2, 'state'), { timeout: 10_000 });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('at phone width (375 px) nothing overflows sideways and every control is on screen', async () => {
    const { page, problems } = await open(375, 812);
    await page.waitForSelector('#chart-timeline canvas', { timeout: 10_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const buttons = page.locator('#workers button');
    expect(await buttons.count()).toBe(16);
    for (const button of await buttons.all()) {
      const box = await button.boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(375);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-phone.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
