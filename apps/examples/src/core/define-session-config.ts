import { createSessionState, defineSessionConfig, KeepaliveOptionError } from '@keepalive/core';

// Validate once, share the frozen config across many sessions.
const config = defineSessionConfig({ idleDelayMs: 60_000 });
const sessions = Array.from({ length: 3 }, () => createSessionState(config, 0));
console.log(sessions.length, config.idleDelayMs); // 3 60000

try {
  defineSessionConfig({ heartbeatIntervalMs: 0 });
} catch (error) {
  if (!(error instanceof KeepaliveOptionError)) throw error;
  console.log(error.message); // Invalid option heartbeatIntervalMs: 0 (...)
}
