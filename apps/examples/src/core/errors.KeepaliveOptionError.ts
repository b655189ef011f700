import { defineSessionConfig, KeepaliveOptionError } from '@keepalive/core';
try {
  defineSessionConfig({ heartbeatIntervalMs: -1 });
} catch (error) {
  if (error instanceof KeepaliveOptionError) console.error(error.option, error.value);
}
