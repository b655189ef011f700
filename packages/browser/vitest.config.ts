import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // One real Chromium and real sockets: files one after the other, so the timing bounds are not skewed on a
    // loaded 2-core machine; bundling with esbuild and Vite can take a while on a cold cache.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
