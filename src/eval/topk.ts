// Top-k selection over candidate documents identified by index, in the shared ranking order
// (score descending, ties by document id descending: see run.ts). A bounded min-heap whose root is
// the worst of the k kept; a candidate enters only if it ranks above the root, so selecting from n
// candidates costs O(n log k) and the common case (score below the root) is one comparison.
//
// Used by bm25.ts (candidates = documents sharing a term with the query) and dense.ts (every row of a
// score matrix). Not a general-purpose priority queue.

import { compareIds, type ScoredDoc } from './run.js';

export class TopK {
  private readonly idx: Int32Array;
  private readonly score: Float64Array;
  private size = 0;

  /** `ids[i]` names candidate i (used only to break score ties). */
  constructor(
    readonly k: number,
    private readonly ids: readonly string[],
  ) {
    if (!Number.isSafeInteger(k) || k < 1) throw new Error(`top-k: k must be a positive integer, got ${k}`);
    this.idx = new Int32Array(k);
    this.score = new Float64Array(k);
  }

  /** True when (i, s) ranks below (j, t): lower score, or equal score and lower id. */
  private below(s: number, i: number, t: number, j: number): boolean {
    if (s !== t) return s < t;
    return compareIds(this.ids[i], this.ids[j]) < 0;
  }

  reset(): void {
    this.size = 0;
  }

  push(i: number, s: number): void {
    if (this.size < this.k) {
      let pos = this.size++;
      // sift up: parents must rank below-or-equal their children (root = worst)
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!this.below(s, i, this.score[parent], this.idx[parent])) break;
        this.idx[pos] = this.idx[parent];
        this.score[pos] = this.score[parent];
        pos = parent;
      }
      this.idx[pos] = i;
      this.score[pos] = s;
      return;
    }
    if (s < this.score[0] || !this.below(this.score[0], this.idx[0], s, i)) return;
    // replace the root and sift down
    let pos = 0;
    for (;;) {
      const left = 2 * pos + 1;
      if (left >= this.k) break;
      const right = left + 1;
      let child = left;
      if (right < this.k && this.below(this.score[right], this.idx[right], this.score[left], this.idx[left]))
        child = right;
      if (!this.below(this.score[child], this.idx[child], s, i)) break;
      this.idx[pos] = this.idx[child];
      this.score[pos] = this.score[child];
      pos = child;
    }
    this.idx[pos] = i;
    this.score[pos] = s;
  }

  /** The kept candidates, best first. */
  result(): ScoredDoc[] {
    const order = Array.from({ length: this.size }, (_, n) => n);
    order.sort((a, b) => (this.below(this.score[a], this.idx[a], this.score[b], this.idx[b]) ? 1 : -1));
    return order.map((n) => ({ docid: this.ids[this.idx[n]], score: this.score[n] }));
  }
}
