import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import type { ScenarioChild } from './child.js';
import { hostedRun } from './hosted-run.js';
import { PACKAGE_DIR, type Runtime } from './runtimes.js';

/**
 * workerd (Cloudflare Workers' runtime) as a runtime of the suite: the same fixtures/scenario.mjs, bundled as a
 * Worker bundles it (esbuild, the `workerd` export condition first; its entry, fixtures/workerd-entry.mjs, hands it
 * the workerd kit), run by the workerd binary through Miniflare. workerd allows I/O (sockets, timers) only on
 * behalf of a request and runs a module once per isolate, so each scenario gets a fresh Miniflare (a fresh isolate)
 * and runs inside the one request that asks for it; its lines come back streamed in the response body. A body that
 * ends after `worker-exit` is a clean exit.
 */

/** The compatibility date the scenarios run with. */
const COMPATIBILITY_DATE = '2026-07-01';

const require = createRequire(import.meta.url);

/** The workerd binary Miniflare runs (the `workerd` package it depends on). */
export function workerdBinary(): string {
  const fromMiniflare = createRequire(require.resolve('miniflare'));
  return join(dirname(fromMiniflare.resolve('workerd/package.json')), 'bin/workerd');
}

let bundle: Promise<string> | null = null;
const running = new Set<Miniflare>();

async function bundleScenario(): Promise<string> {
  const result = await build({
    entryPoints: [join(PACKAGE_DIR, 'fixtures/workerd-entry.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    write: false,
    logLevel: 'silent',
    absWorkingDir: PACKAGE_DIR,
  });
  return result.outputFiles[0]?.text ?? '';
}

/** Runs one scenario in a fresh workerd isolate, inside one request. */
export function runInWorkerd(runtime: Runtime, scenario: string, args: readonly string[], timeoutMs: number): ScenarioChild {
  bundle ??= bundleScenario();
  let mf: Miniflare | null = null;
  const release = (): void => {
    const done = mf;
    if (done !== null) {
      running.delete(done);
      void done.dispose().catch(() => undefined);
    }
  };
  return hostedRun(runtime, scenario, timeoutMs, { host: 'a Worker', errorType: 'worker-error', release }, async (run) => {
    const script = await bundle;
    if (run.over()) return;
    // The modules given as they are: the scenario's `import(kitPath)` for the other runtimes (never taken here, the
    // kit is given) is a dynamic specifier Miniflare's own module scan would refuse.
    mf = new Miniflare({ modules: [{ type: 'ESModule', path: 'worker.mjs', contents: script }], compatibilityDate: COMPATIBILITY_DATE });
    running.add(mf);
    const url = await mf.ready;
    const response = await mf.dispatchFetch(`${url.href}?args=${encodeURIComponent(JSON.stringify([scenario, ...args]))}`);
    const body = response.body;
    if (body === null) throw new Error('the Worker answered without a body');
    const decoder = new TextDecoder();
    let clean = false;
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      if (text.includes('"type":"worker-exit"')) clean = true;
      run.feed(text);
    }
    run.end(clean ? 0 : 1, false);
  });
}

/** Disposes every workerd still running a scenario (test teardown). */
export async function closeWorkerd(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((mf) => mf.dispose().catch(() => undefined)));
}
