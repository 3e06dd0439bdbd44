import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The testbed suite boots a QEMU guest: it runs through `npm run test:testbed`, not here.
    exclude: ['test/testbed/**', 'node_modules/**', 'dist/**'],
    // Applies XDBM_TEST_PRETEND_MISSING and prints what was skipped for a missing system package.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // 2-core machines: a couple of files at a time keeps timing-sensitive failover tests honest.
    maxWorkers: 2,
  },
});
