import { defineReconnectConfig, nestedOptions } from '@keepalive/core';
const reconnect = nestedOptions('reconnect', { maxDelayMs: 5_000 }, defineReconnectConfig);
console.log(reconnect.maxDelayMs); // 5000
