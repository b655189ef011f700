import type { Platform } from '../clock.js';
import { DeadlineHeap } from './deadline-heap.js';
import { OneTimer, wakeTarget } from '../one-timer.js';
import type { ScheduledEntry, Scheduler, WakeTarget } from '../scheduler.js';

/**
 * The reference scheduler: every deadline in one indexed binary min-heap
 * (O(log n) per re-arm). Not exported from the package: the lane scheduler
 * in scheduler.ts is what runs, and its tests compare it with this one. Test
 * support only (not published); its one-OS-timer arming is the lane
 * scheduler's own (../one-timer.ts), so the two differ only in ordering.
 */
class HeapEntry implements ScheduledEntry {
  deadline: number | null = null;
  /** Counts `schedule` calls (see the lane scheduler). */
  moves = 0;
  readonly id: number;
  constructor(
    readonly owner: HeapScheduler,
    readonly target: WakeTarget,
  ) {
    this.id = owner.heap.allocate();
  }
  schedule(deadline: number | null): void {
    this.owner.move(this, deadline);
  }
  dispose(): void {
    this.owner.release(this);
  }
}

class HeapScheduler extends OneTimer implements Scheduler {
  readonly heap = new DeadlineHeap();
  private readonly entries: (HeapEntry | undefined)[] = [];
  private firing = false;

  entry(wake: WakeTarget): ScheduledEntry {
    const entry = new HeapEntry(this, wake);
    this.entries[entry.id] = entry;
    return entry;
  }

  get size(): number {
    return this.heap.size;
  }

  move(entry: HeapEntry, deadline: number | null): void {
    entry.moves++;
    if (deadline === entry.deadline || this.entries[entry.id] !== entry) return;
    entry.deadline = deadline;
    // Re-keyed in place when already scheduled: one sift over typed arrays.
    if (deadline === null) this.heap.remove(entry.id);
    else this.heap.set(entry.id, deadline);
    if (!this.firing) this.rearm(this.heap.topKey());
  }

  release(entry: HeapEntry): void {
    if (this.entries[entry.id] !== entry) return;
    entry.deadline = null;
    this.entries[entry.id] = undefined;
    this.heap.free(entry.id);
    if (!this.firing) this.rearm(this.heap.topKey());
  }

  protected fire(now: number): void {
    const heap = this.heap;
    this.firing = true;
    try {
      // Each wake moves its entry past `now` (or removes it); the guard
      // bounds the loop even if one does not.
      for (let guard = heap.size * 4 + 16; guard > 0 && heap.topKey() <= now; guard--) {
        const id = heap.topId();
        const top = this.entries[id];
        /* c8 ignore next 4 -- freed ids leave the heap */
        if (top === undefined) {
          heap.remove(id);
          continue;
        }
        const moves = top.moves;
        try {
          wakeTarget(top.target, now);
        } catch {
          // Wakers catch their own errors; a throw here must not stop the others.
        }
        // A wake that scheduled nothing is done with its deadline; one that asked again for a due one is woken again.
        if (top.moves === moves && this.entries[id] === top) {
          heap.remove(id);
          top.deadline = null;
        }
      }
    } finally {
      this.firing = false;
      this.rearm(heap.topKey());
    }
  }
}

/** A scheduler on the reference binary heap (tests and benchmarks compare the lane scheduler with it). */
export function createHeapScheduler(platform: Platform): Scheduler {
  return new HeapScheduler(platform);
}
