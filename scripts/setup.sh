#!/usr/bin/env bash
# Set up a clone for the main job and the tests on Debian 12 + Node 20 (the README's two commands
# and .ci/run start with it). Safe to rerun: each step is skipped when already done, so a set-up
# clone takes about a second.
#   1. apt packages, only those missing (needs root or sudo).
#   2. `npm ci`, only when node_modules was not installed by this script from the current
#      package.json + package-lock.json under the current Node ABI (stamp: node_modules/.retrograd-setup),
#      or when gpu.js's native `gl` module does not load.
#   3. Fails (one line, non-zero) if `gl` still does not load: npm reports success without it, and
#      the gpu.js tests then cannot run.
#
#   bash scripts/setup.sh [--dry-run]     # --dry-run: print what would be done, change nothing
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: $*" >&2; exit 1; }
say() { echo "setup: $*" >&2; }

dry_run=false
case "${1:-}" in
  '') ;;
  --dry-run) dry_run=true ;;
  *) fail "unknown argument '$1' (usage: bash scripts/setup.sh [--dry-run])" ;;
esac

command -v node >/dev/null || fail "node not found: install Node 20 or newer"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || fail "Node $(node -v) is too old: Node 20 or newer is needed"

# Xvfb + xauth: gpu.js's headless GL needs an X display (npm test runs under xvfb-run). The headers
# and build tools gpu.js's optional native `gl` module compiles against. Mesa: EGL/GLES for Dawn's
# software WebGPU adapter (llvmpipe) and the GL driver. DejaVu Sans: `retrograd plot` renders PNGs
# with it.
APT_PACKAGES=(xvfb xauth libxi-dev libglew-dev libglu1-mesa-dev pkg-config g++ make python3
  libegl1 libgles2 libgl1-mesa-dri fonts-dejavu-core)
command -v dpkg-query >/dev/null || fail "dpkg-query not found: this setup is for Debian/Ubuntu; install the equivalents of: ${APT_PACKAGES[*]}"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "apt packages: all ${#APT_PACKAGES[@]} present"
elif $dry_run; then
  say "would apt-get install: ${missing[*]}"
else
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    fail "missing apt packages (${missing[*]}) and not root: rerun as root or install them"
  fi
  say "apt-get install ${missing[*]}"
  { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || fail "apt-get install ${missing[*]} failed"
fi

STAMP=node_modules/.retrograd-setup
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
gl_loads() {
  # `require` loads gl's compiled binding (build/Release/webgl.node); no display is needed for that.
  node -e 'require(require.resolve("gl", { paths: [require.resolve("gpu.js")] }))' 2>/dev/null
}

reason=''
if [ ! -d node_modules ]; then
  reason='node_modules is missing'
elif [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  reason='node_modules does not match package-lock.json'
elif ! gl_loads; then
  reason="gpu.js's gl module does not load"
fi

if [ -z "$reason" ]; then
  say "node_modules: up to date, gl loads"
elif $dry_run; then
  say "would run npm ci: $reason"
else
  say "npm ci ($reason; gpu.js's gl module compiles from source, a few minutes)"
  npm ci --no-audit --no-fund || fail "npm ci failed"
  gl_loads || fail "gpu.js's native gl module did not build (npm ci still succeeded): see 'npm rebuild gl --foreground-scripts'"
  echo "$want" > "$STAMP"
  say "node_modules installed, gl loads"
fi
