// @ts-check
/**
 * Runs inside the temporary project, on Node, Bun and Deno alike: imports every entry point of every installed
 * package, then runs each package's smoke scripts. release-dry.mjs copies this file next to `plan.json` and the
 * packages' `smoke/` folders. Exits 1 on the first failure, or when something keeps the event loop alive after the
 * last smoke script finished (a timer or socket a package forgot to release).
 */

import { createRequire } from 'node:module';

/** @typedef {{ specifier: string, json: boolean }} PlannedEntry */
/** @typedef {{ file: string, families: string[] }} PlannedSmoke */
/** @typedef {{ name: string, folder: string, families: string[], entries: PlannedEntry[], smoke: PlannedSmoke[] }} PlannedPackage */

/** How long the process may stay alive after the last smoke script before it counts as a leak. */
const LINGER_LIMIT_MS = 5_000;

const runtimeGlobals = /** @type {{ Deno?: { version: { deno: string }, unrefTimer(id: number): void }, Bun?: { version: string } }} */ (
  /** @type {unknown} */ (globalThis)
);
const family = runtimeGlobals.Deno ? 'deno' : runtimeGlobals.Bun ? 'bun' : 'node';
const version = runtimeGlobals.Deno?.version.deno ?? runtimeGlobals.Bun?.version ?? process.versions.node;

/**
 * On Node, every entry point is also loaded with `require()`, as a CommonJS program would: the packages are ES modules
 * only, and Node loads them from `require()` from 20.19 and 22.12 on (the range `engines.node` names). It must give the
 * same exports as `import`.
 */
const requireEsm = family === 'node' ? createRequire(import.meta.url) : null;

const planModule = /** @type {{ default: { packages: PlannedPackage[] } }} */ (
  await import(new URL('./plan.json', import.meta.url).href, { with: { type: 'json' } })
);

console.log(`smoke on ${family} ${version}`);
for (const pkg of planModule.default.packages) {
  if (!pkg.families.includes(family)) {
    console.log(`skip  ${pkg.name} (its engines do not include ${family})`);
    continue;
  }
  for (const entry of pkg.entries) {
    await step(`import ${entry.specifier}`, async () => {
      if (entry.json) {
        const json = /** @type {{ default: unknown }} */ (await import(entry.specifier, { with: { type: 'json' } }));
        if (typeof json.default !== 'object' || json.default === null) throw new Error('not a JSON object');
        return 'JSON';
      }
      const namespace = /** @type {Record<string, unknown>} */ (await import(entry.specifier));
      const names = Object.keys(namespace);
      if (names.length === 0) throw new Error('the module exports nothing');
      return `${names.length} exports`;
    });
    if (requireEsm !== null && !entry.json) {
      await step(`require ${entry.specifier}`, async () => {
        const imported = Object.keys(/** @type {Record<string, unknown>} */ (await import(entry.specifier))).sort();
        const required = Object.keys(/** @type {Record<string, unknown>} */ (requireEsm(entry.specifier))).filter((name) => name !== '__esModule' && name !== 'module.exports').sort();
        if (required.join() !== imported.join()) throw new Error(`require() gives ${required.length} exports, import ${imported.length}`);
        return `${required.length} exports, as import`;
      });
    }
  }
  for (const smoke of pkg.smoke) {
    if (!smoke.families.includes(family)) continue;
    await step(`smoke  ${pkg.folder}/${smoke.file}`, async () => {
      await import(new URL(`./smoke/${pkg.folder}/${smoke.file}`, import.meta.url).href);
      return 'passed';
    });
  }
}

const guard = setTimeout(() => {
  console.error(`FAIL  the process is still alive ${LINGER_LIMIT_MS} ms after the last smoke script: a timer or socket was left open`);
  process.exit(1);
}, LINGER_LIMIT_MS);
if (typeof guard === 'number') runtimeGlobals.Deno?.unrefTimer(guard);
else guard.unref();

/**
 * @param {string} label
 * @param {() => Promise<string>} body
 */
async function step(label, body) {
  const started = performance.now();
  try {
    const detail = await body();
    console.log(`ok    ${label} (${detail}, ${Math.round(performance.now() - started)} ms)`);
  } catch (error) {
    console.error(`FAIL  ${label}`);
    console.error(error);
    process.exit(1);
  }
}
