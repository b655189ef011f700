// The server side of the child-process fixtures, shared by Node, Bun and Deno: one producer that writes numbered
// events (id 1, 2, ...) every `period` ms for `events` events, to every open stream, and keeps them all in a log so a
// stream that comes with a Last-Event-ID gets everything after it first. While the producer runs, every stream's
// activity is busy (keep-alives flow); once it is done, every stream is idle (quiet) but stays open.
/* global setInterval, clearInterval */
// Lines on stdout (JSON): listening {port}, request {lastEventId}, closed {cause}, done {events}.

export function write(line) {
  // Node and Bun have process.stdout; so does Deno's Node compatibility layer.
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export function args() {
  const list = globalThis.Deno?.args ?? globalThis.process.argv.slice(2);
  const options = { interval: 100, period: 100, events: 20, idleCloseMs: null, startDelay: 0 };
  for (const arg of list) {
    const [key, value] = arg.replace(/^--/, '').split('=');
    options[key] = value === 'null' ? null : Number(value);
  }
  return options;
}

export function createProducer(options) {
  const log = [];
  const streams = new Set();
  let running = false;
  let timer = null;
  const produce = () => {
    const id = log.length + 1;
    const event = { id: String(id), event: 'tick', data: `tick ${id}` };
    log.push(event);
    for (const entry of streams) send(entry, event);
    if (log.length >= options.events) {
      clearInterval(timer);
      running = false;
      for (const entry of streams) {
        entry.release?.();
        entry.release = null;
      }
      write({ type: 'done', events: log.length });
    }
  };
  const send = (entry, event) => {
    if (entry.stream.ended) return;
    try {
      entry.stream.send(event);
    } catch (error) {
      write({ type: 'send_failed', error: error.name });
    }
  };
  return {
    start() {
      running = true;
      // Streams that came before the start are busy from now on too.
      for (const entry of streams) entry.release ??= entry.stream.activity.start('produce');
      timer = setInterval(produce, options.period);
    },
    /** Adopts a new stream: replays what it missed, keeps it busy while the producer runs. */
    adopt(stream) {
      write({ type: 'request', lastEventId: stream.lastEventId });
      const entry = { stream, release: running ? stream.activity.start('produce') : null };
      const after = stream.lastEventId === null ? 0 : Number(stream.lastEventId);
      for (const event of log) if (Number(event.id) > after) send(entry, event);
      streams.add(entry);
      void stream.closed.then(({ cause }) => {
        streams.delete(entry);
        entry.release?.();
        entry.release = null;
        write({ type: 'closed', cause });
      });
    },
  };
}
