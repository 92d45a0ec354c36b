// The examples are documentation that runs: each executes here and its key claims are checked.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';

function runExample(file: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 120_000 });
}

describe('examples', () => {
  it('tour.ts walks tensor -> op -> gradient -> kernel -> training step -> BERT', () => {
    const out = runExample('examples/tour.ts');
    expect(out).toContain('a.T shares storage: true');
    expect(out).toMatch(/dy\/dx = \[ 1, -2, 4 \]/);
    expect(out).toMatch(/computed by kernel wasm\.sgemm/);
    expect(out).toMatch(/reference matmul launches: 1/);
    const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(5);
    expect(losses[4]).toBeLessThan(losses[0]);
    const live = new Set([...out.matchAll(/live buffers (\d+)/g)].map((m) => m[1]));
    expect(live.size).toBe(1);
    expect(out).toContain('pieces: tensor ##s flow backwards .');
    expect(out).toContain('first parameters: embeddings.word_embeddings.weight');
    expect(out).toMatch(/embeddings \[ 2, 256 \]  cosine of the two texts: 0\.\d{4}/);
  });
});
