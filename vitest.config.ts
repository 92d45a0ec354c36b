import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The JSON report feeds .ci/run's closing `N passed, N failed` line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Worker pools and GPU adapters are process-wide resources: one file at a time keeps
    // them from fighting over the 2 cores of a CI machine.
    fileParallelism: false,
    pool: 'forks',
  },
});
