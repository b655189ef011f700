import { createSessionActivity as createNodeSessionActivity, type SessionActivity, type SessionActivityOptions } from '@keepalive/node-timers';
import { defaultScheduler } from './platform.ts';

/**
 * Creates a session-activity instance on Deno: the `@keepalive/node-timers`
 * instance (same options, same behaviour, same diagnostics) on Deno's
 * monotonic clock and one shared, unref'd Deno timer ({@link defaultScheduler}) unless
 * `scheduler` is given. Options are validated here: a bad one throws,
 * naming the option and the value.
 */
export function createSessionActivity(options: SessionActivityOptions = {}): SessionActivity {
  return createNodeSessionActivity({ ...options, scheduler: options.scheduler ?? defaultScheduler() });
}
