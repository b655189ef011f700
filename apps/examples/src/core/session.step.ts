import { createSessionState, step, type SessionCommand } from '@keepalive/core';

// One command buffer, reused: no allocation per event on a hot path.
const out: SessionCommand[] = [];
let state = createSessionState({ heartbeatIntervalMs: 1_000 }, 0);
state = step(state, { type: 'attach', now: 0 }, out);
state = step(state, { type: 'start', reason: 'api_call', now: 0 }, out);
for (const command of out) console.log(command.type); // what a driver carries out: 'arm' (a timer), ...
out.length = 0;
console.log(state.total); // 1
