#!/usr/bin/env bash
# Install whatever this machine lacks to build, serve and test the playground.
# Idempotent: each step checks first and skips what is already there.
#   apt: chromium, chromium-driver (browser tests), iptables, ipset, iproute2
#        (recording fixtures against the real kernel; not needed by the tests)
#   rustup: the wasm32-unknown-unknown target, clippy
#   cargo: trunk 0.21.14, wasm-bindgen-cli equal to Cargo.lock's wasm-bindgen
#   npm: binaryen 132 (wasm-opt), playwright-core, CodeMirror 6 and esbuild,
#        from package-lock.json; then the editor bundle (js/dist/editor.js),
#        which wasm32 builds of the app read at compile time
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

export PATH="$HOME/.cargo/bin:$PATH"

# --- Debian packages -------------------------------------------------------
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ "${NFSIM_SKIP_KERNEL_TOOLS:-}" != 1 ]; then
  command -v iptables-legacy-restore >/dev/null 2>&1 || need_apt+=(iptables)
  command -v ipset >/dev/null 2>&1 || need_apt+=(ipset)
  command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- Rust ------------------------------------------------------------------
if ! cargo clippy --version >/dev/null 2>&1; then
  say "rustup component add clippy"
  rustup component add clippy
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

TRUNK_VERSION=0.21.14
if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
  say "cargo install trunk $TRUNK_VERSION (takes several minutes once)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

# wasm-bindgen-cli must equal the wasm-bindgen library in Cargo.lock.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$WB_VERSION" ]; then
  cargo generate-lockfile
  WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WB_VERSION"; then
  say "installing wasm-bindgen-cli $WB_VERSION"
  if ! cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked; then
    # Its lockfile pins a webpki-roots the registry here lacks: unpack the crate,
    # refresh that one dependency, and install from the unpacked source.
    say "falling back to an unpacked wasm-bindgen-cli with webpki-roots updated"
    crate=$(ls "$HOME"/.cargo/registry/cache/*/wasm-bindgen-cli-"$WB_VERSION".crate 2>/dev/null | head -n1 || true)
    if [ -z "$crate" ]; then
      cargo fetch --manifest-path /dev/null 2>/dev/null || true
      tmp=$(mktemp -d)
      (cd "$tmp" && cargo init -q --name fetch_wbcli && cargo add -q "wasm-bindgen-cli@=$WB_VERSION" && cargo fetch -q) || true
      crate=$(ls "$HOME"/.cargo/registry/cache/*/wasm-bindgen-cli-"$WB_VERSION".crate | head -n1)
    fi
    src=$(mktemp -d)
    tar -xzf "$crate" -C "$src"
    (cd "$src/wasm-bindgen-cli-$WB_VERSION" && cargo update -q -p webpki-roots && cargo install --path . --locked)
  fi
fi

# --- npm -------------------------------------------------------------------
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/esbuild ] || [ ! -d node_modules/@codemirror/view ] || [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi

if [ ! -f js/dist/editor.js ] || [ js/editor.js -nt js/dist/editor.js ] || [ package-lock.json -nt js/dist/editor.js ]; then
  say "npm run bundle (the CodeMirror editor)"
  npm run --silent bundle
fi

say "ready: trunk $(trunk --version | awk '{print $2}'), wasm-bindgen $(wasm-bindgen --version | awk '{print $2}'), $(node_modules/.bin/wasm-opt --version)"
