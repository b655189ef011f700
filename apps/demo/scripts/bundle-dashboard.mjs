// Bundles the dashboard for the browser: src/dashboard/app.js with the library's client and uPlot, into
// dist/dashboard/app.js. No aliases, externals or polyfills: the `browser` export condition picks the
// runtime-neutral entry of @keepalive/websocket-transport.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  entryPoints: [`${root}src/dashboard/app.js`],
  outfile: `${root}dist/dashboard/app.js`,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'warning',
});
