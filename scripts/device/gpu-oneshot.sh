#!/usr/bin/env bash
# The one-shot GPU script: run on a lent GPU machine (one H100, 16 cores, no network, ~10 minutes),
# from the repository root, with $OUT the folder whose files come back. It
#   1. records the machine (nvidia-smi, node, the Vulkan loader),
#   2. runs the webgpu benchmarks on the real card (matmul, a BERT-mini MLM step) beside the cpu
#      device on all 16 cores, so the numbers compare within one run,
#   3. pretrains BERT-mini on whichever device was faster for the time left (the same recipe as
#      scripts/pretrain-background.sh), stopping with SIGTERM (a checkpoint is saved first),
#   4. brings back the model (F16, split into parts under the 16 MiB file limit), its log and state.
# Back here: `bash scripts/device/collect.sh <files_at> runs/gpu-<date>` rebuilds the model directory;
# continue with `--init runs/gpu-<date>/model`.
#
# Prepare the carried files first, here: `bash scripts/device/pack.sh` (see it for what travels and
# the 64 MiB limit). Call (device tool): command `bash scripts/device/gpu-oneshot.sh`, carry
# [".device", ".gl"], timeout_s 600. BUDGET_S (default 540) bounds the whole script.
set -uo pipefail
T0=$(date +%s)
BUDGET=${BUDGET_S:-540}
OUT=${OUT:?gpu-oneshot: OUT must name the folder that comes back}
left() { echo $((BUDGET - ($(date +%s) - T0))); }
say() { echo "gpu-oneshot [$(($(date +%s) - T0))s]: $*" | tee -a "$OUT/oneshot.log" >&2; }

NODE=$(command -v node || true)
[ -z "$NODE" ] && [ -x .device/node/bin/node ] && NODE=$PWD/.device/node/bin/node
if [ -z "$NODE" ]; then
  say "no node on this machine and none carried (.device/node/bin/node): nothing can run"
  exit 2
fi
say "node $("$NODE" --version) at $NODE"
if [ ! -d node_modules ]; then
  [ -f .device/node_modules.tar.xz ] || { say "node_modules missing and .device/node_modules.tar.xz not carried"; exit 2; }
  tar -xJf .device/node_modules.tar.xz || { say "could not unpack .device/node_modules.tar.xz"; exit 2; }
fi
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
  ldconfig
fi
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi -L 2>&1 | tee -a "$OUT/oneshot.log" >&2

R=("$NODE" bin/retrograd.mjs)
bench() { # name, timeout, args...: one JSON object per line in bench.jsonl, or an error line
  local name=$1 limit=$2; shift 2
  local json
  if json=$(timeout "$limit" "${R[@]}" bench "$@" 2>>"$OUT/oneshot.log"); then
    echo "{\"bench\": \"$name\", \"result\": $(echo "$json" | tr -d '\n')}" >>"$OUT/bench.jsonl"
  else
    say "bench $name failed (exit $?)"
  fi
}
bench matmul-webgpu 120 matmul --device webgpu --threads 16
bench bert-mlm-webgpu 150 bert --device webgpu --mode mlm --batch 32 --seq 128 --steps 5 --no-profile
bench bert-mlm-cpu16 120 bert --device cpu --mode mlm --batch 32 --seq 128 --steps 3 --no-profile

# The faster device for pretraining, by the MLM step's tokens/s.
pick=$("$NODE" -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const tps = (name) => lines.find((l) => l.bench === name)?.result?.tokensPerSec ?? 0;
  const [w, c] = [tps("bert-mlm-webgpu"), tps("bert-mlm-cpu16")];
  console.log(w >= c ? `webgpu ${w}` : `cpu ${c}`);
' "$OUT/bench.jsonl" 2>/dev/null || echo "cpu 0")
read -r DEVICE TPS <<<"$pick"
say "pretraining on $DEVICE (${TPS} tokens/s in the benchmark); $(left)s left"

RUN=/tmp/gpu-run
CORPUS=.device/corpus.jsonl.gz
[ -f "$CORPUS" ] || CORPUS=data/pkgdesc-train/corpus.jsonl.gz
TRAIN_S=$(($(left) - 60))
if [ "$TRAIN_S" -gt 60 ] && [ "${TPS%.*}" -gt 0 ]; then
  # Steps the time allows (the schedule decays to zero there); tokenizing the corpus comes first.
  STEPS=$(((${TPS%.*} * (TRAIN_S - 40)) / 4096))
  [ "$STEPS" -lt 20 ] && STEPS=20
  timeout -s TERM "$TRAIN_S" "${R[@]}" pretrain --corpus "$CORPUS" --out "$RUN" --init models/bert-mini-retrograd \
    --device "$DEVICE" --steps "$STEPS" --lr 1e-3 --warmup $((STEPS / 20 + 1)) --schedule linear --dropout 0 \
    --eval-every "$STEPS" --save-every 25 --log-every 5 >>"$OUT/oneshot.log" 2>&1
  say "pretrain exited $? after $(($(date +%s) - T0))s"
else
  say "no time left to pretrain"
fi

CKPT=$(cat "$RUN/checkpoints/latest" 2>/dev/null)
if [ -n "$CKPT" ] && [ -d "$RUN/checkpoints/$CKPT" ]; then
  "$NODE" --import tsx/esm --input-type=module -e '
    const { loadModelDir, saveModelDir } = await import("./src/nn/model-dir.ts");
    const m = loadModelDir(process.argv[1], { head: "mlm" });
    await saveModelDir("/tmp/gpu-model", m.mlm, { tokenizer: m.tokenizer, weightsDtype: "F16" });
  ' "$RUN/checkpoints/$CKPT" 2>>"$OUT/oneshot.log" && split -b 15m -d /tmp/gpu-model/model.safetensors "$OUT/model.safetensors.part-"
  cp /tmp/gpu-model/config.json "$OUT/config.json" 2>/dev/null
  cp "$RUN/checkpoints/$CKPT/trainer_state.json" "$OUT/trainer_state.json"
  cp "$RUN/log.jsonl" "$OUT/log.jsonl"
  say "brought back $CKPT"
fi
say "done"
