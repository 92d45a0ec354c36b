#!/usr/bin/env python3
"""Independent reference for src/eval/metrics.ts: trec_eval's ranking metrics in plain Python.

    python3 scripts/eval/ref_metrics.py QRELS.tsv RUN.trec > metrics-ref.json

Reads BEIR qrels (header "query-id<TAB>corpus-id<TAB>score") and a TREC run file
("qid Q0 docid rank score tag") and prints per-query and mean metrics as JSON. Written from the
trec_eval definitions, not from the TypeScript:
  - a run is ranked by score descending, ties by docid descending (trec_eval's comp_sim_docno,
    strcmp(docno2, docno1)); the rank column is ignored;
  - relevant means qrels score >= 1;
  - ndcg_cut: gain = qrels score, discount log2(rank + 1), ideal = judged scores sorted descending;
  - recip_rank cut at k, recall_k, map_cut_k (divided by all relevant documents of the query);
  - queries with no relevant judgement are skipped; judged queries missing from the run score 0
    (trec_eval -c); run queries without judgements are ignored.
Standard library only; the tests read its committed output and never run Python.
"""
import json
import math
import sys

NDCG = [1, 3, 5, 10, 20, 100]
MRR = [1, 5, 10, 100]
RECALL = [1, 5, 10, 20, 100]
MAP = [5, 10, 100]


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        assert header == "query-id\tcorpus-id\tscore", header
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            qid, docid, score = line.split("\t")
            qrels.setdefault(qid, {})[docid] = int(score)
    return qrels


def read_run(path):
    run = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            qid, _q0, docid, _rank, score, _tag = parts
            run.setdefault(qid, {})[docid] = float(score)
    return run


def dcg(gains, k):
    total = 0.0
    for rank, gain in enumerate(gains[:k], start=1):
        if gain > 0:
            total += gain / math.log2(rank + 1)
    return total


def metrics_for(ranked_gains, judged_scores):
    relevant = [s for s in judged_scores if s >= 1]
    num_rel = len(relevant)
    ideal = sorted(relevant, reverse=True)
    out = {}
    for k in NDCG:
        out["nDCG@%d" % k] = dcg(ranked_gains, k) / dcg(ideal, k)
    for k in MRR:
        rr = 0.0
        for rank, gain in enumerate(ranked_gains[:k], start=1):
            if gain >= 1:
                rr = 1.0 / rank
                break
        out["MRR@%d" % k] = rr
    for k in RECALL:
        out["R@%d" % k] = sum(1 for g in ranked_gains[:k] if g >= 1) / num_rel
    for k in MAP:
        found = 0
        precisions = []
        for rank, gain in enumerate(ranked_gains[:k], start=1):
            if gain >= 1:
                found += 1
                precisions.append(found / rank)
        out["MAP@%d" % k] = sum(precisions) / num_rel
    return out


def main():
    qrels = read_qrels(sys.argv[1])
    run = read_run(sys.argv[2])
    per_query = {}
    skipped = 0
    missing = 0
    for qid, judged in qrels.items():
        if not any(s >= 1 for s in judged.values()):
            skipped += 1
            continue
        retrieved = run.get(qid)
        if retrieved is None:
            missing += 1
            retrieved = {}
        ranked = sorted(retrieved.items(), key=lambda item: (item[1], item[0]), reverse=True)
        gains = [judged.get(docid, 0) for docid, _score in ranked]
        per_query[qid] = metrics_for(gains, list(judged.values()))
    names = list(next(iter(per_query.values())).keys())
    mean = {n: sum(v[n] for v in per_query.values()) / len(per_query) for n in names}
    result = {
        "cutoffs": {"ndcg": NDCG, "mrr": MRR, "recall": RECALL, "map": MAP},
        "queries": len(per_query),
        "skipped_no_relevant": skipped,
        "missing_from_run": missing,
        "unjudged_in_run": sum(1 for qid in run if qid not in qrels),
        "mean": mean,
        "per_query": per_query,
    }
    json.dump(result, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
