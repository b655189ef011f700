import { KeepaliveOptionError, type SessionState } from '@keepalive/core';
import { createDiagnosticSink, createScheduler, createSessionActivity, nextInstanceId, type SessionActivity, type SessionActivityOptions, type ShutdownReport } from '@keepalive/node-timers';
import type { DurableObjectKeyValueStorageLike } from './workerd-like.js';

/**
 * A session activity (`createSessionActivity` of `@keepalive/node-timers`: the work in flight, the heartbeat while
 * busy, the idle notice, the shutdown report; spec S1–S10) for a Durable Object, whose instance can go at any time: an
 * eviction when it is idle, a restart (a deploy, a crash, a reset) at any moment, with no hook to report anything.
 * The activity runs in the instance as everywhere else; its state is mirrored to one record of the object's storage
 * at each change, so that the next instance finds out what the previous one was doing when it went:
 *
 * - **the shutdown report (S9)**: a previous instance that went with work in flight (a restart: an evicted object is
 *   idle) never reported it; the next one does, once, as `activity_at_shutdown` with `previous_instance: true` and the
 *   counts, reasons and age it had (its work is not in flight any more: it went with its instance);
 * - **the idle notice (S6)**: a previous instance that went idle and went before its notice was due leaves it to the
 *   next one, which gives it when it is due (`idle` with `idle_ms`, measured from when it went idle), once.
 *
 * Storage: one key (`keepalive:activity` by default), written at each change of the total, of a reason's count, of
 * the idle notice's state (one small write per `start` and release; the writes of one event go in one batch), holding
 * the total, the counts of at most 32 reasons (more are counted under `other`), when the total last went 0 → 1, when
 * the idle notice is due and the keep-alives sent: at most about 1 KiB however long the object lives. Nothing of it
 * is personal (S10): counts, reason names, times.
 */

/** The layout version of the record; another version is ignored (and replaced). */
const RECORD_VERSION = 1;
/** Reasons kept by name in the record, at most; the rest are summed under {@link OTHER_REASON}. */
const MAX_REASONS = 32;
/** Where reasons past {@link MAX_REASONS} are counted. */
const OTHER_REASON = 'other';

/** The record an instance leaves in the storage (times in ms since the epoch). */
interface ActivityRecord {
  readonly v: number;
  readonly total: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly busySince: number | null;
  /** When the idle notice is due (armed and not given), or `null`. */
  readonly idleDue: number | null;
  /** When the total went to 0 (what the notice measures from), or `null`. */
  readonly idleSince: number | null;
  readonly keepalivesSent: number;
}

/**
 * Options of {@link createDurableActivity}: the session activity's (its scheduler is the instance's own; it holds
 * no process open and reports nothing at process exit: an object has no exit), the storage key, and the clock.
 */
export interface DurableActivityOptions extends Omit<SessionActivityOptions, 'scheduler' | 'keepProcessAlive' | 'reportOnExit'> {
  /** The storage key of the activity's record. Default `keepalive:activity`. */
  readonly key?: string | undefined;
  /** The wall clock (ms since the epoch) the record's times use. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/**
 * What an instance found of the previous one's activity ({@link DurableActivity.restored}): `report`, the shutdown
 * report it never gave (it went with work in flight), or `null`; `idleNotice`, whether the previous instance left its
 * idle notice due (it is given by this one, when due).
 */
export interface PreviousActivity {
  readonly report: ShutdownReport | null;
  readonly idleNotice: boolean;
}

/**
 * A session activity whose work in flight, idle notice and shutdown report outlive the object's instance; see
 * {@link createDurableActivity}.
 */
export interface DurableActivity {
  /** The activity: `start(reason)` / release, `attach(sender)`, `snapshot()`, `shutdown()`, as everywhere. */
  readonly activity: SessionActivity;
  /**
   * Resolves once the previous instance's record was read and what it left was reported (await it in the object's
   * constructor, in `ctx.blockConcurrencyWhile`); never rejects (an unreadable record counts as none).
   */
  readonly restored: Promise<PreviousActivity>;
}

/**
 * Creates a session activity for a Durable Object whose state is mirrored to the object's storage (see the module's
 * description): create it in the constructor and await `restored` there (`ctx.blockConcurrencyWhile`). A bad option
 * throws `KeepaliveOptionError` naming it.
 */
export function createDurableActivity(storage: Pick<DurableObjectKeyValueStorageLike, 'get' | 'put'>, options: DurableActivityOptions = {}): DurableActivity {
  const { key = 'keepalive:activity', now: clock, ...rest } = options;
  if (typeof key !== 'string' || key === '') throw new KeepaliveOptionError('key', key, 'a non-empty string');
  if (clock !== undefined && typeof clock !== 'function') throw new KeepaliveOptionError('now', clock, 'a function');
  const wall = clock ?? Date.now;
  const scheduler = createScheduler();
  const activity = createSessionActivity({ ...rest, scheduler });
  const sink = createDiagnosticSink({ session: nextInstanceId(), logger: rest.logger, onDiagnostic: rest.onDiagnostic });
  /** A time of the scheduler's clock as ms since the epoch. */
  const toWall = (at: number | null): number | null => (at === null ? null : Math.round(wall() - (scheduler.now() - at)));
  let written = '';
  let queued = false;
  let ready = false;
  const write = (): void => {
    queued = false;
    if (!ready) return;
    const record = recordOf(activity.state, toWall);
    const text = JSON.stringify(record);
    if (text === written) return;
    written = text;
    storage.put({ [key]: record }).catch((error: unknown) => {
      sink({ type: 'diagnostic', level: 'warn', name: 'activity_store_failed', fields: { error: error instanceof Error ? error.name : typeof error } });
    });
  };
  activity.subscribe(() => {
    if (queued) return;
    queued = true;
    // The changes of one turn go in one write.
    queueMicrotask(write);
  });
  const restored = (async (): Promise<PreviousActivity> => {
    let previous: unknown = null;
    try {
      previous = await storage.get(key);
    } catch (error) {
      sink({ type: 'diagnostic', level: 'warn', name: 'activity_store_failed', fields: { error: error instanceof Error ? error.name : typeof error } });
    }
    ready = true;
    const found = isRecord(previous) ? previous : null;
    const at = wall();
    let report: ShutdownReport | null = null;
    if (found !== null && found.total > 0) {
      // S9, late: the previous instance went with this in flight, and could not say so.
      report = { total: found.total, active: found.counts, oldestActivityMs: found.busySince === null ? null : Math.max(0, at - found.busySince), keepalivesSent: found.keepalivesSent };
      sink({
        type: 'diagnostic',
        level: 'info',
        name: 'activity_at_shutdown',
        fields: { total: report.total, active: report.active, oldest_activity_ms: report.oldestActivityMs, keepalives_sent: report.keepalivesSent, previous_instance: true },
      });
    }
    const idleNotice = found !== null && found.total === 0 && found.idleDue !== null && found.idleSince !== null;
    if (idleNotice) {
      const { idleDue, idleSince } = found as { idleDue: number; idleSince: number };
      const give = (): void => {
        // Not if work started here meanwhile (a new busy stretch has its own notice).
        if (activity.state.total === 0) sink({ type: 'diagnostic', level: 'info', name: 'idle', fields: { idle_ms: Math.max(0, wall() - idleSince), previous_instance: true } });
      };
      if (idleDue <= at) give();
      else setTimeout(give, idleDue - at);
    }
    // This instance's state replaces the previous one's (what it left is reported, and gone with it).
    written = '';
    write();
    return { report, idleNotice };
  })();
  return { activity, restored };
}

/** The record of the activity's state now. */
function recordOf(state: SessionState, toWall: (at: number | null) => number | null): ActivityRecord {
  const counts: Record<string, number> = {};
  let kept = 0;
  for (const [reason, count] of Object.entries(state.counts)) {
    if (count <= 0) continue;
    if (kept < MAX_REASONS) {
      counts[reason] = count;
      kept++;
    } else counts[OTHER_REASON] = (counts[OTHER_REASON] ?? 0) + count;
  }
  const idleDue = state.total === 0 ? toWall(state.idleAt) : null;
  return {
    v: RECORD_VERSION,
    total: state.total,
    counts,
    busySince: toWall(state.busySince),
    idleDue,
    // The notice measures from when the total went to 0: its due time less the idle delay.
    idleSince: idleDue === null ? null : idleDue - state.config.idleDelayMs,
    keepalivesSent: state.keepalivesSent,
  };
}

function isRecord(value: unknown): value is ActivityRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<keyof ActivityRecord, unknown>;
  const time = (at: unknown): boolean => at === null || (typeof at === 'number' && Number.isFinite(at));
  return (
    record.v === RECORD_VERSION &&
    typeof record.total === 'number' &&
    typeof record.counts === 'object' &&
    record.counts !== null &&
    time(record.busySince) &&
    time(record.idleDue) &&
    time(record.idleSince) &&
    typeof record.keepalivesSent === 'number'
  );
}
