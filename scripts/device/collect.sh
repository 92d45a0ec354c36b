#!/usr/bin/env bash
# Rebuild what scripts/device/gpu-oneshot.sh brought back into a run folder here.
#
#   bash scripts/device/collect.sh FILES_AT RUN_DIR
#
# RUN_DIR/model/ becomes a model directory (config.json, model.safetensors joined from its parts,
# vocab.txt and tokenizer_config.json from the model it was trained from); the log, the trainer
# state, the benchmarks and the script's own log are copied beside it. Continue pretraining with
# `--init RUN_DIR/model`.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
FROM=${1:?usage: collect.sh FILES_AT RUN_DIR}
RUN=${2:?usage: collect.sh FILES_AT RUN_DIR}
[ -d "$FROM" ] || { echo "collect.sh: $FROM is not a folder" >&2; exit 1; }
for f in oneshot.log bench.jsonl log.jsonl trainer_state.json; do [ -f "$FROM/$f" ] && install -D -m 644 "$FROM/$f" "$RUN/$f"; done
if ls "$FROM"/model.safetensors.part-* >/dev/null 2>&1; then
  [ -f "$FROM/config.json" ] || { echo "collect.sh: $FROM has weights but no config.json" >&2; exit 1; }
  tmp="$RUN/.model.tmp-$$"
  mkdir -p "$tmp"
  cat "$FROM"/model.safetensors.part-* >"$tmp/model.safetensors"
  cp "$FROM/config.json" "$tmp/config.json"
  cp models/bert-mini-retrograd/vocab.txt models/bert-mini-retrograd/tokenizer_config.json "$tmp/"
  node --import tsx/esm --input-type=module -e \
    'const { loadModelDir } = await import("./src/nn/model-dir.ts"); loadModelDir(process.argv[1], { head: "mlm" }).mlm.dispose();' "$tmp" \
    || { rm -rf "$tmp"; echo "collect.sh: the weights that came back do not load as a model directory" >&2; exit 1; }
  rm -rf "$RUN/model"
  mv "$tmp" "$RUN/model"
  echo "collect.sh: $RUN/model (continue with --init $RUN/model)" >&2
else
  echo "collect.sh: no weights came back (see $RUN/oneshot.log)" >&2
fi
