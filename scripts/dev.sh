#!/usr/bin/env bash
# Set up whatever is missing, then serve the playground at http://127.0.0.1:8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH" TRUNK_SKIP_VERSION_CHECK=true
exec trunk serve --release --address 127.0.0.1 --port 8080
