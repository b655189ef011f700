import { play } from './script.js';

// One line per event and per command the core emits.
for (const line of play()) process.stdout.write(`${line}\n`);
