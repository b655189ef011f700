import type { DeliveryState } from '@keepalive/core';

/**
 * Thrown by {@link ResumableSession.send} when the replay buffer is full: the message was not accepted (nothing is
 * dropped silently). Wait for the client to acknowledge (or to come back), or end the session.
 */
export class ReplayFullError extends Error {
  /** Which limit refused it. */
  readonly limit: 'messages' | 'bytes';
  /** The size of the refused message in bytes. */
  readonly bytes: number;
  readonly unackedMessages: number;
  readonly unackedBytes: number;
  readonly maxUnackedMessages: number;
  readonly maxUnackedBytes: number;

  constructor(limit: 'messages' | 'bytes', bytes: number, state: DeliveryState) {
    const { maxUnackedMessages, maxUnackedBytes } = state.config;
    super(
      `Replay buffer full (${limit}): ${state.unacked.length}/${maxUnackedMessages} messages and ${state.unackedBytes}/${maxUnackedBytes} bytes wait for the client's acknowledgement; the message of ${bytes} bytes was not accepted`,
    );
    this.name = 'ReplayFullError';
    this.limit = limit;
    this.bytes = bytes;
    this.unackedMessages = state.unacked.length;
    this.unackedBytes = state.unackedBytes;
    this.maxUnackedMessages = maxUnackedMessages;
    this.maxUnackedBytes = maxUnackedBytes;
  }
}

/**
 * Thrown by {@link ResumableSession.send} after the session ended (closed or expired): the message was not accepted.
 */
export class SessionEndedError extends Error {
  constructor() {
    super('The resumable session has ended (closed or expired); the message was not accepted');
    this.name = 'SessionEndedError';
  }
}
