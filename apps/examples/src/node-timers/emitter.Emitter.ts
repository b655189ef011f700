import { Emitter } from '@keepalive/node-timers';
const events = new Emitter<{ open: { attempt: number } }>(['open'], (event, error) => console.warn(event, error));
const off = events.on('open', ({ attempt }) => console.log(attempt));
events.once('open', () => console.log('only the first open'));
events.emit('open', { attempt: 0 });
events.emit('open', { attempt: 1 });
off();
