// Shared by the commands: parsers for commander option values (each rejects a malformed value with
// commander's InvalidArgumentError, printed as one line naming the option), and device start-up.

import { Command, InvalidArgumentError, Option } from 'commander';
import type { Backend } from '../tensor/backend.js';
import { initDevice } from '../tensor/device.js';
import { CpuBackend } from '../tensor/backends/cpu/index.js';
import type { EvalSet } from '../train/retrieval.js';
import { parseFilter } from '../train/batching/plan.js';

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

// ---- for the scripts (scripts/*.ts, examples/*.ts), which parse their flags with commander too ----

/**
 * A commander program for a script: a bad option value, an unknown option, a missing required one or
 * `program.error(message)` prints one line `<name>: <message>` on stderr and exits with 1.
 */
export function scriptProgram(name: string, description: string): Command {
  return new Command(name).description(description).configureOutput({
    outputError: (text, write) => write(`${name}: ${text.replace(/^error: /, '')}`),
  });
}

/** A finite number greater than zero (a learning rate, a temperature). */
export function positiveNumberOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** A finite number, zero or greater. */
export function nonNegativeNumberOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a non-negative number');
  return n;
}

/** An integer written as digits, at least `min` (a batch size of at least 2). */
export function intAtLeastOption(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

/**
 * A finite number in [min, max]; `exclusiveMin` / `exclusiveMax` open either end (a probability
 * below 1: `numberInRangeOption(0, 1, { exclusiveMax: true })`).
 */
export function numberInRangeOption(
  min: number,
  max: number,
  { exclusiveMin = false, exclusiveMax = false }: { exclusiveMin?: boolean; exclusiveMax?: boolean } = {},
): (value: string) => number {
  return (value) => {
    const n = Number(value);
    const below = exclusiveMin ? n <= min : n < min;
    const above = exclusiveMax ? n >= max : n > max;
    if (value.trim() === '' || !Number.isFinite(n) || below || above)
      throw new InvalidArgumentError(
        `expected a number in ${exclusiveMin ? '(' : '['}${min}, ${max}${exclusiveMax ? ')' : ']'}`,
      );
    return n;
  };
}

/** One of `choices`: for the items of a list (a whole option takes commander's `.choices()`). */
export function choiceOption<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value))
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return value as T;
  };
}

/** A comma-separated list, each item trimmed and parsed by `item` (`--seeds 1,2,3`). */
export function listOption<T>(item: (value: string) => T): (value: string) => T[] {
  return (value) =>
    value.split(',').map((text) => {
      try {
        return item(text.trim());
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err;
        throw new InvalidArgumentError(`item "${text.trim()}": ${err.message} (items separated by commas)`);
      }
    });
}

/** An evaluation set written DIR:SPLIT, named after its folder (as `retrograd train --eval`). */
export function evalSetOption(value: string): EvalSet {
  const at = value.lastIndexOf(':');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError('expected DIR:SPLIT');
  const dir = value.slice(0, at);
  return { name: dir.replace(/\/+$/, '').split('/').pop()!, dir, split: value.slice(at + 1) };
}

/** Evaluation sets written DIR:SPLIT,DIR:SPLIT,... */
export const evalSetListOption: (value: string) => EvalSet[] = listOption(evalSetOption);

/**
 * An option whose default is written as on the command line and parsed by the option's own parser
 * (`--eval data/pkgdesc-test:test,data/faq:test`); help shows the default as written.
 */
export function parsedOption<T>(
  flags: string,
  description: string,
  parse: (value: string) => T,
  written: string,
): Option {
  return new Option(flags, description).argParser(parse).default(parse(written), written);
}

/**
 * One of `choices`, else a value of `other` (`--target adaptive|distributed|<number>`); a value that
 * is neither is refused with both in the message ("expected adaptive, distributed or a number").
 */
export function choiceOrOption<C extends string, T>(
  choices: readonly C[],
  other: (value: string) => T,
): (value: string) => C | T {
  return (value) => {
    if ((choices as readonly string[]).includes(value)) return value as C;
    try {
      return other(value);
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      throw new InvalidArgumentError(`expected ${choices.join(', ')} or ${err.message.replace(/^expected /, '')}`);
    }
  };
}

/** --filter none | tfidf | model:DIR, checked and kept as written (its tfidf dimension comes later). */
export function filterOption(value: string): string {
  try {
    parseFilter(value);
  } catch {
    throw new InvalidArgumentError('expected none, tfidf or model:DIR');
  }
  return value;
}
