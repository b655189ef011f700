import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { DeadlineHeap } from './test-support/deadline-heap.js';

type Op = { k: 'set'; slot: number; key: number } | { k: 'remove'; slot: number } | { k: 'free'; slot: number } | { k: 'pop' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('set' as const), slot: fc.nat(40), key: fc.integer({ min: 0, max: 1_000 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('remove' as const), slot: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('free' as const), slot: fc.nat(40) }) },
  { weight: 2, arbitrary: fc.constant({ k: 'pop' as const }) },
);

describe('DeadlineHeap', () => {
  test.prop([fc.array(op, { maxLength: 300 })])('behaves like a map of id → key whose minimum is always on top', (ops) => {
    const heap = new DeadlineHeap();
    const model = new Map<number, number>();
    const slots: number[] = [];
    const idOf = (slot: number): number => {
      while (slots.length <= slot) slots.push(heap.allocate());
      return slots[slot]!;
    };
    for (const o of ops) {
      if (o.k === 'set') {
        const id = idOf(o.slot);
        heap.set(id, o.key);
        model.set(id, o.key);
      } else if (o.k === 'remove') {
        const id = idOf(o.slot);
        heap.remove(id);
        model.delete(id);
      } else if (o.k === 'free') {
        const id = idOf(o.slot);
        heap.free(id);
        model.delete(id);
        slots[o.slot] = heap.allocate();
        expect(heap.has(slots[o.slot]!)).toBe(false);
      } else if (heap.size > 0) {
        const id = heap.topId();
        expect(model.get(id)).toBe(heap.topKey());
        heap.remove(id);
        model.delete(id);
      }
      expect(heap.size).toBe(model.size);
      const min = Math.min(...model.values());
      expect(heap.topKey()).toBe(model.size === 0 ? Infinity : min);
      expect(heap.topId() === -1).toBe(model.size === 0);
      for (const [id] of model) expect(heap.has(id)).toBe(true);
    }
    // Draining pops keys in order.
    const drained: number[] = [];
    while (heap.size > 0) {
      drained.push(heap.topKey());
      heap.remove(heap.topId());
    }
    expect(drained).toEqual([...model.values()].sort((a, b) => a - b));
  });

  test.prop([fc.integer({ min: 65, max: 5_000 })])('grows past its initial capacity', (n) => {
    const heap = new DeadlineHeap();
    for (let i = 0; i < n; i++) heap.set(heap.allocate(), n - i);
    expect(heap.size).toBe(n);
    expect(heap.topKey()).toBe(1);
  });
});
