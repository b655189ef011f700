import { spawn, type ChildProcess } from 'node:child_process';

/** A JSON line a child printed. */
export interface ChildLine {
  readonly type: string;
  readonly [field: string]: unknown;
}

interface Waiter {
  readonly matches: (line: ChildLine) => boolean;
  readonly resolve: (line: ChildLine) => void;
}

/**
 * A script running in a real runtime (Bun, Deno) as a child process: it prints JSON lines on stdout and takes JSON
 * commands on stdin. Every wait is for a line, bounded; the child is killed when its time limit passes.
 */
export class RuntimeChild {
  readonly lines: ChildLine[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly process: ChildProcess;
  private readonly exitedPromise: Promise<number | null>;
  private stderr = '';
  private noise = '';

  constructor(command: string, args: readonly string[], options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number }) {
    this.process = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const limit = setTimeout(() => this.process.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    this.exitedPromise = new Promise((resolve) => {
      this.process.once('exit', (code) => {
        clearTimeout(limit);
        resolve(code);
      });
    });
    let buffered = '';
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const text = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (text !== '') this.feed(text);
      }
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  private feed(text: string): void {
    let line: ChildLine;
    try {
      line = JSON.parse(text) as ChildLine;
    } catch {
      this.noise += `${text}\n`;
      return;
    }
    this.lines.push(line);
    for (const waiter of [...this.waiters]) {
      if (!waiter.matches(line)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(line);
    }
  }

  /** The first line of `type` (printed already or to come) that `matches`; rejects after `ms` or when the child exits. */
  line(type: string, matches: (line: ChildLine) => boolean = () => true, ms = 10_000): Promise<ChildLine> {
    const wanted = (line: ChildLine): boolean => line.type === type && matches(line);
    const found = this.lines.find(wanted);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        this.waiters.delete(waiter);
        reject(new Error(`no "${type}" line: ${why}\nlines: ${JSON.stringify(this.lines.slice(-40))}\nstdout noise: ${this.noise.slice(-2_000)}\nstderr: ${this.stderr.slice(-4_000)}`));
      };
      const timer = setTimeout(() => fail(`not within ${ms} ms`), ms);
      const waiter: Waiter = {
        matches: wanted,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.waiters.add(waiter);
      void this.exitedPromise.then((code) => {
        clearTimeout(timer);
        if (this.waiters.has(waiter)) fail(`the child exited (${String(code)})`);
      });
    });
  }

  /** Lines of `type` so far. */
  all(type: string): ChildLine[] {
    return this.lines.filter((line) => line.type === type);
  }

  /** Writes one JSON command line to the child's stdin. */
  command(command: Record<string, unknown>): void {
    this.process.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /** Sends the child a signal (default SIGKILL: a crash, nothing cleaned up). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.process.kill(signal);
  }

  /** Resolves with the exit code once the child has exited (`null` when a signal ended it). */
  get exited(): Promise<number | null> {
    return this.exitedPromise;
  }

  /** Asks the child to exit; kills it if it has not within `ms`. Resolves with its exit code. */
  async stop(ms = 5_000): Promise<number | null> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.command({ cmd: 'exit' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), ms);
    try {
      return await this.exitedPromise;
    } finally {
      clearTimeout(timer);
    }
  }
}
