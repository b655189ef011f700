import { createClient, createCluster } from '@redis/client';
import { startProxy, startRedisCluster, startRedisServer, type CuttableProxy, type RedisCluster, type RedisServer } from 'keepalive-test-support/redis-server';
import { leaseKeys } from '../lease-codec.js';
import type { RedisClientLike } from '../connection.js';
import { keySlot } from '../slots.js';

/**
 * The servers a test runs the package against, as one shape: a single `redis-server`, or a local Redis Cluster of
 * three masters (`startRedisCluster`). The same scenarios run on both.
 */

/** What the tests read back directly (node-redis's clients and clusters both have these). */
export interface Probe {
  sCard(key: string): Promise<number>;
  get(key: string): Promise<string | null>;
  hGet(key: string, field: string): Promise<string | null>;
  hGetAll(key: string): Promise<Record<string, string>>;
  exists(key: string): Promise<number>;
  set(key: string, value: string): Promise<unknown>;
  hSet(key: string, fields: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export interface Backend {
  readonly name: 'redis-server' | 'cluster';
  /** Where a child connects (`redis://…`, or a cluster's JSON: see test-support/target.mjs). */
  readonly target: string;
  /** The same through cuttable proxies (one per node). */
  readonly cuttableTarget: string;
  /** Cuts (and restores) every proxy of `cuttableTarget`. */
  cut(): void;
  restore(): void;
  /** Connection options for a part in this process: `{ url }`, or `{ client }` (a new cluster, closed by `stop`). */
  options(): { readonly url: string } | { readonly client: RedisClientLike };
  /** A connected client for reading back (closed by `stop`). */
  probe(): Promise<Probe>;
  /** Kills the server (a cluster: one of its masters, SIGKILL); `start` starts it again, empty (a cluster: with its slots). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Whether the server `kill` kills holds the lease of `session` under `prefix` (a single Redis holds every one). */
  killedHolds(session: string, prefix?: string): boolean;
  /** Entries of every shard of the index under `prefix`. */
  indexSize(prefix?: string): Promise<number>;
  /** `CLUSTER KEYSLOT key`, as the cluster answers it (a cluster only). */
  keySlot(key: string): Promise<number>;
  stop(): Promise<void>;
}

const CLUSTER_DEFAULTS = { disableOfflineQueue: true, socket: { connectTimeout: 500, reconnectStrategy: (retries: number) => Math.min(25 * 2 ** retries, 100) } };

function cluster(rootNodes: readonly string[]) {
  const client = createCluster({ rootNodes: rootNodes.map((url) => ({ url })), defaults: CLUSTER_DEFAULTS });
  client.on('error', () => undefined);
  return client;
}

export async function startBackend(name: Backend['name']): Promise<Backend> {
  return name === 'cluster' ? startClusterBackend() : startServerBackend();
}

async function startServerBackend(): Promise<Backend> {
  const redis: RedisServer = await startRedisServer();
  const proxy = await startProxy(redis.port);
  const probes: Probe[] = [];
  let shared: Probe | null = null;
  const backend: Backend = {
    name: 'redis-server',
    target: redis.url,
    cuttableTarget: proxy.url,
    cut: () => proxy.cut(),
    restore: () => proxy.restore(),
    options: () => ({ url: redis.url }),
    probe: async () => {
      const client = createClient({ url: redis.url });
      client.on('error', () => undefined);
      await client.connect();
      const probe: Probe = client;
      probes.push(probe);
      return probe;
    },
    kill: () => redis.kill(),
    start: () => redis.start(),
    killedHolds: () => true,
    indexSize: async (prefix = 'keepalive') => {
      shared ??= await backend.probe();
      return indexSize(shared, prefix);
    },
    keySlot: () => Promise.reject(new Error('a single redis-server has no slots')),
    stop: async () => {
      await Promise.all(probes.map((probe) => probe.close().catch(() => undefined)));
      await proxy.close();
      await redis.stop();
    },
  };
  return backend;
}

async function indexSize(probe: Probe, prefix: string): Promise<number> {
  const keys = leaseKeys(prefix);
  const sizes = await Promise.all(Array.from({ length: keys.shards }, (_, shard) => probe.sCard(keys.index(shard))));
  return sizes.reduce((a, b) => a + b, 0);
}

async function startClusterBackend(): Promise<Backend> {
  const nodes: RedisCluster = await startRedisCluster();
  const proxies: CuttableProxy[] = [];
  try {
    for (const node of nodes.nodes) proxies.push(await startProxy(node.port));
  } catch (error) {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await nodes.stop();
    throw error;
  }
  const clients: { readonly isOpen: boolean; close(): Promise<void>; destroy(): void }[] = [];
  let shared: Probe | null = null;
  let node: ReturnType<typeof createClient> | null = null;
  // The master killed: the second (slots 5 461 to 10 922).
  const victim = nodes.nodes[1] as RedisServer;
  const map = Object.fromEntries(nodes.nodes.map((node, i) => [`127.0.0.1:${String(node.port)}`, { host: '127.0.0.1', port: proxies[i]?.port ?? 0 }]));
  const backend: Backend = {
    name: 'cluster',
    target: JSON.stringify({ rootNodes: nodes.urls }),
    cuttableTarget: JSON.stringify({ rootNodes: proxies.map((proxy) => proxy.url), map }),
    cut: () => {
      for (const proxy of proxies) proxy.cut();
    },
    restore: () => {
      for (const proxy of proxies) proxy.restore();
    },
    options: () => {
      const client = cluster(nodes.urls);
      clients.push(client);
      return { client };
    },
    probe: async () => {
      const client = cluster(nodes.urls);
      clients.push(client);
      await client.connect();
      return {
        sCard: (key) => client.sCard(key),
        get: (key) => client.get(key),
        hGet: async (key, field) => (await client.hGet(key, field)) ?? null,
        hGetAll: async (key) => ({ ...(await client.hGetAll(key)) }),
        exists: (key) => client.exists(key),
        set: (key, value) => client.set(key, value),
        hSet: (key, fields) => client.hSet(key, fields),
        close: () => client.close(),
      };
    },
    kill: () => victim.kill(),
    start: async () => {
      await victim.start();
      await nodes.ready();
    },
    killedHolds: (session, prefix = 'keepalive') => {
      const keys = leaseKeys(prefix);
      const slot = keySlot(keys.lease(session));
      return slot >= 5_461 && slot <= 10_922;
    },
    indexSize: async (prefix = 'keepalive') => {
      shared ??= await backend.probe();
      return indexSize(shared, prefix);
    },
    keySlot: async (key) => {
      if (node === null) {
        node = createClient({ url: nodes.urls[0] ?? '' });
        node.on('error', () => undefined);
        clients.push(node);
        await node.connect();
      }
      return node.clusterKeySlot(key);
    },
    stop: async () => {
      await Promise.all(
        clients.map(async (client) => {
          try {
            if (client.isOpen) await client.close();
          } catch {
            client.destroy();
          }
        }),
      );
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await nodes.stop();
    },
  };
  return backend;
}
