#!/usr/bin/env bash
# Set up whatever is missing, then run every test:
#   1. native: the engine, the CLI and the app's view model (cargo test, all members),
#      then clippy and rustdoc with warnings denied
#   2. wasm:   wasm-bindgen-test in headless Chromium (the app's components)
#   3. e2e:    a release build driven by Playwright in headless Chromium
#   4. kernel: random scenarios through the real kernel and nfsim (scripts/kernel-diff.sh;
#              as root with network namespaces, otherwise it says why it skipped)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH" TRUNK_SKIP_VERSION_CHECK=true
export CHROMEDRIVER=/usr/bin/chromedriver
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "native tests (cargo test: engine, CLI, app view model)"
cargo test --workspace

step "lints and docs (clippy, rustdoc; warnings denied)"
cargo clippy --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
cargo clippy --target wasm32-unknown-unknown -p iptables-playground --all-targets -- -D warnings

step "browser tests (wasm-bindgen-test in headless Chromium)"
cargo test --target wasm32-unknown-unknown -p iptables-playground

step "end-to-end tests (Playwright on a release build)"
trunk build --release
node --test tests/e2e/

step "kernel-differential tests (random scenarios, real kernel vs nfsim, both backends)"
bash scripts/kernel-diff.sh
