import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { createRedisSessionStore } from '@keepalive/redis';
import { createKeepaliveClient, keepAlive, resumable } from '@keepalive/websocket-transport';

if (process.argv[2] === 'serve') {
  // One process of the fleet (what a deploy replaces): its resumable sessions kept in Redis.
  const store = createRedisSessionStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[3]) });
  const heartbeat = keepAlive(wss, { resume: { store } });
  heartbeat.sessions.on('session', ({ session, resumed, restored }) => {
    if (resumed && !restored) return; // the same object as before: its listeners are in place
    session.on('message', (message) => session.send(`${String(message)}: answered by process ${String(process.pid)}`));
  });
  const shutDown = async (endSessions: boolean): Promise<void> => {
    // By default the hub hands its sessions over: no new connections, each session's last state written to Redis,
    // then its socket closed with 1012 (service restart); the client resumes on the next process. With
    // endSessions they end for good instead: 1001, removed from Redis, their `close` events hand back.
    heartbeat.close({ endSessions });
    await heartbeat.closed;
    wss.close();
    await store.close();
    process.disconnect();
  };
  process.once('SIGTERM', () => void shutDown(false)); // a deploy or a restart: the next process takes over
  process.once('message', () => void shutDown(true)); // the service is retired: nobody takes over
  await once(wss, 'listening');
  process.send?.((wss.address() as AddressInfo).port);
} else {
  // The deploy, in miniature: a process, a client, SIGTERM, the next process on the same port, then retirement.
  const start = async (port: number) => {
    const child = fork(fileURLToPath(import.meta.url), ['serve', String(port)]);
    const [listening] = (await once(child, 'message')) as [number];
    return { child, port: listening };
  };
  const first = await start(0);
  const client = createKeepaliveClient(`ws://127.0.0.1:${String(first.port)}`, { resume: resumable(), reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
  client.on('session', ({ status }) => console.log(`session ${status}`));
  const reply = () =>
    new Promise<string>((resolve) => {
      const off = client.on('message', ({ data }) => {
        off();
        resolve(String(data));
      });
    });
  let answer = reply();
  client.send('before the deploy');
  console.log(await answer); // before the deploy: answered by process <first>

  first.child.kill('SIGTERM');
  await once(first.child, 'exit');
  const second = await start(first.port);
  answer = reply();
  client.send('after the deploy'); // kept by the client until the session is back, then delivered once
  console.log(await answer); // session resumed, then: after the deploy: answered by process <second>

  second.child.send('retire');
  await once(second.child, 'exit');
  await client.close();
}
