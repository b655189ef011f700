/**
 * An indexed binary min-heap of deadlines, laid out in typed arrays: keys
 * (deadlines) in a Float64Array, ids in an Int32Array, and each id's position
 * in another Int32Array. A sift reads and writes only these contiguous
 * arrays, never the scheduled objects themselves, so 100,000 entries do not
 * cost a cache miss per level. Ids are small integers handed out by
 * {@link DeadlineHeap.allocate} and reused after {@link DeadlineHeap.free}.
 */
export class DeadlineHeap {
  private keys = new Float64Array(64);
  private ids = new Int32Array(64);
  private positions = new Int32Array(64).fill(-1);
  private freeIds: number[] = [];
  private nextId = 0;
  /** Entries in the heap. */
  size = 0;

  /** A fresh id, not in the heap. */
  allocate(): number {
    const reused = this.freeIds.pop();
    if (reused !== undefined) return reused;
    const id = this.nextId++;
    if (id >= this.positions.length) this.positions = grow(this.positions, -1);
    this.positions[id] = -1;
    return id;
  }

  /** Returns an id for reuse; it must not be in the heap. */
  free(id: number): void {
    if (this.has(id)) this.remove(id);
    this.freeIds.push(id);
  }

  has(id: number): boolean {
    return (this.positions[id] ?? -1) >= 0;
  }

  /** The smallest deadline, or `Infinity` when empty. */
  topKey(): number {
    return this.size === 0 ? Infinity : (this.keys[0] as number);
  }

  /** The id with the smallest deadline, or -1 when empty. */
  topId(): number {
    return this.size === 0 ? -1 : (this.ids[0] as number);
  }

  /** Inserts `id` with `key`, or re-keys it in place when it is already in. */
  set(id: number, key: number): void {
    const at = this.positions[id] ?? -1;
    if (at >= 0) {
      const previous = this.keys[at] as number;
      this.keys[at] = key;
      if (key < previous) this.up(at);
      else if (key > previous) this.down(at);
      return;
    }
    if (this.size === this.keys.length) {
      this.keys = grow(this.keys, 0);
      this.ids = grow(this.ids, 0);
    }
    const index = this.size++;
    this.keys[index] = key;
    this.ids[index] = id;
    this.positions[id] = index;
    this.up(index);
  }

  /** Removes `id` if it is in the heap. */
  remove(id: number): void {
    const at = this.positions[id] ?? -1;
    if (at < 0) return;
    this.positions[id] = -1;
    const last = --this.size;
    if (at === last) return;
    const movedId = this.ids[last] as number;
    this.keys[at] = this.keys[last] as number;
    this.ids[at] = movedId;
    this.positions[movedId] = at;
    this.down(at);
    this.up(at);
  }

  private up(index: number): void {
    const keys = this.keys;
    const ids = this.ids;
    const positions = this.positions;
    const key = keys[index] as number;
    const id = ids[index] as number;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentKey = keys[parent] as number;
      if (parentKey <= key) break;
      const parentId = ids[parent] as number;
      keys[index] = parentKey;
      ids[index] = parentId;
      positions[parentId] = index;
      index = parent;
    }
    keys[index] = key;
    ids[index] = id;
    positions[id] = index;
  }

  private down(index: number): void {
    const keys = this.keys;
    const ids = this.ids;
    const positions = this.positions;
    const size = this.size;
    const key = keys[index] as number;
    const id = ids[index] as number;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      let childKey = keys[left] as number;
      if (right < size) {
        const rightKey = keys[right] as number;
        if (rightKey < childKey) {
          child = right;
          childKey = rightKey;
        }
      }
      if (childKey >= key) break;
      const childId = ids[child] as number;
      keys[index] = childKey;
      ids[index] = childId;
      positions[childId] = index;
      index = child;
    }
    keys[index] = key;
    ids[index] = id;
    positions[id] = index;
  }
}

function grow<T extends Float64Array | Int32Array>(array: T, fill: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(array.length * 2);
  bigger.set(array);
  bigger.fill(fill, array.length);
  return bigger;
}
