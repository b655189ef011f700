import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from './demo.js';

/**
 * The dashboard in real headless Chromium (Debian's package, driven by playwright-core), at 1280 and 375 px:
 * - rows appear (the worker without keep-alives among them); "start long tool_exec" keeps its worker alive past the
 *   idle limit; counts are pluralised ("1 piece of work");
 * - the timeline draws each state as the legend says: read back from the canvas's pixels at the places the page's
 *   timeline model (`window.keepaliveDashboard.timeline()`) says each stretch was drawn: a parked worker's lane is
 *   blank, an idle one a grey line, a busy one the legend's green for every worker (the one without keep-alives too);
 * - freeze: the server's view of the worker (measured in the server's process) goes stale and then shows the dead-peer
 *   verdict, while the worker's own view says it is not reporting (never a fresh "ms ago"); resume and reconnect come
 *   after, in that order; only "resume" is offered while frozen, and no row offers it otherwise;
 * - the legend has every glyph the timeline draws (❚❚ and ▶ included); every column has a title and a footnote;
 * - at 375 px nothing overflows, the time labels, lane labels and controls do not overlap;
 * - no console error and no failed request on any page (the favicon is inline).
 * Every wait is on a page condition with a bounded timeout.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-results/', import.meta.url));
const IDLE = 1_500;
const BUSY_RGB = [31, 157, 85];
const IDLE_RGB = [138, 147, 166];

let demo: Demo | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (the CI script does)`);
  // The browser first, then the demo: the first page sees the story from its start.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 60_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
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

function save(page: Page, file: string): Promise<Buffer> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: `${ARTIFACTS}${file}`, fullPage: true });
}

/** What the canvas shows at one drawn stretch of a lane: the pixels across the lane's middle (±5 px) at the stretch's middle. */
interface Sample {
  readonly worker: number;
  readonly state: string;
  readonly width: number;
  /** [r, g, b, a] of each pixel row, top to bottom. */
  readonly pixels: number[][];
}

/**
 * Waits (bounded) for a drawn stretch of `state` at least `minPx` wide, and returns the canvas's pixels across its
 * lane at its middle, read from the canvas the page drew. Only stretches of `workers` if given.
 */
async function sampleStretch(page: Page, state: string, minPx: number, timeout: number, workers?: readonly number[]): Promise<Sample> {
  const handle = await page.waitForFunction(
    ([wanted, min, only]) => {
      const api = (window as unknown as { keepaliveDashboard?: { timeline(): unknown; canvas(): HTMLCanvasElement | null } }).keepaliveDashboard;
      const model = api?.timeline() as
        | { dpr: number; lanes: { worker: number; mid: number; segments: { state: string; x0: number; x1: number }[] }[] }
        | null
        | undefined;
      const canvas = api?.canvas();
      if (!model || !canvas) return null;
      const ctx = canvas.getContext('2d');
      if (!ctx) return null;
      for (const lane of model.lanes) {
        if (only.length > 0 && !only.includes(lane.worker)) continue;
        for (const segment of lane.segments) {
          if (segment.state !== wanted || segment.x1 - segment.x0 < min) continue;
          const x = Math.round(((segment.x0 + segment.x1) / 2) * model.dpr);
          const pixels: number[][] = [];
          for (let dy = -5; dy <= 5; dy++) pixels.push([...ctx.getImageData(x, Math.round((lane.mid + dy) * model.dpr), 1, 1).data]);
          return { worker: lane.worker, state: wanted, width: segment.x1 - segment.x0, pixels };
        }
      }
      return null;
    },
    [state, minPx, workers ?? []] as const,
    { timeout },
  );
  return (await handle.jsonValue()) as Sample;
}

function close(pixel: number[] | undefined, rgb: readonly number[]): boolean {
  return pixel !== undefined && (pixel[3] ?? 0) > 200 && rgb.every((value, i) => Math.abs((pixel[i] ?? -99) - value) <= 6);
}

/** The lane drawing, checked on the canvas: parked is blank; idle the grey line; busy the legend's green, for every worker. */
async function checkLanes(page: Page): Promise<void> {
  // A parked worker (reclaimed while idle, lazy reconnect): its row says so, and its lane is blank (no pixel at all)
  // across the middle of its parked stretch. Every keepalive worker parks once after its first burst.
  const parked = await sampleStretch(page, 'parked', 6, 20_000);
  expect(parked.pixels.every((pixel) => pixel[3] === 0), `parked lane of worker ${parked.worker} drawn: ${JSON.stringify(parked.pixels)}`).toBe(true);

  const idle = await sampleStretch(page, 'idle', 6, 20_000);
  expect(idle.pixels.some((pixel) => close(pixel, IDLE_RGB)), `idle lane: ${JSON.stringify(idle.pixels)}`).toBe(true);

  // Busy: the legend's green, for a keepalive worker and for the one without keep-alives alike.
  const legendGreen = await page.locator('#legend .swatch.busy').evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(legendGreen).toBe(`rgb(${BUSY_RGB.join(', ')})`);
  for (const worker of [1, 4]) {
    const busy = await sampleStretch(page, 'busy', 6, 20_000, [worker]);
    expect(busy.pixels.filter((pixel) => close(pixel, BUSY_RGB)).length, `busy lane of worker ${worker}: ${JSON.stringify(busy.pixels)}`).toBeGreaterThanOrEqual(7);
  }
}

/** Every row offers the controls of its state: "resume" only while frozen, "cut connection" only with a connection. */
async function checkControls(page: Page): Promise<void> {
  const rows = await page.locator('#workers tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({
      state: (tr as HTMLElement).dataset.state ?? '',
      shown: [...tr.querySelectorAll('button')].filter((b) => !b.hidden && b.getClientRects().length > 0).map((b) => b.dataset.action ?? ''),
    })),
  );
  expect(rows.length).toBe(4);
  for (const { state, shown } of rows) {
    expect(shown.includes('resume'), `${state}: ${shown.join(',')}`).toBe(state === 'frozen');
    expect(shown.includes('cut'), `${state}: ${shown.join(',')}`).toBe(state === 'busy' || state === 'idle');
    expect(shown.includes('freeze'), `${state}: ${shown.join(',')}`).toBe(state !== 'frozen' && state !== 'dead');
  }
}

/** The legend has every glyph the timeline draws; every column a title and a footnote. */
async function checkExplanations(page: Page): Promise<void> {
  const legend = (await page.locator('#legend').textContent()) ?? '';
  for (const glyph of ['✕', '!', '◆', '▲', '❚❚', '▶']) expect(legend).toContain(glyph);
  for (const state of ['busy', 'idle', 'frozen', 'parked']) expect(legend).toContain(state);
  const heads = await page.locator('#workers thead th').evaluateAll((ths) => ths.map((th) => ({ col: (th as HTMLElement).dataset.col ?? '', title: th.getAttribute('title') ?? '' })));
  expect(heads.length).toBe(11);
  for (const { col, title } of heads) {
    expect(title.length, col).toBeGreaterThan(20);
    expect((await page.locator(`#glossary li[data-col="${col}"]`).textContent())?.length ?? 0, col).toBeGreaterThan(20);
  }
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

async function boxes(page: Page, selector: string): Promise<(Box & { text: string })[]> {
  return page.locator(selector).evaluateAll((els) =>
    els.map((el) => {
      // The box of the text itself (a label's element may be narrower than what it draws).
      const range = document.createRange();
      range.selectNodeContents(el);
      const t = range.getBoundingClientRect();
      const e = el.getBoundingClientRect();
      const r = { x: Math.min(t.x, e.x), y: Math.min(t.y, e.y), width: Math.max(t.right, e.right) - Math.min(t.x, e.x), height: Math.max(t.bottom, e.bottom) - Math.min(t.y, e.y) };
      return { x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height, text: el.textContent };
    }),
  );
}

describe('dashboard in headless Chromium', () => {
  it('shows the workers; a long tool_exec keeps its worker alive past the idle limit; lanes drawn as the legend says (1280 px)', async () => {
    const { page, problems } = await open(1280, 900);
    expect(await page.locator('#workers tbody tr').count()).toBe(4);
    expect(await page.locator(cell(4, 'name')).textContent()).toBe('worker 4 (no keep-alives)');
    // The worker without keep-alives loses its first work within the first idle limit: one of each, in the singular.
    await page.waitForFunction(() => (document.querySelector('#bare-story')?.textContent ?? '').includes('reclaimed 1 time, 1 piece of work lost'), undefined, {
      timeout: 10_000,
    });
    expect(await page.locator('#bare-story').textContent()).not.toMatch(/\b1 (times|pieces)\b/);
    // The lane label of that worker says what it is.
    expect(await page.locator('.lane-label[data-worker="4"]').innerText()).toBe('worker 4\nno keep-alives');

    // Every keepalive worker parks once after its first burst (a few seconds from now): watch for it from the start.
    const parkedSeen = page.waitForFunction(
      () => {
        const tr = document.querySelector<HTMLElement>('#workers tr[data-state="parked"]');
        if (!tr) return null;
        const server = tr.querySelector<HTMLElement>('.server-view');
        return { state: tr.querySelector('.state')?.textContent, server: server?.textContent, connected: server?.dataset.connected };
      },
      undefined,
      { timeout: 20_000 },
    );
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
    expect(await row.locator('.server-view').textContent()).toMatch(/^heard \d+ ms ago$/);
    expect(demo!.workers.get(1)!.view().reclaimed).toBe(reclaimedBefore);

    // A parked worker's row says so, and the server's view agrees it has no connection.
    const parkedText = (await (await parkedSeen).jsonValue()) as { state: string; server: string; connected: string };
    expect(parkedText.state).toBe('parked (no connection)');
    if (parkedText.connected === 'false') expect(parkedText.server).toMatch(/^reclaimed \(4000\)|^closed/);

    await checkLanes(page);
    await checkControls(page);
    await checkExplanations(page);
    // Nothing overflows sideways at this width either.
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('freeze: the server sees the worker go silent and declares it a dead peer; the worker is not reporting; then resume and reconnect, in that order', async () => {
    const { page, problems } = await open(1280, 900);
    const row = page.locator('#workers tbody tr[data-worker="2"]');
    const deadPeersBefore = demo!.server.reclaimer.stats().deadPeers;
    await row.getByRole('button', { name: 'start long tool_exec' }).click();
    await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'busy', cell(2, 'state'), { timeout: 5_000 });
    await row.getByRole('button', { name: 'freeze' }).click();
    const frozenAt = Date.now();
    await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === 'frozen', cell(2, 'state'), { timeout: 5_000 });
    // Frozen: only "resume" is offered, here and nowhere else.
    await checkControls(page);
    expect(await row.locator('button:visible').allTextContents()).toEqual(['resume']);
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
    // The server's view (measured in the server's process): the verdict, and a silence as long as the freeze; it
    // keeps ageing. The worker's own view is not a fresh "ms ago": its process reports nothing.
    await page.waitForFunction((selector) => (document.querySelector(selector)?.textContent ?? '').startsWith('dead peer'), cell(2, 'server-view'), { timeout: 5_000 });
    const heard = async (): Promise<number> => Number(await row.locator('.server-view').getAttribute('data-heard-ms'));
    const silentFor = Date.now() - frozenAt;
    const firstHeard = await heard();
    expect(firstHeard).toBeGreaterThanOrEqual(silentFor - 600);
    await page.waitForFunction(([selector, first]) => Number(document.querySelector(selector)?.getAttribute('data-heard-ms')) >= first + 1_000, [cell(2, 'server-view'), firstHeard] as const, {
      timeout: 5_000,
    });
    expect(await row.locator('.server-view').textContent()).toMatch(/^dead peer: terminated · last heard \d+\.\d s ago$/);
    expect(await row.locator('.worker-view').textContent()).toMatch(/^not reporting \(process stopped \d+\.\d s\)$/);
    await save(page, 'dashboard-frozen.png');
    // The lane: a frozen stretch in the model, and the ❚❚ and ◆ marks.
    const model = await page.evaluate(() => (window as unknown as { keepaliveDashboard: { timeline(): { lanes: { worker: number; segments: { state: string }[] }[] } } }).keepaliveDashboard.timeline());
    expect(model.lanes.find((lane) => lane.worker === 2)?.segments.some((segment) => segment.state === 'frozen')).toBe(true);

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
    await page.waitForFunction((selector) => /^heard \d+ ms ago$/.test(document.querySelector(selector)?.textContent ?? ''), cell(2, 'worker-view'), { timeout: 5_000 });
    await checkControls(page);
    await save(page, 'dashboard.png');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('at phone width (375 px) nothing overflows or overlaps, every control is on screen, lanes drawn as the legend says', async () => {
    const { page, problems } = await open(375, 812);
    await page.waitForSelector('#chart-timeline canvas', { timeout: 10_000 });
    await page.waitForSelector('.time-label', { timeout: 10_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await checkControls(page);
    const buttons = page.locator('#workers button:visible');
    expect(await buttons.count()).toBeGreaterThanOrEqual(4);
    for (const button of await buttons.all()) {
      const box = await button.boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(375);
    }
    // The time labels: at least two, inside the page, none overlapping another; the lane labels neither.
    const times = await boxes(page, '.time-label');
    const lanes = await boxes(page, '.lane-label');
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(lanes.length).toBe(4);
    for (const label of [...times, ...lanes]) {
      expect(label.x, label.text).toBeGreaterThanOrEqual(0);
      expect(label.x + label.width, label.text).toBeLessThanOrEqual(375);
    }
    const labels = [...times, ...lanes];
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) expect(overlaps(labels[i]!, labels[j]!), `${labels[i]!.text} / ${labels[j]!.text}`).toBe(false);
    }
    // Lane labels stay left of the drawing area.
    const model = await page.evaluate(() => (window as unknown as { keepaliveDashboard: { timeline(): { plot: { left: number } } } }).keepaliveDashboard.timeline());
    const canvasBox = await page.locator('#chart-timeline canvas').boundingBox();
    for (const label of lanes) expect(label.x + label.width).toBeLessThanOrEqual(canvasBox!.x + model.plot.left);
    await checkLanes(page);
    await checkExplanations(page);
    // "cut connection" on an idle worker: lost while no work is in flight, so it parks (lazy) instead of reconnecting.
    // The worker's own work may start in between (then it reconnects at once): a few tries, each bounded.
    let parked: number | null = null;
    for (let attempt = 0; attempt < 5 && parked === null; attempt++) {
      const idle = await page.waitForFunction(() => document.querySelector<HTMLElement>('#workers tr:not(.bare)[data-state="idle"]')?.dataset.worker ?? null, undefined, {
        timeout: 15_000,
      });
      const worker = Number(await idle.jsonValue());
      await page.locator(`#workers tr[data-worker="${String(worker)}"] button[data-action="cut"]`).click();
      const state = await page.waitForFunction((id) => {
        const value = document.querySelector<HTMLElement>(`#workers tr[data-worker="${String(id)}"]`)?.dataset.state;
        return value === 'parked' || value === 'busy' || value === 'reconnecting' ? value : null;
      }, worker, { timeout: 5_000 });
      if ((await state.jsonValue()) === 'parked') parked = worker;
    }
    expect(parked).not.toBeNull();
    const parkedRow = page.locator(`#workers tr[data-worker="${String(parked)}"]`);
    expect(await parkedRow.locator('.state').textContent()).toBe('parked (no connection)');
    expect(await parkedRow.locator('.worker-view').textContent()).toBe('no connection');
    expect(await parkedRow.locator('button:visible').allTextContents()).toEqual(['start long tool_exec', 'freeze']);
    await save(page, 'dashboard-phone.png');
    expect(problems).toEqual([]);
    await page.close();
  });
});
