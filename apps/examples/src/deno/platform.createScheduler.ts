import { createScheduler, createSessionActivity } from '@keepalive/deno';
const scheduler = createScheduler();
const activity = createSessionActivity({ scheduler });
