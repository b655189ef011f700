import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The tests start workerd (Miniflare) and measure timings against it: one file at a time on 2 cores. The package's
    // code runs inside workerd, out of reach of Node's coverage, so there is no coverage threshold here.
    fileParallelism: false,
  },
});
