/**
 * @keepalive/cloudflare: keepalive on Cloudflare Workers and Durable Objects (workerd). A Durable Object that holds
 * its WebSockets with the hibernation API is evicted from memory while its sockets stay open; here its clients'
 * keep-alives are answered by the runtime's auto-response without waking it, each socket's state lives in the
 * socket's attachment, and the core's decisions (the idle close, the flood policy) are taken on the object's one
 * alarm. With `resume`, resumable sessions (the runtime-neutral `SessionHub`) keep their state in the object's
 * transactional storage ({@link DurableObjectSessionStore}), so they survive its eviction and its restart; and
 * {@link createDurableActivity} mirrors a session activity to the storage, so that its idle notice and shutdown report
 * outlive the instance.
 * Runtime-neutral code: workerd's types are small local interfaces, nothing imports `cloudflare:workers`.
 *
 * The reconnecting client runs on workerd as it is: `createKeepaliveClient` (and `createLiteClient`) from
 * `@keepalive/websocket-transport`, on the global `WebSocket` (see the README for what happens to one in an evicted
 * object).
 *
 * @packageDocumentation
 */
export { HibernatingKeepalive, createHibernatingKeepalive } from './server.js';
export type {
  AcceptOptions,
  HibernatingFrameRoute,
  HibernatingKeepaliveOptions,
  HibernatingKeepaliveStats,
  HibernatingResumeOptions,
  UpgradeRequestLike,
} from './options.js';
export type { KeepaliveAttachment, PackedPeer } from './attachment.js';
export { createDurableActivity, type DurableActivity, type DurableActivityOptions, type PreviousActivity } from './activity.js';
export {
  DurableObjectSessionStore,
  createDurableObjectSessionStore,
  type DurableObjectSessionStoreOptions,
  type DurableObjectSessionStoreStats,
} from './session-store.js';
export type {
  DurableObjectAlarmStorageLike,
  DurableObjectKeyValueStorageLike,
  DurableObjectStateLike,
  HibernatableWebSocketLike,
  WebSocketPairConstructor,
  WebSocketRequestResponsePairConstructor,
  WebSocketRequestResponsePairLike,
} from './workerd-like.js';
export { HEARTBEAT_MESSAGE } from '@keepalive/websocket-transport/peer';
