import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build as esbuild, type Metafile } from 'esbuild';
import { build as viteBuild, createLogger } from 'vite';
import { describe, expect, it } from 'vitest';

/**
 * What a browser program gets from `@keepalive/websocket-transport`: it bundles with esbuild and with Vite for the
 * browser with no aliases, externals or polyfills (the `browser` export condition picks the runtime-neutral entry:
 * no `node:` module, no `Buffer`, no `ws`), and its size, gzipped, beside its peers (issue 25: partysocket,
 * reconnecting-websocket, graphql-ws, phoenix, centrifuge and socket.io-client) measured the same way in the same run,
 * and the marginal cost of each optional part a program can leave out.
 */

const APPS = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));

/**
 * The peers, each as the same minimal app (connect to a URL, send one message, listen for messages) in
 * `fixtures/apps/<fixture>.js`, bundled from the package a program installs (its pinned devDependency).
 */
const PEERS = [
  { fixture: 'partysocket', name: 'partysocket' },
  { fixture: 'reconnecting-websocket', name: 'reconnecting-websocket' },
  { fixture: 'graphql-ws', name: 'graphql-ws' },
  { fixture: 'phoenix', name: 'phoenix' },
  { fixture: 'centrifuge', name: 'centrifuge' },
  { fixture: 'socketio', name: 'socket.io-client' },
] as const;

/**
 * The optional parts of the client, each as the minimal app with that part added; its marginal cost is the
 * difference from the minimal app (a measurement, not a budget). `without` turns it round: the part is in the minimal
 * app, and the fixture leaves it out.
 *
 * Separable today: only the resumable session (`resume: resumable()`: the wire format, the delivery machine, the
 * client end; nothing of it is bundled without it). Measured to show they are not separable yet:
 * `reconnect.whenIdle: 'lazy'` (an option value: the lazy park is in the connection machine, in every bundle) and the
 * activity API (the client's shell builds `client.activity` in every client and the connection machine reads its
 * totals, so a program that never starts work on it saves only its own call). Not separable yet, so not measured:
 * everything else that lives in the connection machine (backoff, connect timeout, queue accounting, unconfirmed-message
 * reports, idle read timeout, dead-peer detection, the browser lifecycle: `lifecycle: false`, `deadPeerDetection:
 * false` and `keepaliveFrame` are option values, not code a bundler can drop), the option validation, the default
 * scheduler (bundled even when a program passes its own: the choice is made at run time) and the diagnostic sink.
 */
const OPTIONAL_PARTS = [
  { fixture: 'keepalive-resume', name: 'resume: resumable()', without: false },
  { fixture: 'keepalive-lazy', name: "reconnect.whenIdle: 'lazy' (same code)", without: false },
  { fixture: 'keepalive-no-activity', name: 'client.activity (not separable)', without: true },
] as const;

/** The pinned version of each peer, from this package's devDependencies (printed with the table). */
const VERSIONS = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies;

/**
 * The enforced budget for the minimal app, minified and gzipped (level 9): 19,309 B measured, rounded up (issue 12's
 * size work brought it to 18,030 B; issue 16 added 737 B: the lane scheduler with its O(1) rotation, the core's
 * driver paths `stepInPlace` and step options, and the subscribers' lazy read; the client shell that the WebSocket
 * and SSE clients now share, instead of each carrying a copy, added 125 B; issues 23 and 24 added 417 B: the
 * in-band proof command and the back-off close codes (B17), the last keep-alive that confirms a work item's writes,
 * the idle reclaim that does not grow the backoff, the ping-flood minimum read from the close (B13, B16), and the
 * confirming keep-alive after a write while idle; the count of written messages moved into the resume layer). Issue
 * 25 is where the client is to get lighter. In the bundle: the
 * connection machine (phases, backoff, queue accounting, unconfirmed-message reports, lazy park, idle read
 * timeout, browser lifecycle), the session machine, the client driver and its option validation, the shared
 * scheduler (lanes), the activity API and the diagnostic sink. Not in it since issue 12's size work: the
 * resumable session (the wire format, the delivery machine, the client end and its translation: about 9 kB minified),
 * which a program bundles only when it passes `resume: resumable()`, and the server-side heartbeat classification.
 * The issue's target is 6 kB gzipped; the client is three times that, so the budget holds today's size against growth
 * while the target stands (see the closing notes of issues 12 to 14). The test also prints the core's connection
 * machine bundled alone (`fixtures/apps/core-machine.js`): about 9.3 kB gzipped, over the target before any driver,
 * socket or scheduler is added, since every rule the client runs lives in it, in one copy.
 */
const BUDGET_GZIP_BYTES = 19_400;

/** Issue 12's target for the minimal app, gzipped; printed beside the measured figures (the budget above is what is enforced). */
const TARGET_GZIP_BYTES = 6_000;

/** The bytes each input contributes to the bundle (minified), largest first: where the size is. */
function composition(metafile: Metafile): string {
  const inputs = Object.values(metafile.outputs)[0]?.inputs ?? {};
  return Object.entries(inputs)
    .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
    .sort(([, a], [, b]) => b.bytesInOutput - a.bytesInOutput)
    .map(([file, { bytesInOutput }]) => `  ${String(bytesInOutput).padStart(7)} B  ${file.replace(/^(\.\.\/)+/, '')}`)
    .join('\n');
}

async function bundle(app: string): Promise<{ code: Uint8Array; metafile: Metafile }> {
  const result = await esbuild({ entryPoints: [`${APPS}${app}.js`], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent' });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new Error('no output');
  return { code, metafile: result.metafile };
}

describe('bundling the client for the browser', () => {
  it('esbuild --platform=browser: no aliases, externals or polyfills; nothing Node-only in the bundle', async () => {
    const { code, metafile } = await bundle('keepalive');
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.some((file) => file.includes('websocket-transport/dist/index.js'))).toBe(true);
    expect(inputs.filter((file) => /node_modules\/(\.pnpm\/)?ws[@/]|^node:|index\.node\.js$/.test(file))).toEqual([]);
    const text = new TextDecoder().decode(code);
    expect(text).not.toMatch(/["']node:/);
    expect(text).not.toMatch(/\brequire\(/);
    // No free Node globals: `process` only as a guarded globalThis property, `Buffer` never.
    expect(text).not.toMatch(/(?<![.\w$])(process|Buffer)\b(?!:)/);
    // A program that does not pass `resume: resumable()` bundles no wire format (B14's resumable session).
    expect(inputs.filter((file) => /core\/dist\/(wire|delivery|resume-layer)\.js$/.test(file) && (metafile.outputs[Object.keys(metafile.outputs)[0] ?? '']?.inputs[file]?.bytesInOutput ?? 0) > 0)).toEqual([]);
    expect(text).not.toContain('resume_unsupported');
  });

  it('Vite builds the same app for the browser with its defaults and no warnings about Node modules', async () => {
    const warnings: string[] = [];
    const logger = createLogger('warn', { allowClearScreen: false });
    logger.warn = (message) => {
      warnings.push(message);
    };
    logger.warnOnce = (message) => {
      warnings.push(message);
    };
    const output = await viteBuild({ root: APPS, logLevel: 'warn', customLogger: logger, build: { write: false } });
    const results = Array.isArray(output) ? output : [output];
    const chunks = results.flatMap((result) => ('output' in result ? result.output : [])).filter((item) => item.type === 'chunk');
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.some((chunk) => chunk.code.includes('connect_timeout'))).toBe(true);
    expect(warnings.filter((warning) => /externalized|node:|Buffer|process/.test(warning))).toEqual([]);
  });

  it(`the minimal app stays within its budget (${BUDGET_GZIP_BYTES} B gzipped), measured beside its peers`, async () => {
    const sizes: Record<string, { minified: number; gzipped: number }> = {};
    let keepaliveComposition = '';
    for (const app of ['keepalive', ...PEERS.map(({ fixture }) => fixture)]) {
      const { code, metafile } = await bundle(app);
      sizes[app] = { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
      if (app === 'keepalive') keepaliveComposition = composition(metafile);
    }
    const row = (fixture: string, name: string): string => `${name.padEnd(40)} ${String(sizes[fixture]?.minified).padStart(7)} B min  ${String(sizes[fixture]?.gzipped).padStart(6)} B gz`;
    const peerRows = PEERS.map(({ fixture, name }) => row(fixture, `${name} ${VERSIONS[name] ?? '?'}`));
    console.log(`browser bundle of a minimal app (esbuild, minified, gzip -9):\n  ${[row('keepalive', 'keepalive'), ...peerRows].join('\n  ')}`);
    console.log(`keepalive's minimal app by module (bytes in the minified output):\n${keepaliveComposition}`);
    // The marginal cost of each optional part over the minimal app (measured, not enforced).
    const signed = (bytes: number): string => (bytes >= 0 ? `+${String(bytes)}` : String(bytes));
    const marginal: string[] = [];
    let resumeApp: { code: Uint8Array; metafile: Metafile } | undefined;
    for (const { fixture, name, without } of OPTIONAL_PARTS) {
      const app = await bundle(fixture);
      expect(Object.keys(app.metafile.inputs).some((file) => file.includes('websocket-transport/dist/client.js'))).toBe(true);
      if (fixture === 'keepalive-resume') resumeApp = app;
      const size = { minified: app.code.byteLength, gzipped: gzipSync(app.code, { level: 9 }).byteLength };
      sizes[fixture] = size;
      const sign = without ? -1 : 1;
      const added = { minified: sign * (size.minified - sizes.keepalive!.minified), gzipped: sign * (size.gzipped - sizes.keepalive!.gzipped) };
      marginal.push(`${name.padEnd(40)} ${signed(added.minified).padStart(7)} B min  ${signed(added.gzipped).padStart(6)} B gz   (app: ${String(size.minified)} B min, ${String(size.gzipped)} B gz)`);
    }
    console.log(`marginal cost of keepalive's optional parts (bytes a part adds to the minimal app; the activity API, which it uses: over the same app without it):\n  ${marginal.join('\n  ')}`);
    // Every peer was really measured (checked here, before the budget, so a budget overrun still reports the table's peers).
    for (const { fixture } of PEERS) expect(sizes[fixture]!.gzipped, fixture).toBeGreaterThan(1_000);
    // The same app with `resume: resumable()` pays for the resumable session, and only it does.
    if (resumeApp === undefined) throw new Error('keepalive-resume not measured');
    const resumeSize = sizes['keepalive-resume']!;
    expect(new TextDecoder().decode(resumeApp.code)).toContain('resume_unsupported');
    expect(resumeSize.gzipped).toBeGreaterThan(sizes.keepalive!.gzipped);
    // The floor under any client built on the core: its connection machine alone, driven by hand (no driver, socket,
    // scheduler or lifecycle wiring). Every rule the issue asks the browser client to run is in it, in one copy.
    const machine = await bundle('core-machine');
    const machineInputs = Object.keys(machine.metafile.inputs);
    const machineGzip = gzipSync(machine.code, { level: 9 }).byteLength;
    console.log(`  the core's connection machine alone: ${String(machine.code.byteLength)} B min, ${String(machineGzip)} B gz (target for the whole app: ${String(TARGET_GZIP_BYTES)} B gz)`);
    expect(machineInputs.some((file) => file.includes('core/dist/connection.js'))).toBe(true);
    expect(machineInputs.filter((file) => /websocket-transport|node-timers/.test(file))).toEqual([]);
    expect(machineGzip).toBeLessThan(sizes.keepalive!.gzipped);
    expect(sizes.keepalive!.gzipped).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
    // The peers were measured: the comparison is real.
    expect(sizes.partysocket!.gzipped).toBeGreaterThan(1_000);
    expect(sizes.socketio!.gzipped).toBeGreaterThan(5_000);
  });
});
