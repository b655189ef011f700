import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { HEARTBEAT_MESSAGE, classifyMessage, isHeartbeatMessage, isHeartbeatText } from './heartbeat.js';

/** The heartbeat message (B5's keep-alive where a socket has no protocol ping): one rule for text, whoever reads it. */
describe('the heartbeat message', () => {
  test.prop([fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })])('B5: isHeartbeatText agrees with classifyMessage and isHeartbeatMessage on every text', (text, message) => {
    const verdict = isHeartbeatText(text, message);
    expect(verdict).toBe(classifyMessage(text, undefined, message) === 'heartbeat');
    expect(verdict).toBe(isHeartbeatMessage(text, message));
  });

  it('B5: the default message is the empty text frame; anything else is not it', () => {
    expect(isHeartbeatText('')).toBe(true);
    expect(isHeartbeatText(' ')).toBe(false);
    expect(isHeartbeatText('ping', 'ping')).toBe(true);
    expect(HEARTBEAT_MESSAGE).toBe('');
  });
});
