import { createScheduler, createSessionActivity } from '@keepalive/bun';
const scheduler = createScheduler();
const activity = createSessionActivity({ scheduler });
