// `bench bert --compare-torch` refuses a PyTorch that runs on the reference BLAS: its ratio would
// compare against a ~40x slower library (found on a fresh machine with only libblas3 installed).
import { describe, expect, it } from 'vitest';
import { checkTorchBlas } from '../src/bench/bert.js';

describe('checkTorchBlas', () => {
  it('accepts OpenBLAS', () => {
    expect(() =>
      checkTorchBlas([
        '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
        '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so',
      ]),
    ).not.toThrow();
  });

  it('refuses the reference libblas.so.3 with a one-line error naming it and the fix', () => {
    expect(() => checkTorchBlas(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'])).toThrow(
      /^--compare-torch: PyTorch uses the reference BLAS \(\/usr\/lib\/x86_64-linux-gnu\/blas\/libblas\.so\.3\).*install libopenblas0-pthread/,
    );
  });
});
