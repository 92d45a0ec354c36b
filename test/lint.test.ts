// The formatter and linter in CI: `biome check .` (biome.json: formatting and the recommended lint
// rules) must pass on the tree, so a misformatted file or a lint error fails the suite. Fix with
// `npm run format` (formatting) or by hand (lint errors); warnings do not fail it.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

describe('biome check', () => {
  it('finds no formatting difference and no lint error in the tree', () => {
    const r = spawnSync(
      join(ROOT, 'node_modules', '.bin', 'biome'),
      ['check', '.', '--max-diagnostics=20', '--colors=off'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(r.error).toBeUndefined();
    // on failure, show what biome found
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/Checked \d+ files/);
  });
});
