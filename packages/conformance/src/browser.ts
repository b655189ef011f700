import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ScenarioChild } from './child.js';
import { hostedRun } from './hosted-run.js';
import { PACKAGE_DIR, type Runtime } from './runtimes.js';

/**
 * The browser as a runtime of the suite: the same fixtures/scenario.mjs, bundled for the browser with esbuild (its
 * entry, fixtures/browser-entry.mjs, hands it the browser kit), served on 127.0.0.1 and run in a headless Chromium
 * page (Debian's package, driven by playwright-core). The page's console carries the scenario's lines; a page that
 * finishes prints `page-exit` (its clean exit), an uncaught error `page-error`.
 */

/** Chromium's flags on this machine (no background networking: the network is closed but for loopback). */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Host {
  readonly browser: Browser;
  readonly server: Server;
  readonly url: string;
}

let host: Promise<Host> | null = null;
const pages = new Set<Page>();
/** Contexts of finished pages being closed: `closeBrowser` waits for them before it closes the browser under them. */
const closing = new Set<Promise<void>>();

async function startHost(executablePath: string): Promise<Host> {
  const result = await build({ entryPoints: [join(PACKAGE_DIR, 'fixtures/browser-entry.mjs')], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  const bundle = result.outputFiles[0]?.text ?? '';
  const server = createServer((request, response) => {
    if (request.url?.startsWith('/scenario.js') === true) {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(bundle);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><meta charset="utf-8"><title>conformance</title><script type="module" src="/scenario.js"></script>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  const browser = await chromium.launch({ executablePath, timeout: 60_000, args: ARGS });
  return { browser, server, url: `http://127.0.0.1:${address.port}/` };
}

/** Runs one scenario in a fresh page (its own browser context). */
export function runInPage(runtime: Runtime, scenario: string, args: readonly string[], timeoutMs: number): ScenarioChild {
  const started = (host ??= startHost(runtime.command));
  let page: Page | null = null;
  const release = (): void => {
    const done = page;
    if (done !== null) {
      pages.delete(done);
      // Settled either way: a context the browser already closed (teardown raced the page's end) has nothing left to close.
      const closed: Promise<void> = done
        .context()
        .close()
        .catch(() => undefined)
        .finally(() => closing.delete(closed));
      closing.add(closed);
    }
  };
  return hostedRun(runtime, scenario, timeoutMs, { host: 'a browser page', errorType: 'page-error', release }, async (run) => {
    const { browser, url } = await started;
    const context = await browser.newContext();
    const opened = await context.newPage();
    page = opened;
    pages.add(opened);
    opened.on('console', (message) => {
      const text = message.text();
      run.feed(`${text}\n`);
      if (text.includes('"type":"page-exit"')) run.end(0, false);
      else if (text.includes('"type":"page-error"')) run.end(1, false);
    });
    await opened.goto(`${url}?args=${encodeURIComponent(JSON.stringify([scenario, ...args]))}`);
  });
}

/** Closes every page, the browser and the page server. */
export async function closeBrowser(): Promise<void> {
  if (host === null) return;
  const { browser, server } = await host;
  host = null;
  await Promise.all(closing);
  for (const page of pages) await page.context().close();
  pages.clear();
  await browser.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
