#!/usr/bin/env bash
# Prepare what scripts/device/gpu-oneshot.sh needs on a GPU machine that has no network: run here,
# in the repository root, after `bash scripts/setup.sh`.
#
#   bash scripts/device/pack.sh [--with-node] [--corpus FILE] [--corpus-mb N]
#
# Writes (both git-ignored through .git/info/exclude, both named in the device call's `carry`):
#   .device/node_modules.tar.xz   the runtime modules only (no gpu.js/gl/tfjs/typescript/vitest;
#                                 webgpu's linux-x64 build only), about 16 MB
#   .device/corpus.jsonl.gz       the first N MB (default 4) of the pretraining corpus, whole lines
#   .device/node/bin/node         only with --with-node: this machine's node, for an image without one
#   .gl/*.deb                     the Vulkan/EGL loaders (the device notes: an image may lack them)
# and prints what would travel against the 64 MiB limit (tracked + untracked files + carried).
# Measured 2026-12-07: tracked files 45 MB, modules 16 MB: the carried node (24 MB compressed, 99 MB
# unpacked) does not fit beside them, so --with-node only helps once the tracked tree is smaller.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

WITH_NODE=0
CORPUS=runs/corpus/pretrain.jsonl.gz
CORPUS_MB=4
while [ $# -gt 0 ]; do
  case $1 in
    --with-node) WITH_NODE=1 ;;
    --corpus) CORPUS=$2; shift ;;
    --corpus-mb) CORPUS_MB=$2; shift ;;
    *) echo "pack.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$CORPUS" ] || { echo "pack.sh: $CORPUS does not exist (build it: npx retrograd data build pretrain --out $(dirname "$CORPUS"))" >&2; exit 1; }
[ -d node_modules/tsx ] || { echo "pack.sh: node_modules is missing (run bash scripts/setup.sh)" >&2; exit 1; }

for p in /.device/ /.gl/; do grep -qxF "$p" .git/info/exclude 2>/dev/null || echo "$p" >>.git/info/exclude; done
mkdir -p .device .gl

tar -cf - \
  --exclude='node_modules/gpu.js' --exclude='node_modules/gl' --exclude='node_modules/@tensorflow' \
  --exclude='node_modules/typescript' --exclude='node_modules/@rolldown' --exclude='node_modules/vitest' \
  --exclude='node_modules/vite' --exclude='node_modules/@vitest' --exclude='node_modules/lightningcss*' \
  --exclude='node_modules/@types' --exclude='node_modules/.cache' \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' \
  node_modules | xz -T0 -6 >.device/node_modules.tar.xz.tmp
mv .device/node_modules.tar.xz.tmp .device/node_modules.tar.xz

# Whole lines up to the size budget (uncompressed bytes are about 3x the compressed ones).
zcat "$CORPUS" | head -c $((CORPUS_MB * 3 * 1024 * 1024)) | sed '$d' | gzip -9 >.device/corpus.jsonl.gz.tmp
mv .device/corpus.jsonl.gz.tmp .device/corpus.jsonl.gz

if [ "$WITH_NODE" = 1 ]; then
  mkdir -p .device/node/bin
  cp "$(command -v node)" .device/node/bin/node
fi

if ! ls .gl/*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
fi

tracked=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r stat -c %s | awk '{s += $1} END {print s + 0}')
carried=$(du -sb .device .gl | awk '{s += $1} END {print s}')
total=$((tracked + untracked + carried))
limit=$((64 * 1024 * 1024))
printf 'pack.sh: tracked %d MB + untracked %d MB + carried (.device, .gl) %d MB = %d MB of the %d MB limit\n' \
  $((tracked / 1000000)) $((untracked / 1000000)) $((carried / 1000000)) $((total / 1000000)) $((limit / 1000000)) >&2
if [ "$total" -gt "$limit" ]; then
  echo "pack.sh: over the device limit: use a smaller --corpus-mb, or drop --with-node" >&2
  exit 1
fi
