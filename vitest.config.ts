import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Database tests stop and start one shared PostgreSQL server: files must not overlap.
    fileParallelism: false,
    reporters: ['default'],
  },
});
