import { INITIAL_RTT, createPeerState, type MutablePeerState, type PeerConfig } from '@keepalive/core';
import type { HibernatableWebSocketLike } from './workerd-like.js';

/**
 * The attachment format: what a socket of a {@link HibernatingKeepalive} carries across hibernation (its peer state,
 * packed; the application's value; the session it holds), and how it is read and written.
 */

/**
 * The version of {@link PackedPeer}: a socket whose attachment holds another version (a deploy that changed the
 * layout) starts again from a fresh peer state at its next event.
 */
export const PACKED_VERSION = 1;

/**
 * The per-socket state that survives hibernation, in the socket's attachment: the fields of the core's
 * `PeerState` (its `config` is rebuilt from the options at each wake), and the time of the last auto-response
 * already told to the machine. Numbers only (`null` where the core has `null`): 14 slots, at most 153 bytes as workerd
 * serializes it (V8's structured clone, measured in the tests), whatever the traffic: bounded.
 */
export type PackedPeer = readonly [
  version: number,
  pingAt: number | null,
  pongAt: number | null,
  idleAt: number | null,
  lastTrafficAt: number,
  floodLastPingAt: number | null,
  floodStrikes: number,
  floodViolated: number,
  pingsSent: number,
  quietPings: number,
  heartbeatsOwed: number,
  closed: number,
  /** The last auto-response time the machine was told about (ms since the epoch), or `null`. */
  autoResponseSeenAt: number | null,
  /** When the socket was accepted (ms since the epoch). */
  acceptedAt: number,
];

/**
 * What a socket's attachment holds: the keep-alive's state (`keepalive`) and the application's own value (`app`),
 * set with {@link HibernatingKeepalive.setAttachment}. Do not call `ws.serializeAttachment` yourself on a socket the
 * keep-alive accepted: it would replace the keep-alive's state, and the socket would no longer be decided for.
 */
export interface KeepaliveAttachment {
  readonly keepalive: PackedPeer;
  readonly app?: unknown;
  /**
   * Present on a socket whose client asked for a resumable session (`ka=2`): the id of the session it carries once
   * it proved the session's secret (or was given a new one), `null` before. Only the id (public, in the client's
   * URL) and, by its presence, the fact that this socket proved it: never the secret. After an eviction it tells the
   * new instance which session the socket held (see {@link HibernatingKeepalive.webSocketMessage}).
   */
  readonly session?: string | null;
}

/**
 * A peer state read from an attachment: the core's mutable state plus what the adapter keeps beside it.
 */
export interface LoadedPeer extends MutablePeerState {
  autoResponseSeenAt: number | null;
  acceptedAt: number;
  app: unknown;
  /** See {@link KeepaliveAttachment.session}; `undefined` on a plain socket. */
  session: string | null | undefined;
}

/**
 * A fresh peer state for a socket accepted (or started again) at `now`, with the application's value `app` and its
 * session field (`null` for a socket that asked for a resumable session, `undefined` for a plain one).
 */
export function freshPeer(config: PeerConfig, now: number, app: unknown, session: string | null | undefined): LoadedPeer {
  // The peer never probes (`sendKeepalives: false`): no ping is due, so the phase plays no part.
  return { ...createPeerState(config, now, 0), autoResponseSeenAt: null, acceptedAt: now, app, session };
}

/**
 * The socket's peer state from its attachment, or `null` when the keep-alive did not accept it. `now` is read only
 * when the attachment holds another layout (see {@link PACKED_VERSION}).
 */
export function loadPeer(ws: HibernatableWebSocketLike, config: PeerConfig, now: () => number): LoadedPeer | null {
  const stored = ws.deserializeAttachment();
  if (!isKeepaliveAttachment(stored)) return null;
  const p = stored.keepalive;
  if (p[0] !== PACKED_VERSION) {
    // Another layout (a deploy in between): start again from a fresh state, as if just accepted.
    return freshPeer(config, now(), stored.app, sessionOf(stored));
  }
  return {
    config,
    pingAt: p[1],
    pongAt: p[2],
    idleAt: p[3],
    lastTrafficAt: p[4],
    flood: { lastPingAt: p[5], strikes: p[6], violated: p[7] === 1 },
    pingsSent: p[8],
    quietPings: p[9],
    heartbeatsOwed: p[10],
    closed: p[11] === 1,
    // Not kept across hibernation (the attachment stays bounded): a fresh estimate, heard last at the last traffic.
    ...INITIAL_RTT,
    heardAt: p[4],
    autoResponseSeenAt: p[12],
    acceptedAt: p[13],
    app: stored.app,
    session: sessionOf(stored),
  };
}

/** Writes the peer state (and the application's value, and the session field where there is one) to the socket's attachment. */
export function savePeer(ws: HibernatableWebSocketLike, peer: LoadedPeer): void {
  const attachment: KeepaliveAttachment = peer.session === undefined ? { keepalive: packPeer(peer), app: peer.app } : { keepalive: packPeer(peer), app: peer.app, session: peer.session };
  ws.serializeAttachment(attachment);
}

/** Marks the socket as carrying session `id` in its attachment (nothing on a socket the keep-alive did not accept). */
export function saveSession(ws: HibernatableWebSocketLike, id: string): void {
  const stored = ws.deserializeAttachment();
  if (!isKeepaliveAttachment(stored)) return;
  ws.serializeAttachment({ ...stored, session: id } satisfies KeepaliveAttachment);
}

/** The attachment's packed state of a peer (see {@link PackedPeer}). */
function packPeer(peer: LoadedPeer): PackedPeer {
  return [
    PACKED_VERSION,
    peer.pingAt,
    peer.pongAt,
    peer.idleAt,
    peer.lastTrafficAt,
    peer.flood.lastPingAt,
    peer.flood.strikes,
    peer.flood.violated ? 1 : 0,
    peer.pingsSent,
    peer.quietPings,
    peer.heartbeatsOwed,
    peer.closed ? 1 : 0,
    peer.autoResponseSeenAt,
    peer.acceptedAt,
  ];
}

/** The session field of an attachment (see {@link KeepaliveAttachment.session}). */
export function sessionOf(value: unknown): string | null | undefined {
  if (!isKeepaliveAttachment(value) || !('session' in value)) return undefined;
  const session = value.session;
  return typeof session === 'string' ? session : null;
}

/** Whether `value` (a socket's deserialized attachment) is one the keep-alive wrote. */
export function isKeepaliveAttachment(value: unknown): value is KeepaliveAttachment {
  return typeof value === 'object' && value !== null && Array.isArray((value as { keepalive?: unknown }).keepalive);
}
