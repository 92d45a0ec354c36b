#!/usr/bin/env bash
# The long pretraining run behind models/bert-mini-retrograd, started in the background at low
# priority so that it soaks up whatever the machine leaves idle.
#
#   bash scripts/pretrain-background.sh [RUN_DIR]        (default runs/mlm-main)
#   tail -f runs/mlm-main/stdout.log                     progress lines (step, loss, tok/s, ETA)
#   kill -TERM $(cat runs/mlm-main/pid)                  stop: a checkpoint is saved first
#
# Rerunning the same command continues the run:
# - RUN_DIR holds a checkpoint: an exact resume (weights, AdamW moments, data position, RNG).
# - RUN_DIR is gone (a fresh machine): a new segment starts from the committed weights
#   (--init models/bert-mini-retrograd) with a fresh optimizer and a short warm-up; the first line of
#   its log.jsonl, {"kind": "start", "from": "init", ...}, says so.
# The recipe (no dropout, peak lr, linear decay to zero at the segment's token budget) was chosen by
# the A/B runs recorded in models/bert-mini-retrograd/README.md.
#
# Environment: CORPUS (default runs/corpus/pretrain.jsonl.gz, built when missing), INIT (the weights
# a new segment starts from, default models/bert-mini-retrograd), DATA_FROM (a run directory: a new
# segment reads the corpus on from where that run's latest checkpoint stopped, e.g. the run INIT's
# weights came from), STEPS (the segment's budget in steps of 32 x 128 tokens), LR, WARMUP, NICE.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${1:-runs/mlm-main}
CORPUS=${CORPUS:-runs/corpus/pretrain.jsonl.gz}
STEPS=${STEPS:-1600}
LR=${LR:-1e-3}
WARMUP=${WARMUP:-100}
NICE=${NICE:-15}
INIT=${INIT:-models/bert-mini-retrograd}
DATA_FROM=${DATA_FROM:-}

if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
  echo "pretrain-background: $RUN is already being trained by pid $(cat "$RUN/pid")" >&2
  exit 1
fi
if [ ! -f "$CORPUS" ]; then
  echo "pretrain-background: building $CORPUS" >&2
  node bin/retrograd.mjs data build pretrain --out "$(dirname "$CORPUS")"
fi
mkdir -p "$RUN"
# Its own session (setsid), and that session's autogroup niced too: with the kernel's autogroup
# scheduling (sched_autogroup_enabled, on here), a process's nice ranks it only within its session, so
# a plain `nice` run still takes an equal share against every other terminal's or agent's work.
nohup setsid sh -c 'echo "$0" >/proc/self/autogroup 2>/dev/null || true; exec nice -n "$0" "$@"' "$NICE" \
  node bin/retrograd.mjs pretrain --corpus "$CORPUS" --out "$RUN" --init "$INIT" ${DATA_FROM:+--data-from "$DATA_FROM"} \
  --steps "$STEPS" --lr "$LR" --warmup "$WARMUP" --schedule linear --dropout 0 --mask-rate 0.15 \
  --eval-every 200 --save-every 100 --log-every 10 >>"$RUN/stdout.log" 2>&1 &
echo $! >"$RUN/pid"
echo "pretrain-background: pid $! trains $RUN (log: $RUN/stdout.log, $RUN/log.jsonl)" >&2
