// Parsers for commander option values, shared by the commands: each rejects a malformed value with
// commander's InvalidArgumentError, which commander prints as one line naming the option.

import { InvalidArgumentError } from 'commander';

/** A positive integer written as digits ("3", not "3.0" or "1e3"). */
export function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
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
