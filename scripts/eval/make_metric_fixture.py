#!/usr/bin/env python3
"""Writes the synthetic run + qrels that test/eval-metrics.test.ts checks against ref_metrics.py.

    python3 scripts/eval/make_metric_fixture.py test/fixtures/eval
    python3 scripts/eval/ref_metrics.py test/fixtures/eval/metrics-qrels.tsv \
        test/fixtures/eval/metrics-run.trec > test/fixtures/eval/metrics-ref.json

Seeded (random.Random(20261125)), standard library only. The data is built to hit the edge cases:
graded judgements 0-3, scores rounded to one decimal (many ties, broken by docid), ids of different
lengths ("d7" vs "d10" order as strings), relevant documents that were not retrieved, a query whose
judgements are all 0 (skipped), a judged query absent from the run (scores 0), a run query with no
judgements (ignored), and lists shorter than the largest cutoff.
"""
import os
import random
import sys

out = sys.argv[1]
rng = random.Random(20261125)
docs = ["d%d" % i for i in range(60)]
qrels = []
run = []
for q in range(1, 13):
    qid = "q%02d" % q
    judged = rng.sample(docs, rng.randint(1, 6))
    for i, docid in enumerate(judged):
        score = 0 if q == 11 else (rng.choice([1, 1, 2, 3]) if i == 0 else rng.choice([0, 1, 2, 3]))
        qrels.append((qid, docid, score))
    if q == 12:
        continue
    retrieved = rng.sample(docs, rng.randint(25, 40))
    for docid in retrieved:
        run.append((qid, docid, round(rng.uniform(0, 3), 1)))
for docid in rng.sample(docs, 10):
    run.append(("q99", docid, round(rng.uniform(0, 3), 1)))

with open(os.path.join(out, "metrics-qrels.tsv"), "w", encoding="utf-8") as f:
    f.write("query-id\tcorpus-id\tscore\n")
    for qid, docid, score in qrels:
        f.write("%s\t%s\t%d\n" % (qid, docid, score))
# The rank column is deliberately the file order, not the score order: evaluators must use scores.
with open(os.path.join(out, "metrics-run.trec"), "w", encoding="utf-8") as f:
    counters = {}
    for qid, docid, score in run:
        counters[qid] = counters.get(qid, 0) + 1
        f.write("%s Q0 %s %d %r fixture\n" % (qid, docid, counters[qid], score))
