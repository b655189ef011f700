import { createReconnectState, reconnectTransition } from '@keepalive/core';
let [state, commands] = reconnectTransition(createReconnectState({}, 7), { type: 'connect', now: 0 });
// commands: [{ type: 'connect', attempt: 0 }]
