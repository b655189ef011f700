import { createScanScheduler, createSessionActivity } from '@keepalive/node-timers';
const scheduler = createScanScheduler();
const activity = createSessionActivity({ scheduler, heartbeatIntervalMs: 15_000 });
activity.shutdown();
