// Where a test child connects: `redis://…` (a single Redis: the package's `url` option), or the JSON of a cluster
// (`{"rootNodes":["redis://127.0.0.1:p1",…],"map":{"127.0.0.1:p1":{"host":"127.0.0.1","port":q1},…}}`): a
// `createCluster` client (the package's `client` option), reaching each node through the address in `map` when
// there is one (a cuttable proxy). Intervals compressed like the tests' own.
import { createCluster } from '@redis/client';

/** The package options for `spec`: `{ url }`, or `{ client }` and the cluster to close at exit. */
export function connectTo(spec) {
  if (spec.startsWith('redis://')) return { options: { url: spec }, close: () => Promise.resolve() };
  const { rootNodes, map } = JSON.parse(spec);
  const client = createCluster({
    rootNodes: rootNodes.map((url) => ({ url })),
    defaults: { disableOfflineQueue: true, socket: { connectTimeout: 500, reconnectStrategy: (retries) => Math.min(25 * 2 ** retries, 100) } },
    ...(map === undefined ? {} : { nodeAddressMap: map }),
  });
  client.on('error', () => undefined);
  return {
    options: { client },
    close: async () => {
      client.destroy();
    },
  };
}
