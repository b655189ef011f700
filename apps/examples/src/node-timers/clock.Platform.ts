import { createScheduler, type Platform } from '@keepalive/node-timers';
const platform: Platform = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  unref: (handle) => (handle as NodeJS.Timeout).unref(),
};
const scheduler = createScheduler({ platform });
