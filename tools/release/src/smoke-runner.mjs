// @ts-check
/**
 * Runs inside the temporary project, on Node, Bun and Deno alike: imports every entry point of every installed
 * package, then runs each package's smoke scripts. release-dry.mjs copies this file next to `plan.json` and the
 * packages' `smoke/` folders. Exits 1 on the first failure, or when something keeps the event loop alive after the
 * last smoke script finished (a timer or socket a package forgot to release).
 */

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
