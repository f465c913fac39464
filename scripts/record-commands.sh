#!/usr/bin/env bash
# Run a script of iptables commands for real (iptables-legacy, inside a throw-away
# network namespace, never the root namespace) and record iptables-save's dump of
# the result as FILE.out. `sudo` in the script is stripped. Needs root.
# Usage: record-commands.sh FILE.sh...
set -euo pipefail
for f in "$@"; do
  ns="nfsim-cmd-$$"
  shim=$(mktemp -d)
  printf '#!/bin/sh\nexec iptables-legacy "$@"\n' > "$shim/iptables"
  printf '#!/bin/sh\nexec "$@"\n' > "$shim/sudo"
  chmod +x "$shim/iptables" "$shim/sudo"
  ip netns add "$ns"
  if ip netns exec "$ns" env PATH="$shim:$PATH" sh "$f"; then
    ip netns exec "$ns" iptables-legacy-save | grep -v '^#' > "${f%.sh}.out"
    echo "recorded ${f%.sh}.out"
  else
    echo "FAILED: $f" >&2
  fi
  ip netns del "$ns"
  rm -rf "$shim"
done
