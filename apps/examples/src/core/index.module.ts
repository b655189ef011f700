import { createSessionState, transition } from '@keepalive/core';
let state = createSessionState({ heartbeatIntervalMs: 1_000 });
let commands;
[state, commands] = transition(state, { type: 'attach', now: 0 });
[state, commands] = transition(state, { type: 'start', reason: 'api_call', now: 0 });
[state, commands] = transition(state, { type: 'timeout', now: 1_000 });
// commands: heartbeat diagnostic, send, re-arm at 2000
