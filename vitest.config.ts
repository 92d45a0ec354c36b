import { defineConfig } from 'vitest/config';

// test/kernels/*.test.ts run every primitive over all four devices. webgpu's software adapter
// (Dawn on EGL) and gpujs (headless gl on GLX) cannot share one process (the second GL context
// fails with BadAccess), so the kernel suites run twice, in two projects: the gpujs rows in one,
// the other devices' rows in the other (test/kernels/harness.ts reads RETROGRAD_KERNEL_DEVICES).
const KERNEL_SUITES = 'test/kernels/*.test.ts';

export default defineConfig({
  test: {
    // The JSON report feeds .ci/run's closing `N passed, N failed` line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Worker pools and GPU adapters are process-wide resources: one file at a time keeps
    // them from fighting over the 2 cores of a CI machine.
    fileParallelism: false,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], env: { RETROGRAD_KERNEL_DEVICES: 'cpu-ref,cpu,webgpu' } },
      },
      {
        extends: true,
        test: { name: 'gpujs', include: [KERNEL_SUITES], env: { RETROGRAD_KERNEL_DEVICES: 'gpujs' } },
      },
    ],
  },
});
