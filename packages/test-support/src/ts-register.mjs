// `node --import keepalive-test-support/ts-register fixture.mjs`: lets a fixture import a package's .ts sources
// (no build step). The tests pass its path: `createRequire(import.meta.url).resolve('keepalive-test-support/ts-register')`.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
