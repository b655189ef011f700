/**
 * A seeded pseudo-random generator whose whole state is one 32-bit integer,
 * so it can live inside serialisable machine state (spec B3: randomness
 * arrives as an input, never from the platform's generator). Algorithm: mulberry32.
 */

/**
 * One draw: the value in [0, 1) and the seed for the next draw.
 */
export interface RandomDraw {
  readonly value: number;
  readonly seed: number;
}

/**
 * Draws the next value in [0, 1) from `seed`. Pure: the same seed always
 * gives the same value and next seed.
 *
 * @example
 * ```ts
 * import { nextRandom } from '@keepalive/core';
 * const { value, seed } = nextRandom(12345);
 * const second = nextRandom(seed).value;
 * ```
 */
export function nextRandom(seed: number): RandomDraw {
  const next = (seed + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  const value = ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  return { value, seed: next };
}

/**
 * Normalises any number into a valid 32-bit seed.
 */
export function toSeed(value: number): number {
  return Number.isFinite(value) ? Math.trunc(value) >>> 0 : 0;
}

/**
 * Whether `value` is a usable random input: a number in [0, 1).
 */
export function isUnitInterval(value: unknown): boolean {
  return typeof value === 'number' && value >= 0 && value < 1;
}
