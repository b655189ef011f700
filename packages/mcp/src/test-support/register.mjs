// `node --import ./register.mjs fixture.mjs`: lets a fixture import the package's .ts sources (no build step).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
