#!/usr/bin/env bash
# Record what the real iptables-save prints for a ruleset: loads FILE.in with
# iptables-legacy-restore inside a throw-away network namespace (never the root
# namespace), dumps it with iptables-legacy-save, and writes FILE.out without the
# "#" comment lines. Needs root and the iptables package. Usage: record-roundtrip.sh FILE.in...
set -euo pipefail
for f in "$@"; do
  ns="nfsim-rec-$$"
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  # Sets that the ruleset names must exist first: FILE.ipset holds `ipset save` text.
  if [ -f "${f%.in}.ipset" ]; then ip netns exec "$ns" ipset restore < "${f%.in}.ipset"; fi
  # So must nfacct objects that `-m nfacct --nfacct-name X` names.
  for obj in $(grep -o -- '--nfacct-name [^ ]*' "$f" | awk '{print $2}' | sort -u); do
    ip netns exec "$ns" nfacct add "$obj"
  done
  if ip netns exec "$ns" iptables-legacy-restore < "$f"; then
    ip netns exec "$ns" iptables-legacy-save | grep -v '^#' > "${f%.in}.out"
    echo "recorded ${f%.in}.out"
  else
    echo "FAILED to load $f" >&2
  fi
  ip netns del "$ns"
  trap - EXIT
done
