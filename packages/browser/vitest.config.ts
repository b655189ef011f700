import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // Every scenario runs real runtimes in child processes against real sockets: one at a time, so timing bounds
    // are not skewed on 2 shared cores. Each child has its own, shorter limit.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
