import { utf8Length } from '@keepalive/core';

/**
 * The payloads of messages sent while the client is not connected. The
 * connection machine in the core decides what is queued and keeps the
 * accounting (counts and bytes, the bounds); this FIFO only holds the
 * payloads, copied in so a caller reusing its buffer does not change what is
 * sent later.
 */

/**
 * What `send` accepts: a string (a text frame) or bytes (a binary frame).
 */
export type ClientData = string | ArrayBuffer | ArrayBufferView;

/**
 * A queued message as it will be sent (and as it is handed back when the
 * client closes before it could be sent): a string, or a private copy of
 * the bytes.
 */
export type QueuedMessage = string | Uint8Array;

/**
 * Thrown by `send` when a message sent while disconnected would take the
 * queue past `maxQueuedMessages` or `maxQueuedBytes`. The message was not
 * queued; everything queued before it still is.
 */
export class QueueFullError extends Error {
  /** Which bound refused the message. */
  readonly limit: 'messages' | 'bytes';
  /** The count bound (`maxQueuedMessages`). */
  readonly maxMessages: number;
  /** The byte bound (`maxQueuedBytes`). */
  readonly maxBytes: number;
  /** Messages queued when the message was refused. */
  readonly queuedMessages: number;
  /** Bytes queued when the message was refused. */
  readonly queuedBytes: number;
  /** Size of the refused message in bytes. */
  readonly messageBytes: number;

  /** Which buffer was full: the `queue` of messages sent while disconnected, or the `replay` buffer of a resumable session. */
  readonly buffer: 'queue' | 'replay';

  constructor(limit: 'messages' | 'bytes', maxMessages: number, maxBytes: number, queuedMessages: number, queuedBytes: number, messageBytes: number, buffer: 'queue' | 'replay' = 'queue') {
    super(
      buffer === 'replay'
        ? limit === 'messages'
          ? `Replay buffer full: ${queuedMessages} of resume.maxUnackedMessages ${maxMessages} messages wait for the server's acknowledgement; the message was not accepted`
          : `Replay buffer full: ${queuedBytes} bytes wait for the server's acknowledgement + ${messageBytes} would exceed resume.maxUnackedBytes ${maxBytes}; the message was not accepted`
        : limit === 'messages'
          ? `Send queue full: ${queuedMessages} of maxQueuedMessages ${maxMessages} messages queued while disconnected; the message was not queued`
          : `Send queue full: ${queuedBytes} bytes queued + ${messageBytes} would exceed maxQueuedBytes ${maxBytes}; the message was not queued`,
    );
    this.buffer = buffer;
    this.name = 'QueueFullError';
    this.limit = limit;
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.queuedMessages = queuedMessages;
    this.queuedBytes = queuedBytes;
    this.messageBytes = messageBytes;
  }
}

/**
 * Size of a message in bytes as it goes on the wire (UTF-8 for strings).
 */
export function byteSize(data: ClientData): number {
  return typeof data === 'string' ? utf8Length(data) : data.byteLength;
}

/**
 * Whether `data` is something `send` accepts.
 */
export function isClientData(data: unknown): data is ClientData {
  return typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

/** A private copy of `data` (strings are immutable and kept as they are). */
export function copyPayload(data: ClientData): QueuedMessage {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** A FIFO of message payloads with the byte size of each. */
export class PayloadQueue {
  private items: QueuedMessage[] = [];
  private sizes: number[] = [];
  private head = 0;

  /** Messages held. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends a copy of `data` of `size` bytes. */
  push(data: ClientData, size: number): void {
    this.items.push(copyPayload(data));
    this.sizes.push(size);
  }

  /** The oldest message, or `undefined` when empty. */
  peek(): QueuedMessage | undefined {
    return this.items[this.head];
  }

  /** Removes the oldest message and returns its size in bytes. */
  shift(): number {
    const size = this.sizes[this.head] ?? 0;
    this.head++;
    if (this.head >= this.items.length) {
      this.items = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Compact now and then so a long flush does not hold the sent prefix.
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return size;
  }

  /** Removes and returns every message, oldest first. */
  drain(): QueuedMessage[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.sizes = [];
    this.head = 0;
    return out;
  }
}
