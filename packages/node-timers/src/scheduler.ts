import { KeepaliveOptionError } from '@keepalive/core';
import { nodePlatform, type Platform } from './clock.js';
import { OneTimer, wakeTarget } from './one-timer.js';
import { sharedRuntime } from './runtime.js';

/**
 * A shared scheduler: one OS timer serves every session registered on it.
 * Sessions tell it their earliest deadline (the core's `pollTimeout`); it
 * keeps them in lanes, one sorted FIFO per delay class (a re-arm one interval
 * ahead is an O(1) append), and arms a single unref'd timer. When that fires
 * it wakes every session that is due, in deadline order, each with the fire's
 * time, then re-arms. 100,000 sessions cost one armed OS timer.
 *
 * Precision: an entry is never woken before its deadline. An entry scheduled
 * with a slack (`schedule(deadline, slackMs)`) may be woken up to that much
 * after it (the slack rounded down to five leading bits, as lane widths are):
 * it is woken at its deadline when the last wake was at least its slack
 * before, else at the last wake + its slack, and each wake serves every entry
 * already due then, in one pass. So a quiet scheduler keeps every deadline to
 * the millisecond, and a busy one wakes at most once per slack: the wake rate
 * follows the work, not the clock. An entry without slack is woken as soon as
 * the OS timer allows (no deadline is rounded). A pass runs at most
 * `passBudgetMs` (1 ms by default): past it, the rest of the due entries are
 * served by the next wake, as soon as the event loop has handled what waited
 * (a burst never stalls the loop for long).
 */

/**
 * One party that wants to be woken at a deadline.
 */
export interface ScheduledEntry {
  /** The deadline it is scheduled for, or `null`. */
  readonly deadline: number | null;
  /**
   * Moves (or removes, with `null`) its deadline. `slackMs` (default 0) is how late after the deadline the entry may
   * be woken (rounded down to five leading bits; never early): at its deadline if the scheduler's last wake was at
   * least that long before, else with the wake that comes first by then, so that entries due close together share
   * one wake.
   */
  schedule(deadline: number | null, slackMs?: number): void;
  /** Removes it from the scheduler for good. */
  dispose(): void;
}

/**
 * Options of {@link createScheduler}.
 */
export interface SchedulerOptions {
  /** Clock and timer functions; default {@link nodePlatform}. */
  readonly platform?: Platform | undefined;
  /**
   * The precision the scheduler promises, in milliseconds: an entry is never
   * woken before its deadline and at most this much after it (plus the OS
   * timer's own latency). The one OS timer then wakes the process at most
   * once per `precisionMs`, each wake handling every entry due by then, so a
   * server with 100,000 connections wakes 1000 ÷ precisionMs times a second
   * instead of once per millisecond. Default 0: each wake as soon as the
   * earliest deadline is due (or, for entries scheduled with a slack, its
   * latest moment). Entries' own slack (`schedule(deadline, slackMs)`) is the
   * finer tool: the precision comes from what each entry is for.
   */
  readonly precisionMs?: number | undefined;
  /**
   * The longest one wake runs entries, in milliseconds: past it the wake
   * stops and the entries still due are served by the next wake, armed at
   * once, after the event loop handled its I/O. Checked every
   * 8 entries (`PASS_CHECK_EVERY`). Default 1; `Infinity` for no bound.
   */
  readonly passBudgetMs?: number | undefined;
}

/** Default {@link SchedulerOptions.passBudgetMs}. */
export const PASS_BUDGET_MS = 1;
/** A pass reads the clock once per this many entries woken, to keep to its budget. */
export const PASS_CHECK_EVERY = 8;
/** The largest slack an entry may ask for (about 17 minutes); more is this. */
export const MAX_SLACK_MS = 0xfffff;

/**
 * What a scheduler entry wakes: a function, or an object with a `wake(now)` method.
 */
export type WakeTarget = ((now: number) => void) | { wake(now: number): void };

/**
 * A scheduler shared by any number of sessions.
 */
export interface Scheduler {
  /** The clock every session on this scheduler reads. */
  now(): number;
  /**
   * Creates an entry; `wake(now)` is called when its deadline is due. `wake`
   * may be a function or an object with a `wake(now)` method (no closure per
   * entry: what servers with many connections use).
   */
  entry(wake: WakeTarget): ScheduledEntry;
  /** Entries with a deadline. */
  readonly size: number;
  /** OS timers currently armed by this scheduler: 0 or 1. */
  readonly osTimersArmed: number;
  /** The deadline the OS timer is armed for, or `null`. */
  readonly armedFor: number | null;
  /** Holds the process open while at least one hold is taken (`keepProcessAlive: 'while-busy'`). */
  hold(): () => void;
}

/**
 * A scheduler entry that is its own wake target: a class that holds one per
 * object (a server's connection) extends it, so being scheduled adds no
 * object and no closure. Pass the instance to {@link Scheduler.entry}: the
 * shared scheduler adopts it and returns it; any other scheduler wakes it
 * through `wake(now)` like any target. Its fields belong to the scheduler.
 */
export abstract class ScheduledNode implements ScheduledEntry {
  /**
   * @internal The deadline while the entry is in a lane (else stale). Always a number: V8 keeps whole milliseconds as
   * small integers in the field itself, and fractional ones as a double updated in place (no heap number per re-arm).
   */
  due = 0;
  /** @internal Links in the lane's list. */
  prev: ScheduledNode | null = null;
  /** @internal */
  next: ScheduledNode | null = null;
  /** @internal The lane it is in, `null` while it has no deadline. */
  lane: Lane | null = null;
  /** @internal The scheduler that adopted it; `null` before, and after `dispose()`. */
  owner: LaneScheduler | null = null;

  /** Called by the scheduler when the deadline is due. */
  abstract wake(now: number): void;

  get deadline(): number | null {
    return this.lane === null ? null : this.due;
  }
  schedule(deadline: number | null, slackMs = 0): void {
    this.owner?.move(this, deadline, slackMs);
  }
  dispose(): void {
    this.owner?.release(this);
  }
}

/** The entry of a function or plain wake target. */
class LaneEntry extends ScheduledNode {
  constructor(private readonly target: WakeTarget) {
    super();
  }
  wake(now: number): void {
    wakeTarget(this.target, now);
  }
}

/** The entries scheduled about one delay ahead with one slack, oldest deadline first (a FIFO that stays sorted). */
class Lane {
  head: ScheduledNode | null = null;
  tail: ScheduledNode | null = null;
  /** Position in the scheduler's heap of lanes, -1 while empty. */
  at = -1;
  /**
   * @param key - the lanes' map key: the slack class above the delay class (ties of the heap are broken on it)
   * @param slack - how late its entries may be woken (a slack class, see {@link slackClass})
   */
  constructor(
    readonly key: number,
    readonly slack: number,
  ) {}
}

/**
 * The lane a deadline `delay` ms ahead goes to: the delay with its five
 * leading bits kept (lanes about 3 % of the delay wide: 29,696 ms for
 * 30,000). Every lane is sorted by deadline; grouping by delay is what makes
 * an insert an append.
 */
export function laneKey(delay: number): number {
  if (!(delay >= 1)) return 0;
  const ms = delay >= 0x7fffffff ? 0x7fffffff : delay | 0;
  const shift = 27 - Math.clz32(ms);
  return shift > 0 ? (ms >>> shift) << shift : ms;
}

/**
 * The slack an entry gets for the `slackMs` it asked for: rounded down to five
 * leading bits (as {@link laneKey} rounds delays), so entries asking for about
 * the same slack share lanes; at most {@link MAX_SLACK_MS}; 0 for anything
 * under 1 ms or not a number.
 */
export function slackClass(slackMs: number): number {
  return slackMs >= 1 ? laneKey(slackMs >= MAX_SLACK_MS ? MAX_SLACK_MS : slackMs) : 0;
}

/** The lanes' map key of a delay class and a slack class (below 2^51: an exact double). */
function laneMapKey(delayClass: number, slack: number): number {
  return slack === 0 ? delayClass : slack * 0x80000000 + delayClass;
}

/**
 * Deadlines in lanes: one FIFO list per delay class (and slack class). A session re-arming one
 * interval ahead appends to the tail of its lane (deadlines arrive in order,
 * as Node's own timer lists rely on), so a re-arm is O(1); only the lanes'
 * heads are kept in a small binary heap, one entry per distinct delay class.
 * A deadline earlier than its lane's tail is walked back into place, so every
 * lane stays sorted and each entry fires exactly at its own deadline: no
 * deadline is rounded. Entries due at the same instant fire in the order they
 * were scheduled within a delay class, shorter delay classes first.
 */
class LaneScheduler extends OneTimer implements Scheduler {
  private readonly lanes = new Map<number, Lane>();
  /** Non-empty lanes, a min-heap on their head's deadline. */
  private readonly order: Lane[] = [];
  private count = 0;
  private firing = false;
  private firingNow = 0;
  /** Lanes (empty or not) whose entries have a slack: while there are none, the timer's target is the heap's top. */
  private slackLanes = 0;
  /** The last pass stopped at its budget with entries still due: the next wake is armed for them at once. */
  private behind = false;
  /** When the last wake fired (its `now`): an entry with slack waits for this + its slack rather than wake alone. */
  private lastWake = Number.NEGATIVE_INFINITY;

  constructor(
    platform: Platform,
    precisionMs: number,
    private readonly passBudgetMs: number,
  ) {
    super(platform, precisionMs);
  }

  entry(wake: WakeTarget): ScheduledEntry {
    // A node not yet adopted is its own entry: no object per entry.
    if (wake instanceof ScheduledNode && wake.owner === null && wake.lane === null) {
      wake.owner = this;
      return wake;
    }
    const entry = new LaneEntry(wake);
    entry.owner = this;
    return entry;
  }

  get size(): number {
    return this.count;
  }

  /** The node being woken, until it asks for a deadline (it is then not done with it). */
  private waking: ScheduledNode | null = null;

  /** Whether the node being woken asked for a deadline during its wake. */
  private isScheduling(node: ScheduledNode): boolean {
    return this.waking !== node;
  }

  move(entry: ScheduledNode, deadline: number | null, slackMs: number): void {
    // A wake re-arming its own entry: its lane is chosen by its period (new deadline − the one it fired at), the same
    // at every fire whatever the fire's lateness, so that the re-arm stays a rotation within one lane.
    const rearming = entry === this.waking;
    if (rearming) this.waking = null;
    const from = entry.lane;
    const slack = slackMs > 0 ? slackClass(slackMs) : 0;
    if (deadline === null ? from === null : from !== null && deadline === entry.due && from.slack === slack) return;
    if (deadline !== null) {
      // While firing, the fire's time stands for the clock (no read per re-arm).
      const delay = deadline - (rearming ? entry.due : this.firing ? this.firingNow : this.platform.now());
      const to = this.laneFor(delay, slack);
      if (to === from && entry.prev === null && entry.next !== null && this.rotate(entry, to, deadline)) return;
      if (from !== null) this.unlink(entry);
      entry.due = deadline;
      this.insert(entry, deadline, to);
    } else {
      this.unlink(entry);
    }
    if (!this.firing) this.rearm(this.wakeAt());
  }

  release(entry: ScheduledNode): void {
    entry.owner = null;
    if (entry.lane !== null) this.unlink(entry);
    if (!this.firing) this.rearm(this.wakeAt());
  }

  /** The earliest deadline (`Infinity` for none). */
  private top(): number {
    const lane = this.order[0];
    return lane === undefined ? Infinity : headDeadline(lane);
  }

  /**
   * When the OS timer must fire. An entry without slack: at its deadline. An entry with slack: at its deadline, or,
   * when the last wake was less than its slack before that, at the last wake + its slack (never later than its
   * deadline + slack, since it was scheduled after the last wake). Each lane is sorted and has one slack, so its head
   * stands for it. A scheduler that has been quiet for a slack wakes each entry at its very deadline; a busy one wakes
   * at most once per slack, and each wake serves every entry due by then. While a pass is behind: the earliest
   * deadline (at once).
   */
  private wakeAt(): number {
    if (this.slackLanes === 0 || this.behind) return this.top();
    const last = this.lastWake;
    let at = Infinity;
    for (const lane of this.order) {
      const due = headDeadline(lane);
      const earliest = last + lane.slack;
      const when = due >= earliest || lane.slack === 0 ? due : earliest;
      if (when < at) at = when;
    }
    return at;
  }

  protected fire(now: number): void {
    this.firing = true;
    this.firingNow = now;
    this.lastWake = now;
    this.behind = false;
    const platform = this.platform;
    const budget = this.passBudgetMs;
    const started = budget === Infinity ? 0 : platform.now();
    try {
      // Each wake moves its entry past `now` (or removes it); the guard
      // bounds the loop even if one does not.
      for (let guard = this.count * 4 + 16, woken = 0; guard > 0; guard--) {
        const lane = this.order[0];
        if (lane === undefined) break;
        const top = lane.head as ScheduledNode;
        if (top.due > now) break;
        // The pass keeps to its budget: the entries still due wait for the next wake, armed at once.
        if (++woken % PASS_CHECK_EVERY === 0 && budget !== Infinity && platform.now() - started >= budget) {
          this.behind = true;
          break;
        }
        this.waking = top;
        try {
          top.wake(now);
        } catch {
          // Wakers catch their own errors; a throw here must not stop the others.
        }
        // `move` clears `waking` when the node asks for a deadline. A wake that scheduled nothing is done with its
        // deadline; one that asked again for a due deadline (even the very one it fired at: a step that only moved to
        // a phase due at once) is woken again in this loop.
        const scheduled = this.isScheduling(top);
        this.waking = null;
        if (!scheduled && top.lane !== null) this.unlink(top);
      }
    } finally {
      this.firing = false;
      this.rearm(this.wakeAt());
    }
  }

  /** The lane last looked up (most re-arms go to the lane they came from): no map lookup for them. */
  private lastLane: Lane | null = null;

  /** The lane of entries `delay` ms ahead with `slack` (created when there is none). */
  private laneFor(delay: number, slack: number): Lane {
    const key = laneMapKey(laneKey(delay), slack);
    const last = this.lastLane;
    if (last !== null && last.key === key) return last;
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = new Lane(key, slack);
      this.lanes.set(key, lane);
      if (slack !== 0) this.slackLanes++;
    }
    this.lastLane = lane;
    return lane;
  }

  private insert(entry: ScheduledNode, deadline: number, lane: Lane): void {
    entry.lane = lane;
    this.count++;
    const tail = lane.tail;
    if (tail === null) {
      lane.head = entry;
      lane.tail = entry;
      this.pushLane(lane);
      return;
    }
    if (tail.due <= deadline) {
      // The common case: one interval ahead of everything already in the lane.
      entry.prev = tail;
      tail.next = entry;
      lane.tail = entry;
      return;
    }
    // Earlier than the tail: walk back to its place (after any equal deadline, so ties stay FIFO).
    let after = tail.prev;
    while (after !== null && after.due > deadline) after = after.prev;
    if (after === null) {
      const head = lane.head as ScheduledNode;
      entry.next = head;
      head.prev = entry;
      lane.head = entry;
      this.up(lane.at);
      return;
    }
    const next = after.next as ScheduledNode;
    entry.prev = after;
    entry.next = next;
    next.prev = entry;
    after.next = entry;
  }

  /**
   * The common re-arm: the head of its lane moves one interval ahead, to the
   * same lane's tail. Done in place (no unlink and insert); `false` when the
   * deadline belongs elsewhere, for the general path.
   */
  private rotate(entry: ScheduledNode, lane: Lane, deadline: number): boolean {
    const tail = lane.tail as ScheduledNode;
    if (tail.due > deadline) return false;
    const next = entry.next as ScheduledNode;
    next.prev = null;
    lane.head = next;
    entry.next = null;
    entry.prev = tail;
    tail.next = entry;
    lane.tail = entry;
    entry.due = deadline;
    // The head is later now: the lane moves down the heap.
    this.down(lane.at);
    if (!this.firing) this.rearm(this.wakeAt());
    return true;
  }

  private unlink(entry: ScheduledNode): void {
    const lane = entry.lane as Lane;
    const prev = entry.prev;
    const next = entry.next;
    if (prev === null) lane.head = next;
    else prev.next = next;
    if (next === null) lane.tail = prev;
    else next.prev = prev;
    entry.prev = null;
    entry.next = null;
    entry.lane = null;
    this.count--;
    if (prev !== null) return;
    // The head changed: the lane moves later in the heap, or leaves it.
    if (next === null) this.removeLane(lane);
    else this.down(lane.at);
  }

  private pushLane(lane: Lane): void {
    lane.at = this.order.length;
    this.order.push(lane);
    this.up(lane.at);
  }

  private removeLane(lane: Lane): void {
    const order = this.order;
    const at = lane.at;
    lane.at = -1;
    // An empty lane is dropped (delays are arbitrary: lanes must not pile up).
    this.lanes.delete(lane.key);
    if (lane.slack !== 0) this.slackLanes--;
    if (this.lastLane === lane) this.lastLane = null;
    const last = order.pop() as Lane;
    if (last === lane) return;
    order[at] = last;
    last.at = at;
    this.down(at);
    this.up(last.at);
  }

  private up(index: number): void {
    const order = this.order;
    const lane = order[index] as Lane;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = order[parent] as Lane;
      if (!earlier(lane, above)) break;
      order[index] = above;
      above.at = index;
      index = parent;
    }
    order[index] = lane;
    lane.at = index;
  }

  private down(index: number): void {
    const order = this.order;
    const size = order.length;
    const lane = order[index] as Lane;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= size) break;
      let child = left;
      if (left + 1 < size && earlier(order[left + 1] as Lane, order[left] as Lane)) child = left + 1;
      const below = order[child] as Lane;
      if (!earlier(below, lane)) break;
      order[index] = below;
      below.at = index;
      index = child;
    }
    order[index] = lane;
    lane.at = index;
  }
}

function headDeadline(lane: Lane): number {
  return (lane.head as ScheduledNode).due;
}

/**
 * Whether lane `a`'s head fires before lane `b`'s: the earlier deadline; at
 * the same instant, the smaller slack, then the shorter delay class (what was
 * scheduled nearer the deadline, e.g. a keep-alive tick before a longer idle
 * check due with it).
 */
function earlier(a: Lane, b: Lane): boolean {
  const da = headDeadline(a);
  const db = headDeadline(b);
  return da < db || (da === db && a.key < b.key);
}

/**
 * Creates a scheduler: one OS timer for every session created on it.
 *
 * @example
 * ```ts
 * import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
 * const scheduler = createScheduler();
 * const sessions = Array.from({ length: 10_000 }, () => createSessionActivity({ scheduler }));
 * ```
 */
export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  const precision: unknown = options.precisionMs ?? 0;
  if (typeof precision !== 'number' || !Number.isFinite(precision) || precision < 0 || precision > 1_000) {
    throw new KeepaliveOptionError('precisionMs', precision, 'a number of milliseconds from 0 to 1000');
  }
  const budget: unknown = options.passBudgetMs ?? PASS_BUDGET_MS;
  if (typeof budget !== 'number' || Number.isNaN(budget) || budget <= 0) {
    throw new KeepaliveOptionError('passBudgetMs', budget, 'a positive number of milliseconds, or Infinity');
  }
  return new LaneScheduler(options.platform ?? nodePlatform, precision, budget);
}


/**
 * The process-wide scheduler every instance uses unless given another: one
 * unref'd Node timer (`setTimeout`, re-armed for the earliest deadline) for
 * all sessions in the process. It is the default because the cost of a
 * keep-alive should not grow with the number of sessions: one OS timer and
 * one O(1) re-arm per tick, instead of one timer per session, and timers
 * that never keep an idle process alive. It reads `performance.now()` and
 * the global timer functions at each call, so fake timers work with it.
 */
export function defaultScheduler(): Scheduler {
  const runtime = sharedRuntime();
  runtime.scheduler ??= createScheduler();
  return runtime.scheduler;
}

/**
 * The scheduler a client (the WebSocket and SSE clients) uses unless given
 * one. On Node, Bun and Deno it is {@link defaultScheduler}, the one timer a
 * process's servers and clients share. A browser build (the `browser` export
 * condition) swaps it for one {@link createScanScheduler | scan scheduler}
 * per page: a page runs a few clients and no server, so the lane
 * scheduler's code (about 4.5 kB minified) would buy it nothing.
 */
export function defaultClientScheduler(): Scheduler {
  return defaultScheduler();
}
