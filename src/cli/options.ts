// Shared by the commands: parsers for commander option values (each rejects a malformed value with
// commander's InvalidArgumentError, printed as one line naming the option), and device start-up.

import { InvalidArgumentError } from 'commander';
import type { Backend } from '../tensor/backend.js';
import { initDevice } from '../tensor/device.js';
import { CpuBackend } from '../tensor/backends/cpu/index.js';

/** A positive integer written as digits ("3", not "3.0" or "1e3"). */
export function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Any integer written as digits, optionally negative (seeds). */
export function integerOption(value: string): number {
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

/** A finite number. */
export function numberOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

/**
 * Start a device for a command; `threads` (a positive integer, from --threads) applies to the cpu
 * device only.
 */
export async function startDevice(device: string, threads?: number): Promise<Backend> {
  const backend = await initDevice(device);
  if (threads !== undefined) {
    if (!(backend instanceof CpuBackend)) throw new Error('--threads applies to the cpu device only');
    backend.setThreads(threads);
  }
  return backend;
}
