/**
 * Redis Cluster's key slots, computed here exactly as a cluster does (pure): CRC16 (XMODEM) of the key, or of its
 * hash tag (the text between the first `{` and the first `}` after it, when that text is not empty), modulo 16 384.
 * Two keys with the same hash tag are in the same slot, so one script (or one transaction) may touch both on a
 * cluster; keys in different slots may live on different masters.
 */

/** The number of slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

function crcTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
}

const TABLE = /* @__PURE__ */ crcTable();
const encoder = /* @__PURE__ */ new TextEncoder();

/** CRC16/XMODEM (polynomial 0x1021, initial 0) of the UTF-8 bytes of `text`: the hash Redis Cluster uses. */
export function crc16(text: string): number {
  let crc = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // ASCII is its own UTF-8; anything else is encoded first.
    if (code >= 0x80) return crcOfBytes(encoder.encode(text));
    crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ code) & 0xff] ?? 0);
  }
  return crc;
}

function crcOfBytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

/** The hash tag of `key` (what a cluster hashes), or the whole key when it has none. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** The slot of `key` in a Redis Cluster (what `CLUSTER KEYSLOT key` answers). */
export function keySlot(key: string): number {
  return crc16(hashTagOf(key)) % CLUSTER_SLOTS;
}

/** Candidate suffixes tried per shard before giving up on spreading it (never reached for `shards` <= 1 024). */
const MAX_TRIES = 1_000_000;

/**
 * The hash tag of each of `shards` shards (pure, deterministic): shard `s` gets `s.k` for the least `k` whose slot
 * falls in the `s`th of `shards` equal ranges of the 16 384 slots. A cluster gives each master contiguous ranges of
 * slots, so the shards spread over the masters as evenly as the slots do (with 16 shards on 3 masters: 5, 5 and 6),
 * where tags picked at random would often put half of them on one master.
 */
export function shardTags(shards: number): readonly string[] {
  const tags: string[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const from = Math.ceil((shard * CLUSTER_SLOTS) / shards);
    const to = Math.ceil(((shard + 1) * CLUSTER_SLOTS) / shards);
    let tag = `${String(shard)}.0`;
    for (let k = 0; k < MAX_TRIES; k++) {
      const candidate = `${String(shard)}.${String(k)}`;
      const slot = crc16(candidate) % CLUSTER_SLOTS;
      if (slot >= from && slot < to) {
        tag = candidate;
        break;
      }
    }
    tags.push(tag);
  }
  return tags;
}
