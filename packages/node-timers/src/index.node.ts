/**
 * @keepalive/node-timers on Node: everything of the runtime-neutral entry,
 * plus every diagnostic published on the `node:diagnostics_channel` channel
 * {@link DIAGNOSTICS_CHANNEL} (`{ session, level, name, fields }`), whatever
 * the logger. Chosen by the `node` export condition.
 *
 * @module @keepalive/node-timers
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNEL } from './logger.js';
import { installDiagnosticsPublisher } from './runtime.js';

const channel = diagnosticsChannel.channel(DIAGNOSTICS_CHANNEL);
installDiagnosticsPublisher({
  active: () => channel.hasSubscribers,
  publish: (message) => {
    channel.publish(message);
  },
});

export * from './index.js';
