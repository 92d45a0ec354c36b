// Run `retrograd <args>` in-process with only the given commands registered (no child process, so a
// test sees thrown errors directly); returns what the command printed on stdout.

import { Command } from 'commander';
import { vi } from 'vitest';

export async function runCli(register: ReadonlyArray<(program: Command) => void>, args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  for (const r of register) r(program);
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['node', 'retrograd', ...args]);
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}
