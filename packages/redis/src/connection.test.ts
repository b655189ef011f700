import { ErrorReply, MultiErrorReply, SocketClosedUnexpectedlyError } from '@redis/client';
import { describe, expect, it } from 'vitest';
import { RedisNotConnectedError, RedisTimeoutError, errorClass } from './connection.js';

describe('error classes for diagnostics', () => {
  it('a Redis error reply is named by its prefix, never by its message (which may quote a key or a value)', () => {
    expect(errorClass(new ErrorReply("OOM command not allowed when used memory > 'maxmemory'. script: 1f2e, on @user_script:5."))).toBe('OOM');
    expect(errorClass(new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe('WRONGTYPE');
    expect(errorClass(new ErrorReply("READONLY You can't write against a read only replica."))).toBe('READONLY');
    expect(errorClass(new ErrorReply('ERR secret-session-id is not valid'))).toBe('ERR');
    expect(errorClass(new ErrorReply('lowercase secret-session-id'))).toBe('ErrorReply');
    const multi = new MultiErrorReply([new ErrorReply('ignored'), new ErrorReply('WRONGTYPE nope')], [1]);
    expect(errorClass(multi)).toBe('WRONGTYPE');
  });

  it('other errors by a system code, their name, or their constructor name; a non-error by its type', () => {
    expect(errorClass(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorClass(new RedisTimeoutError(100))).toBe('RedisTimeoutError');
    expect(errorClass(new RedisNotConnectedError())).toBe('RedisNotConnectedError');
    expect(errorClass(new SocketClosedUnexpectedlyError())).toBe('SocketClosedUnexpectedlyError');
    expect(errorClass(new TypeError('session s-1 is odd'))).toBe('TypeError');
    expect(errorClass(new Error('session s-1'))).toBe('Error');
    expect(errorClass('session s-1')).toBe('string');
    expect(errorClass(Object.assign(new Error('x'), { code: 'secret value' }))).toBe('Error');
  });
});
