#!/usr/bin/env bash
# Ask the real kernel whether each ruleset loads: runs iptables-legacy-restore on
# FILE.rules inside a throw-away network namespace (never the root namespace) and
# writes FILE.kernel: "accepted", or "refused" and iptables-restore's message.
# Needs root and the iptables package. Usage: record-kernel-verdicts.sh FILE.rules...
set -uo pipefail
for f in "$@"; do
  ns="nfsim-verdict-$$"
  ip netns add "$ns"
  if msg=$(ip netns exec "$ns" iptables-legacy-restore < "$f" 2>&1); then
    echo accepted > "${f%.rules}.kernel"
  else
    { echo refused; printf '%s\n' "$msg" | grep -v '^$' | grep -v "^Try \`iptables-restore" ; } > "${f%.rules}.kernel"
  fi
  ip netns del "$ns"
done
