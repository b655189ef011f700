import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
const scheduler = createScheduler();
const sessions = Array.from({ length: 10_000 }, () => createSessionActivity({ scheduler }));
