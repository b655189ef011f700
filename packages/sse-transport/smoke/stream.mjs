// Smoke test for the published @keepalive/sse-transport (see CONTRIBUTING.md, "Smoke tests"): the server end as a
// Fetch Response and the client end on a fetch that hands it that Response in-process (no network), on the runtime's
// real timers: keep-alive comments while busy, events with ids, quiet when idle, then both ends released.
import { createSseClient, createSseResponse, formatSseEvent } from '@keepalive/sse-transport';

// Any object with headers.get() is a request here (a Fetch Request in real servers).
const server = createSseResponse({ headers: { get: () => null } }, { heartbeatIntervalMs: 20, reconnect: { initialDelayMs: 50 } });
const client = createSseClient('http://127.0.0.1/events', {
  fetch: () => Promise.resolve(server.response),
  heartbeatIntervalMs: 20,
  pongTimeoutMs: 200,
  reconnect: { whenIdle: 'lazy' },
});
const comments = [];
const messages = [];
client.on('comment', () => comments.push(performance.now()));
const gotThree = new Promise((resolve) => {
  client.on('message', (message) => {
    messages.push(message);
    if (messages.length === 3) resolve();
  });
});
const opened = new Promise((resolve) => client.on('open', resolve));
await opened;

const release = server.activity.start('smoke');
const tick = (id) => server.send({ id: String(id), event: 'tick', data: `tick ${id}` });
await new Promise((resolve) => setTimeout(resolve, 70));
tick(1);
tick(2);
tick(3);
await gotThree;
release();
const busyComments = comments.length;
server.close();
const closed = await server.closed;
const clientClosed = await client.close();

if (busyComments < 2) throw new Error(`expected keep-alive comments every 20 ms while busy, got ${busyComments}`);
if (messages.map((m) => `${m.lastEventId}:${m.event}:${m.data}`).join(',') !== '1:tick:tick 1,2:tick:tick 2,3:tick:tick 3') throw new Error(`unexpected messages ${JSON.stringify(messages)}`);
if (client.lastEventId !== '3') throw new Error(`lastEventId ${client.lastEventId}`);
if (closed.cause !== 'closed' || closed.events !== 3) throw new Error(`server stream closed as ${JSON.stringify(closed)}`);
if (clientClosed.cause !== 'closed') throw new Error(`client closed as ${clientClosed.cause}`);
if (formatSseEvent({ data: 'a\nb' }) !== 'data: a\ndata: b\n\n') throw new Error('formatSseEvent');
