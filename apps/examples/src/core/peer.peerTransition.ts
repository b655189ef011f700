import { createPeerState, definePeerConfig, peerDeadline, peerTransition } from '@keepalive/core';

// A server's view of one client, in simulated time: a ping every 1 s, dead when a ping goes unanswered for 500 ms.
const config = definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 500, idleCloseMs: null });
let peer = createPeerState(config, 0, 0.5); // phase 0.5: the first ping half an interval after connecting
let commands;
[peer, commands] = peerTransition(peer, { type: 'timeout', now: peerDeadline(peer) ?? 0 }); // at 500
console.log(commands.map((command) => command.type)); // [ 'ping', 'arm', 'arm' ]: the ping, its pong deadline, the next ping
[peer, commands] = peerTransition(peer, { type: 'inbound', kind: 'pong', now: 520 }); // answered: nothing owed
[peer, commands] = peerTransition(peer, { type: 'timeout', now: peerDeadline(peer) ?? 0 }); // at 1500: the next ping
[peer, commands] = peerTransition(peer, { type: 'timeout', now: peerDeadline(peer) ?? 0 }); // at 2000: no answer
console.log(commands.map((command) => command.type)); // [ 'diagnostic', 'close', 'cancel' ]: peer_dead, close the socket, stop pinging
console.log(peer.closed, peerDeadline(peer)); // true null
