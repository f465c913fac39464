#!/usr/bin/env bash
# Record what the kernel derives from a host's configuration: FILE.setup holds
# `ip` commands (run inside a throw-away network namespace, never the root one;
# interfaces are veth ends), FILE.probe holds addresses to look up. Writes
# FILE.kernel: `ip -4 addr`, both routing tables and `ip route get` per address.
# Needs root and iproute2. Usage: record-host.sh FILE.setup...
set -euo pipefail
for f in "$@"; do
  base=${f%.setup}; ns="nfsim-host-$$"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  while read -r line; do
    [ -z "$line" ] || [ "${line#\#}" != "$line" ] && continue
    ip -n "$ns" $line
  done < "$f"
  {
    echo "== addr"; ip -n "$ns" -4 -o addr | awk '{$1=""; print substr($0,2)}' | sed 's/\\ *valid_lft.*//'
    echo "== local"; ip -n "$ns" -4 route show table local | sed 's/ *$//'
    echo "== main"; ip -n "$ns" -4 route show table main | sed 's/ *$//'
    echo "== get"
    while read -r a; do
      [ -z "$a" ] && continue
      printf '%s => %s\n' "$a" "$(ip -n "$ns" route get "$a" 2>&1 | head -n1 | sed 's/ uid 0.*//; s/ rt_offload_failed//; s/RTNETLINK answers: //; s/ *$//')"
    done < "$base.probe"
  } > "$base.kernel"
  ip netns del "$ns"
  echo "recorded $base.kernel"
done
