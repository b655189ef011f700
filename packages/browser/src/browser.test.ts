import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundlePage, startHarness, type Harness } from './harness.js';

/**
 * The library's browser client in real headless Chromium (Debian's package, driven by playwright-core), against a
 * `keepAlive(wss)` server on 127.0.0.1: keep-alives while busy and silence while idle, the network going away and
 * coming back, a frozen page, a page made visible again, and the page going away. The page is the esbuild browser
 * bundle of fixtures/page.js. Waits are on server events or page state, each bounded in time.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface PageHarness {
  readonly events: { name: string; t: number; [key: string]: unknown }[];
  readonly diagnostics: { name: string; fields: Record<string, unknown>; t: number }[];
  state(): string;
  busy(): void;
  idle(): void;
}
declare global {
  interface Window {
    harness: PageHarness;
  }
}

let harness: Harness;
let browser: Browser;
let context: BrowserContext | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (the CI script does)`);
  harness = await startHarness(await bundlePage());
  browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 60_000, args: ARGS });
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser.close();
  await harness.close();
});

/** Resolves once `predicate` holds, re-checked at every server event; rejects after `timeoutMs`. */
function serverSees(predicate: () => boolean, timeoutMs: number, label: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`));
    }, timeoutMs);
    const check = (): void => {
      if (!predicate()) return;
      clearTimeout(timer);
      resolve(performance.now());
    };
    harness.onChange(check);
    check();
  });
}

/** A bounded observation window: resolves after `ms` (used only to show that something does NOT happen). */
function observe(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function openPage(options: Record<string, unknown>, client: 'default' | 'lite' = 'default'): Promise<{ page: Page; first: number }> {
  context = await browser.newContext();
  const page = await context.newPage();
  const first = harness.connections.length;
  await page.goto(`${harness.url}?client=${client}&options=${encodeURIComponent(JSON.stringify(options))}`);
  await page.waitForFunction(() => 'harness' in window && window.harness.state() === 'open', undefined, { timeout: 10_000 });
  return { page, first };
}

describe('the browser client in headless Chromium', () => {
  it('S4, B5: heartbeat messages every interval while busy, none while idle, counted by the server', async () => {
    const { page, first } = await openPage({ heartbeatIntervalMs: 200, pongTimeoutMs: 400 });
    const connection = harness.connections[first]!;
    await page.evaluate(() => window.harness.busy());
    const busyFrom = connection.heartbeats.length;
    await serverSees(() => connection.heartbeats.length >= busyFrom + 4, 5_000, 'four heartbeats while busy');
    const gaps = connection.heartbeats.slice(busyFrom + 1).map((t, i) => t - connection.heartbeats[busyFrom + i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThan(100);
    await page.evaluate(() => window.harness.idle());
    const idleFrom = connection.heartbeats.length;
    await observe(1_000);
    expect(connection.heartbeats.length - idleFrom).toBeLessThanOrEqual(1);
    expect(await page.evaluate(() => window.harness.state())).toBe('open');
    expect(await page.evaluate(() => window.harness.events.filter((e) => e.name === 'dead-peer').length)).toBe(0);
  });

  it('B15: a page whose timers run 3 s late (its main thread blocked, as a throttled or frozen tab is) is not a false dead peer', async () => {
    const { page, first } = await openPage({ heartbeatIntervalMs: 200, pongTimeoutMs: 300 });
    await page.evaluate(() => window.harness.busy());
    const connection = harness.connections[first]!;
    const from = connection.heartbeats.length;
    await serverSees(() => connection.heartbeats.length >= from + 2, 5_000, 'heartbeats before the stall');
    // Nothing in the page runs for 3 s and the heartbeat in flight is not answered meanwhile (the server reads
    // nothing until the page runs again): every deadline passes with no answer on the way. Without B15 the late
    // liveness deadline would be a dead-peer verdict the moment the page runs again.
    connection.socket.pause();
    await page.evaluate(async () => {
      // Right after the next heartbeat goes out, so its answer is owed when the page stops running.
      const sent = (): number => window.harness.diagnostics.filter((d) => d.name === 'heartbeat').length;
      const before = sent();
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (sent() === before) return;
          clearInterval(poll);
          resolve();
        }, 1);
      });
      const end = performance.now() + 3_000;
      while (performance.now() < end) {
        // a busy main thread
      }
    });
    connection.socket.resume();
    const resumed = connection.heartbeats.length;
    await serverSees(() => connection.heartbeats.length >= resumed + 3, 5_000, 'heartbeats after the stall');
    const result = await page.evaluate(() => ({
      deadPeers: window.harness.events.filter((e) => e.name === 'dead-peer').length,
      late: window.harness.diagnostics.filter((d) => d.name === 'heartbeat_late').map((d) => d.fields),
      state: window.harness.state(),
    }));
    expect(result.deadPeers).toBe(0);
    expect(result.late.length).toBeGreaterThanOrEqual(1);
    expect(result.state).toBe('open');
    expect(harness.connections.length).toBe(first + 1);
  });

  it('pagehide closes the client at once; the browser ends the socket with 1001, and nothing reconnects', async () => {
    const { page, first } = await openPage({ heartbeatIntervalMs: 200, pongTimeoutMs: 400 });
    const state = await page.evaluate(() => {
      window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false }));
      return window.harness.state();
    });
    expect(state).toBe('closed');
    await page.goto('about:blank');
    await serverSees(() => harness.connections[first]!.closeCode !== null, 5_000, 'the close');
    expect(harness.connections[first]!.closeCode).toBe(1001);
    expect(harness.connections.length).toBe(first + 1);
  });

  /** Both clients: the default one (its lifecycle wiring) and the kernel client with `pageLifecycle`. */
  const CLIENTS = [
    { client: 'default', name: 'the default client', waiting: 'reconnecting' },
    { client: 'lite', name: 'the kernel client with pageLifecycle', waiting: 'backoff' },
  ] as const;

  it.each(CLIENTS)('B10 ($name): offline for 3 s then online: no attempt while offline, open again within 1 s of coming back', async ({ client, name, waiting }) => {
    const { page, first } = await openPage({ heartbeatIntervalMs: 200, pongTimeoutMs: 400, reconnect: { initialDelayMs: 8_000, maxDelayMs: 8_000 } }, client);
    await context!.setOffline(true);
    await page.waitForFunction(() => window.harness.diagnostics.some((d) => d.name === 'offline'), undefined, { timeout: 5_000 });
    // The network is gone and so is the connection.
    harness.connections[first]!.socket.terminate();
    await page.waitForFunction((state) => window.harness.state() === state, waiting, { timeout: 5_000 });
    await observe(3_000);
    expect(harness.connections.length).toBe(first + 1);
    const back = performance.now();
    await context!.setOffline(false);
    const reopened = await serverSees(() => harness.connections.length === first + 2, 5_000, 'the reconnect after online');
    await page.waitForFunction(() => window.harness.state() === 'open', undefined, { timeout: 5_000 });
    const ms = reopened - back;
    console.log(`browser, ${name}: reconnect after online: ${ms.toFixed(0)} ms (bound 1000; the backoff delay was up to 8000)`);
    expect(ms).toBeLessThan(1_000);
  });

  it.each(CLIENTS)('B5 ($name): a page made visible again checks liveness at once: a heartbeat while idle', async ({ client }) => {
    const { page, first } = await openPage({ heartbeatIntervalMs: 60_000, pongTimeoutMs: 1_000 }, client);
    const connection = harness.connections[first]!;
    expect(connection.heartbeats).toHaveLength(0);
    const shown = performance.now();
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    const seen = await serverSees(() => connection.heartbeats.length === 1, 2_000, 'the liveness check');
    expect(seen - shown).toBeLessThan(1_000);
    expect(await page.evaluate(() => window.harness.diagnostics.filter((d) => d.name === 'liveness_check').length)).toBe(1);
  });
});
