import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, resultOf, runScenario } from './child.js';
import { connectPeer, keepalivesBetween, startObserver, within, type ObservedConnection, type Observer } from './observer.js';
import { closeBrowser } from './browser.js';
import { closeWorkerd } from './workerd.js';
import { clientRuntimes, runtimes, versionOf, type Runtime } from './runtimes.js';

/**
 * The adapter contract, run on every runtime: each scenario (fixtures/scenario.mjs, written once) runs in a child
 * process of the runtime under test and talks to real sockets on 127.0.0.1; the test holds the other end.
 * Intervals are 100 ms and the bounds leave room for a loaded 2-core machine.
 */

const RUNTIMES = runtimes();
const CLIENT_RUNTIMES = clientRuntimes();
const versions = new Map<string, string>();

beforeAll(() => {
  for (const runtime of CLIENT_RUNTIMES) versions.set(runtime.id, versionOf(runtime));
  const table = CLIENT_RUNTIMES.map((runtime) => `  ${runtime.id.padEnd(7)} ${versions.get(runtime.id) ?? '?'}  (${runtime.command})`).join('\n');
  console.log(`conformance runtimes:\n${table}`);
});

afterEach(async () => {
  killAll();
  await closeWorkerd();
});

let observer: Observer;
beforeAll(async () => {
  observer = await startObserver();
});
afterAll(async () => {
  killAll();
  await closeBrowser();
  await closeWorkerd();
  await observer.close();
});

/** The connections the scenario opened to the observer (they arrive in order). */
function connectionsSince(before: number): ObservedConnection[] {
  return observer.connections.slice(before);
}

/** What the event-API scenario must show on every runtime (right after `reconnect()`, attempt 0 is `connecting`). */
function expectEventApi(runtime: Runtime, result: Record<string, unknown>): void {
  expect(result).toMatchObject({ rejected: 4401, firstCause: 'rejected', rejectedState: 'closed', restartState: 'connecting', openAttempt: 0, threw: false });
  // Each once-listener heard the first open only; the signal's listener was removed by the abort; the removed one never ran.
  expect(result.calls).toEqual({ once: 1, listenerOnce: 1, signalled: 1, removed: 0 });
  // node:events' once() works on the client wherever the runtime has node:events.
  expect(result.nodeEventsOnce).toBe(runtime.family === 'node' || runtime.family === 'bun' || runtime.family === 'deno');
  expect(result.got).toEqual(['echo:1', 'echo:2', 'echo:3']);
  expect(result.iteratorDone).toBe(true);
  expect(result.tailSeen).toEqual(['echo:4']);
  expect(result.secondCause).toBe('closed');
  expect(result.afterClose).toBe('closed');
}

describe('the runtimes', () => {
  it('are the ones the contract is proven on: Node 20, Node 24, Bun and Deno (and, for the client, Chromium and workerd)', () => {
    expect(versions.get(RUNTIMES[0]?.id ?? '')).toMatch(/^v\d+\./);
    expect(versions.get('node24')).toMatch(/^v24\./);
    expect(versions.get('bun')).toMatch(/^1\./);
    expect(versions.get('deno')).toMatch(/^deno 2\./);
    expect(versions.get('chromium')).toMatch(/^Chromium \d+\./);
    expect(versions.get('workerd')).toMatch(/^workerd \d{4}-\d{2}-\d{2}/);
  });
});

describe.each(RUNTIMES.map((runtime) => [runtime.id, runtime] as const))('%s', (_id: string, runtime: Runtime) => {
  it('keeps alive while busy, is silent while idle, and notices idleness (S4, S5, S6, B5)', async () => {
    const before = observer.connections.length;
    const result = await resultOf(runScenario(runtime, 'busy-idle', [observer.url]));
    const [connection] = connectionsSince(before);
    expect(connection).toBeDefined();
    const busy = keepalivesBetween(connection!, 'busy', 'idle');
    const idle = keepalivesBetween(connection!, 'idle', 'end');
    // 650 ms at 100 ms: 6 on time; a late tick skips rather than bursts (B9).
    expect(busy.length).toBeGreaterThanOrEqual(3);
    expect(busy.length).toBeLessThanOrEqual(7);
    expect(result.busySent).toBe(busy.length);
    expect(idle).toHaveLength(0);
    expect(result.idleSent).toBe(0);
    expect(result.heartbeatRunningWhileIdle).toBe(false);
    const idleNotice = result.idleNoticeAfterMs as number | null;
    expect(idleNotice).not.toBeNull();
    expect(idleNotice!).toBeGreaterThanOrEqual(240);
    expect(idleNotice!).toBeLessThan(800);
    // Every keep-alive was answered in time: the proof of life reached the session.
    expect(result.deadPeer).toBe(false);
  });

  it('starts the heartbeat when a sender is attached while busy, and again after a reconnect (S4, B6)', async () => {
    const before = observer.connections.length;
    const result = await resultOf(runScenario(runtime, 'attach-while-busy', [observer.url]));
    expect(result.detached).toEqual({ heartbeatRunning: false, trackingActive: false, keepalivesSent: 0 });
    expect(result.attached).toEqual({ heartbeatRunning: true, trackingActive: true });
    expect(result.afterClose).toEqual({ heartbeatRunning: false, trackingActive: false });
    expect(result.reattached).toEqual({ heartbeatRunning: true, trackingActive: true });
    const connections = connectionsSince(before);
    expect(connections.map((c) => c.path)).toEqual(['/?connection=1', '/?connection=2']);
    for (const connection of connections) {
      const attached = connection.frames.findIndex((f) => f.kind === 'mark' && f.name === 'attached');
      expect(attached).toBeGreaterThanOrEqual(0);
      const after = connection.frames.slice(attached + 1).filter((f) => f.kind !== 'mark');
      expect(after.length).toBeGreaterThanOrEqual(2);
      // The first keep-alive comes one interval after the attach, without any new start().
      const firstGap = after[0]!.at - connection.frames[attached]!.at;
      expect(firstGap).toBeGreaterThan(50);
      expect(firstGap).toBeLessThan(400);
      expect(connection.frames.slice(0, attached).filter((f) => f.kind !== 'mark')).toHaveLength(0);
    }
  });

  it('declares a server that stops answering dead within interval + timeout, and closes the transport (B5)', async () => {
    const before = observer.connections.length;
    const result = await resultOf(runScenario(runtime, 'dead-server', [observer.url]));
    const detected = result.detectedAfterMs as number | null;
    expect(detected).not.toBeNull();
    // Keep-alive at 100 ms, no proof of life by 250 ms.
    expect(detected!).toBeGreaterThanOrEqual(240);
    expect(detected!).toBeLessThan(800);
    expect(result.deadPeerFields).toEqual({ timeout_ms: 150 });
    expect(result.closed).toBe(true);
    expect(result.trackingActive).toBe(false);
    expect(result.heartbeatRunning).toBe(false);
    const [connection] = connectionsSince(before);
    expect(connection?.path).toBe('/silent');
    await within(
      new Promise<void>((resolve) => {
        const poll = (): void => {
          if (connection?.closedAt !== null) resolve();
          else setTimeout(poll, 10);
        };
        poll();
      }),
      2_000,
      'the server to see the close',
    );
  });

  it('the whole client, parked while idle, lets the program exit by itself', async () => {
    const child = runScenario(runtime, 'client-exit-when-idle', [observer.url], 10_000);
    const parked = await child.line('parked');
    expect(parked.state).toBe('parked');
    const exit = await child.exited;
    expect(exit.timedOut).toBe(false);
    expect(exit.code).toBe(0);
    expect(exit.at - parked.receivedAt).toBeLessThan(1_000);
  });

  it('one scheduler per process: the client, an activity and the server integration together arm one OS timer', async () => {
    const result = await resultOf(runScenario(runtime, 'one-scheduler'));
    expect(result.maxArmed).toBe(1);
    // The client's connection, the activity and the server's peer: all entries of the one scheduler.
    expect(result.entries as number).toBeGreaterThanOrEqual(3);
    expect(result.floodClosed).toBe(0);
  });

  it('exits by itself after its last work: held while busy, never by an idle timer', async () => {
    const child = runScenario(runtime, 'exit-when-idle', [], 10_000);
    const busy = await child.line('busy');
    const idle = await child.line('idle');
    const exit = await child.exited;
    expect(exit.timedOut).toBe(false);
    expect(exit.code).toBe(0);
    // keepProcessAlive: 'while-busy' held the process open with nothing else pending.
    expect(idle.t - busy.t).toBeGreaterThanOrEqual(290);
    expect(idle.sent).toBeGreaterThanOrEqual(2);
    // The idle notice was armed (an unref'd timer) and the sender still attached, yet the process exited.
    expect(idle.timersArmed).toBeGreaterThanOrEqual(1);
    expect(idle.trackingActive).toBe(true);
    const lingered = exit.at - idle.receivedAt;
    expect(lingered).toBeLessThan(1_000);
  });

  it('reports at shutdown once, with counts and durations only, and at exit when asked (S9, S10)', async () => {
    const before = observer.connections.length;
    const child = runScenario(runtime, 'shutdown-report', [observer.url]);
    const result = await resultOf(child);
    const report = result.report as { total: number; active: Record<string, number>; oldestActivityMs: number; keepalivesSent: number };
    expect(report.total).toBe(2);
    expect(report.active).toEqual({ api_call: 1, tool_exec: 1 });
    expect(report.oldestActivityMs).toBeGreaterThanOrEqual(340);
    expect(report.oldestActivityMs).toBeLessThan(3_000);
    expect(report.keepalivesSent).toBeGreaterThanOrEqual(2);
    const [connection] = connectionsSince(before);
    expect(connection!.frames.filter((f) => f.kind !== 'mark')).toHaveLength(report.keepalivesSent);
    expect(result.sameReport).toBe(true);
    const diagnostics = result.diagnostics as { level: string; fields: Record<string, unknown> }[];
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]?.level).toBe('info');
    expect(diagnostics[0]?.fields).toEqual({
      total: 2,
      active: { api_call: 1, tool_exec: 1 },
      oldest_activity_ms: report.oldestActivityMs,
      keepalives_sent: report.keepalivesSent,
    });
    expect(result.timersArmed).toBe(0);
    expect(result.trackingActive).toBe(false);
    const atExit = child.lines.filter((line) => line.type === 'exit-report');
    expect(atExit).toHaveLength(1);
    expect(atExit[0]?.fields).toMatchObject({ total: 1, active: { tool_exec: 1 } });
  });

  it('server: pings every connection, keeps live ones, terminates a frozen one within interval + timeout (B5)', async () => {
    const child = runScenario(runtime, 'server-keepalive');
    const listening = await child.line('listening', 10_000);
    const url = `ws://127.0.0.1:${listening.port as number}`;
    const [healthy, frozen] = await Promise.all([connectPeer(url, 'healthy'), connectPeer(url, 'frozen')]);
    const dead = await within(frozen.closed, 3_000, 'the frozen peer to be closed');
    const detection = dead.at - frozen.openedAt;
    // First ping within one interval (phase-spread), then 150 ms without proof of life.
    expect(detection).toBeGreaterThanOrEqual(140);
    expect(detection).toBeLessThan(900);
    expect(frozen.keepalives.length).toBeGreaterThanOrEqual(1);
    // Bun and ws terminate (1006 at the peer); Deno has no terminate(), so it sends a close frame without a code.
    expect(dead.code).toBe(runtime.family === 'deno' ? 1005 : 1006);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(healthy.socket.readyState).toBe(healthy.socket.OPEN);
    expect(healthy.keepalives.length).toBeGreaterThanOrEqual(3);
    healthy.socket.send('stop');
    const result = await resultOf(child);
    const stats = result.stats as Record<string, number>;
    expect(stats.deadPeers).toBe(1);
    expect(stats.tracked).toBe(1);
    expect(stats.handlerErrors).toBe(0);
    expect(stats.pingsSent).toBeGreaterThanOrEqual(healthy.keepalives.length + frozen.keepalives.length);
    healthy.socket.terminate();
  });

  it('server: a quiet peer (it only answers) gets one ping and one probe, then nothing, and stays open (B16)', async () => {
    const child = runScenario(runtime, 'server-quiet');
    const listening = await child.line('listening', 10_000);
    const url = `ws://127.0.0.1:${listening.port as number}`;
    const quiet = await connectPeer(url, 'healthy');
    // Ten intervals: a window to see what does not come.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(quiet.keepalives).toHaveLength(2);
    expect(quiet.socket.readyState).toBe(quiet.socket.OPEN);
    quiet.socket.send('stop');
    const result = await resultOf(child);
    const stats = result.stats as Record<string, number>;
    // The stop message is the peer speaking: one more ping may go out before the server has stopped.
    expect(stats.pingsSent).toBeGreaterThanOrEqual(2);
    expect(stats.pingsSent).toBeLessThanOrEqual(3);
    expect(stats.deadPeers).toBe(0);
    quiet.socket.terminate();
  });

  it('server: closes silent peers with 4000 and ping floods with 1008 (B8)', async () => {
    const child = runScenario(runtime, 'server-policies');
    const listening = await child.line('listening', 10_000);
    const url = `ws://127.0.0.1:${listening.port as number}`;
    const [silent, flood] = await Promise.all([connectPeer(url, 'healthy'), connectPeer(url, 'healthy')]);
    const flooding = setInterval(() => {
      if (flood.socket.readyState === flood.socket.OPEN) flood.socket.send('');
    }, 20);
    try {
      const [idleClose, floodClose] = await within(Promise.all([silent.closed, flood.closed]), 3_000, 'the policy closes');
      expect(idleClose.code).toBe(4000);
      expect(idleClose.at - silent.openedAt).toBeGreaterThanOrEqual(280);
      expect(idleClose.at - silent.openedAt).toBeLessThan(1_200);
      expect(floodClose.code).toBe(1008);
      expect(floodClose.at - flood.openedAt).toBeLessThan(1_000);
    } finally {
      clearInterval(flooding);
    }
    const last = await connectPeer(url, 'healthy');
    last.socket.send('stop');
    const result = await resultOf(child);
    const stats = result.stats as Record<string, number>;
    expect(stats.idleClosed).toBe(1);
    expect(stats.floodClosed).toBe(1);
    expect(stats.deadPeers).toBe(0);
    expect(stats.handlerErrors).toBe(0);
    last.socket.terminate();
  });
});

/** The whole client (`createKeepaliveClient`), the same scenarios on every runtime and in headless Chromium. */
describe.each(CLIENT_RUNTIMES.map((runtime) => [runtime.id, runtime] as const))('the client on %s', (_id: string, runtime: Runtime) => {
  it('the whole client: keep-alives while busy, none while idle; sends before the open are queued and flushed in order (S4, B14)', async () => {
    const before = observer.connections.length;
    const result = await resultOf(runScenario(runtime, 'client-busy-idle', [observer.url]));
    const [connection] = connectionsSince(before);
    expect(connection).toBeDefined();
    expect(connection!.frames.filter((frame) => frame.kind === 'mark').map((frame) => frame.name)).toEqual(['q1', 'q2', 'busy', 'idle', 'end']);
    const busy = keepalivesBetween(connection!, 'busy', 'idle');
    expect(busy.length).toBeGreaterThanOrEqual(3);
    expect(busy.length).toBeLessThanOrEqual(7);
    // Idle: none of the heartbeat's; only the one keep-alive that confirms the idle mark written at the start (B16).
    expect(keepalivesBetween(connection!, 'idle', 'end')).toHaveLength(1);
    expect(result).toMatchObject({ early: ['queued', 'queued'], idleSent: 0, state: 'open', cause: 'closed', deadPeers: 0 });
    expect(result.busySent).toBe(busy.length);
    expect(result.report).toMatchObject({ total: 0 });
  });

  it('the whole client: a server that stops answering is dead within interval + timeout (+ 550 ms allowance), then it reconnects (B5, B6)', async () => {
    const result = await resultOf(runScenario(runtime, 'client-dead-server', [observer.url]));
    const detected = result.detectedAfterMs as number;
    console.log(`${runtime.id}: client dead peer detected after ${detected.toFixed(0)} ms, reopened ${String(result.reopenedAfterMs)} ms later`);
    // Keep-alive at 100 ms, no proof of life by 250 ms; the allowance covers a loaded 2-core machine and slow runtimes.
    expect(detected).toBeGreaterThanOrEqual(240);
    expect(detected).toBeLessThan(800);
    expect(result.reopenedAfterMs).not.toBeNull();
    expect(result.reopenedAfterMs as number).toBeLessThan(1_000);
    expect(result.connectTimeouts).toBe(0);
  });

  it('the whole client: a listener that never answers the handshake: every attempt times out, then exhausted (B10, B11)', async () => {
    const held: Socket[] = [];
    const listener = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => undefined);
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    try {
      const { port } = listener.address() as AddressInfo;
      const result = await resultOf(runScenario(runtime, 'client-connect-timeout', [`ws://127.0.0.1:${port}`]));
      expect(result.cause).toBe('exhausted');
      expect(result.timeouts).toEqual([0, 1, 2]);
      // Three attempts of 200 ms and two short delays: never stuck in one attempt.
      expect(result.elapsedMs as number).toBeLessThan(2_000);
    } finally {
      for (const socket of held) socket.destroy();
      listener.close();
    }
  });

  it('the whole client behind a reclaimer: kept alive while busy; lazy, reclaimed while idle it parks, and work brings it back (S4, B6)', async () => {
    const result = await resultOf(runScenario(runtime, 'client-reclaimer-lazy', [observer.url]));
    expect(result.busyState).toBe('open');
    expect(result.opensWhileBusy).toBe(1);
    expect(result.parked).toBe(true);
    expect(result.parkedState).toBe('parked');
    expect(result.idles).toEqual([expect.objectContaining({ code: 4000 })]);
    expect(result.back).toBe(true);
    expect((result.opens as { attempt: number }[]).map((open) => open.attempt)).toEqual([0, 0]);
  });

  it('the whole client: once, addEventListener ({ once }, { signal }), removeEventListener, node:events once, messages() and reconnect() after a rejection (B12)', async () => {
    const result = await resultOf(runScenario(runtime, 'client-events', [observer.url]));
    expectEventApi(runtime, result);
  });

  it('the whole client against a server frozen by SIGSTOP: dead within interval + timeout (+ 550 ms allowance), back once thawed (B5, B10)', async () => {
    const server = runScenario(RUNTIMES[0]!, 'peer-server', [], 30_000);
    const { port } = await server.line('listening');
    const client = runScenario(runtime, 'client-frozen-peer', [`ws://127.0.0.1:${String(port)}`]);
    await client.line('busy');
    const frozenAt = performance.now();
    server.signal('SIGSTOP');
    const dead = await client.line('dead');
    server.signal('SIGCONT');
    const thawedAt = performance.now();
    const reopened = await client.line('reopened');
    await resultOf(client);
    server.kill();
    const detection = dead.receivedAt - frozenAt;
    console.log(`${runtime.id}: frozen server detected after ${detection.toFixed(0)} ms, open again ${(reopened.receivedAt - thawedAt).toFixed(0)} ms after the thaw`);
    expect(detection).toBeLessThan(100 + 150 + 550);
    // Back within the backoff cap plus the connect timeout (+ the allowance).
    expect(reopened.receivedAt - thawedAt).toBeLessThan(100 + 300 + 550);
  });

  it('the whole client across a server restart (kill -9): messages queued while it is down arrive in order, exactly once (B6, B14)', async () => {
    const first = runScenario(RUNTIMES[0]!, 'peer-server', [], 30_000);
    const { port } = await first.line('listening');
    const client = runScenario(runtime, 'client-restart', [`ws://127.0.0.1:${String(port)}`], 20_000);
    const live = await client.line('live');
    expect(live.results).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    await within(
      new Promise<void>((resolve) => {
        const poll = (): void => {
          if (first.lines.filter((line) => line.type === 'message').length === 5) resolve();
          else setTimeout(poll, 10);
        };
        poll();
      }),
      5_000,
      'the live messages at the first server',
    );
    first.kill();
    await first.exited;
    const queued = await client.line('queued');
    expect(queued.results).toEqual(['queued', 'queued', 'queued', 'queued', 'queued']);
    const second = runScenario(RUNTIMES[0]!, 'peer-server', [String(port)], 30_000);
    await second.line('listening');
    const reopened = await client.line('reopened');
    expect(reopened.queuedMessages).toBe(0);
    const result = await resultOf(client);
    second.kill();
    expect(result.undelivered).toBe(0);
    const texts = (child: typeof first): unknown[] => child.lines.filter((line) => line.type === 'message').map((line) => line.text);
    expect(texts(first)).toEqual(['live-1', 'live-2', 'live-3', 'live-4', 'live-5']);
    expect(texts(second)).toEqual(['queued-1', 'queued-2', 'queued-3', 'queued-4', 'queued-5']);
  });
});

/**
 * The kernel client (`createLiteClient` from `@keepalive/websocket-transport/lite`: the core's kernel alone, no
 * layers), the client scenarios it has the rules for, on every runtime and in headless Chromium. It keeps no
 * counters: the observer counts its keep-alives (always the heartbeat message: a WHATWG socket cannot ping).
 */
describe.each(CLIENT_RUNTIMES.map((runtime) => [runtime.id, runtime] as const))('the kernel client on %s', (_id: string, runtime: Runtime) => {
  /** The platform's WebSocket everywhere but Node 20, which has none (the kit passes `ws`'s). */
  const socket = runtime.id === 'node20' ? 'ws' : 'platform';

  it('the kernel client: keep-alives while busy, none while idle (no confirming one: no unconfirmed layer); sends before the open are queued and flushed in order (S4, B14 queue)', async () => {
    const before = observer.connections.length;
    const result = await resultOf(runScenario(runtime, 'lite-busy-idle', [observer.url]));
    const [connection] = connectionsSince(before);
    expect(connection).toBeDefined();
    expect(connection!.frames.filter((frame) => frame.kind === 'mark').map((frame) => frame.name)).toEqual(['q1', 'q2', 'busy', 'idle', 'end']);
    // Heartbeat messages only, never a protocol ping.
    expect(connection!.frames.filter((frame) => frame.kind === 'ping')).toHaveLength(0);
    const busy = keepalivesBetween(connection!, 'busy', 'idle');
    expect(busy.length).toBeGreaterThanOrEqual(3);
    expect(busy.length).toBeLessThanOrEqual(7);
    expect(keepalivesBetween(connection!, 'idle', 'end')).toHaveLength(0);
    expect(result).toMatchObject({ socket, early: ['queued', 'queued'], state: 'open', cause: 'closed', undelivered: 0, flushed: [2], deadPeers: 0 });
    expect(result.report).toMatchObject({ total: 0 });
  });

  it('the kernel client: a server that stops answering is dead within interval + timeout (+ 550 ms allowance), then it reconnects (B5, B6)', async () => {
    const result = await resultOf(runScenario(runtime, 'lite-dead-server', [observer.url]));
    const detected = result.detectedAfterMs as number;
    console.log(`${runtime.id}: kernel client dead peer detected after ${detected.toFixed(0)} ms, reopened ${(result.reopenedAfterMs as number | null)?.toFixed(0) ?? 'never'} ms later`);
    expect(result.socket).toBe(socket);
    expect(result.deadPeerTimeoutMs).toBe(150);
    expect(detected).toBeGreaterThanOrEqual(240);
    expect(detected).toBeLessThan(800);
    expect(result.reopenedAfterMs).not.toBeNull();
    expect(result.reopenedAfterMs as number).toBeLessThan(1_000);
    expect(result.connectTimeouts).toBe(0);
    expect(result.cause).toBe('closed');
  });

  it('the kernel client: once, addEventListener ({ once }, { signal }), removeEventListener, node:events once, messages() and reconnect() after a rejection (B12)', async () => {
    const result = await resultOf(runScenario(runtime, 'lite-events', [observer.url]));
    expectEventApi(runtime, result);
  });

  it('the kernel client: a listener that never answers the handshake: every attempt times out, then exhausted (B10, B11)', async () => {
    const held: Socket[] = [];
    const listener = createServer((connection) => {
      held.push(connection);
      connection.on('error', () => undefined);
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    try {
      const { port } = listener.address() as AddressInfo;
      const result = await resultOf(runScenario(runtime, 'lite-connect-timeout', [`ws://127.0.0.1:${port}`]));
      expect(result.socket).toBe(socket);
      expect(result.cause).toBe('exhausted');
      expect(result.state).toBe('closed');
      expect(result.timeouts).toEqual([0, 1, 2]);
      // Three attempts of 200 ms and two short delays: never stuck in one attempt.
      expect(result.elapsedMs as number).toBeLessThan(2_000);
    } finally {
      for (const connection of held) connection.destroy();
      listener.close();
    }
  });
});
