// Teachers for Margin-MSE: scores of (query, document) pairs from another model.
//
// bm25: the BM25 score of the pair over the whole training collection (src/eval/bm25.ts, Anserini's
// k1 0.9 / b 0.4), divided by the query's best BM25 score in that collection, so teacher scores lie
// in [0, 1] like cosine margins' useful range and a margin t_p - t_n is comparable across queries.
// Each call ranks the batch's queries over the whole collection (part of the timed training step,
// as a teacher's forward pass is).

import { docText, loadBeir } from '../data/beir.js';
import { Bm25Index } from '../eval/bm25.js';
import type { Teacher } from './retrieval.js';

/** A BM25 teacher over the corpus of a BEIR directory. */
export async function bm25Teacher(dataDir: string): Promise<Teacher> {
  const { corpus } = await loadBeir(dataDir, 'train');
  const index = new Bm25Index([...corpus].map(([id, doc]) => [id, docText(doc)] as const));
  return (queries, docIds) => {
    const byQuery = new Map<string, Map<string, number>>();
    return queries.map((q, i) => {
      let scores = byQuery.get(q);
      if (!scores) {
        const ranked = index.search(q, index.size);
        const top = ranked.length > 0 ? ranked[0].score : 0;
        scores = new Map(ranked.map((d) => [d.docid, top > 0 ? d.score / top : 0]));
        byQuery.set(q, scores);
      }
      return scores.get(docIds[i]) ?? 0;
    });
  };
}
