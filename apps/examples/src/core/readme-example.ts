import { createSessionState, pollTimeout, transition } from '@keepalive/core';

let state = createSessionState({ heartbeatIntervalMs: 1_000, idleDelayMs: 5_000 });
let commands;
[state, commands] = transition(state, { type: 'attach', now: 0 });
[state, commands] = transition(state, { type: 'start', reason: 'api_call', now: 0 });
// [{ type: 'arm', timer: 'heartbeat', deadline: 1000 }]
[state, commands] = transition(state, { type: 'timeout', now: pollTimeout(state) ?? 0 });
// [{ type: 'diagnostic', level: 'debug', name: 'heartbeat', fields: { total: 1 } },
//  { type: 'send' }, { type: 'arm', timer: 'heartbeat', deadline: 2000 }]
[state, commands] = transition(state, { type: 'stop', reason: 'api_call', now: 1_500 });
// [{ type: 'arm', timer: 'idle', deadline: 6500 }, { type: 'cancel', timer: 'heartbeat' }]
