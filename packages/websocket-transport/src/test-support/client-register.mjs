// `node --import ./client-register.mjs fixture.mjs`: lets a fixture import the client's .ts sources.
import { register } from 'node:module';

register('./client-ts-hooks.mjs', import.meta.url);
