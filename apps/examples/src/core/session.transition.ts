import { createSessionState, transition } from '@keepalive/core';
let state = createSessionState({ heartbeatIntervalMs: 1_000 });
let commands;
[state, commands] = transition(state, { type: 'attach', now: 0 });
[state, commands] = transition(state, { type: 'start', reason: 'api_call', now: 5 });
// commands: [{ type: 'arm', timer: 'heartbeat', deadline: 1005 }]
