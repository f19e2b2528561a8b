import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts the tests' PostgreSQL unless TEST_DATABASE_URL is set, and stops every server tests started.
    globalSetup: ['test/helpers/postgres-global.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Timing assertions (health check timeouts, recovery) need the machine to themselves.
    fileParallelism: false,
    reporters: ['default'],
  },
});
