#!/usr/bin/env bash
# Compare `nfsim check` with `iptables-legacy-restore --test` on the same
# generated kube-proxy dump (SERVICES x ENDPOINTS, default 10000 x 3): median wall
# time and peak memory over RUNS runs (default 7). iptables runs inside a
# throw-away network namespace. Needs root and the iptables package.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVICES=${1:-10000} ENDPOINTS=${2:-3} RUNS=${RUNS:-7}
dump=$(mktemp --suffix=.rules)
trap 'rm -f "$dump"; ip netns del nfsim-bench 2>/dev/null || true' EXIT
cargo build -q --release -p nfsim-cli -p nfsim --example kubegen
./target/release/examples/kubegen "$SERVICES" "$ENDPOINTS" > "$dump"
echo "dump: $SERVICES services x $ENDPOINTS endpoints, $(wc -l < "$dump") lines, $(du -h "$dump" | cut -f1)"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # prints "seconds kib" per run
  for _ in $(seq "$RUNS"); do /usr/bin/time -f "%e %M" "$@" < "$dump" 2>&1 >/dev/null | tail -n1; done
}
ip netns add nfsim-bench
ipt=$(measure ip netns exec nfsim-bench iptables-legacy-restore --test)
ours=$(measure ./target/release/nfsim check -)
it=$(awk '{print $1}' <<<"$ipt" | median); im=$(awk '{print $2}' <<<"$ipt" | median)
ot=$(awk '{print $1}' <<<"$ours" | median); om=$(awk '{print $2}' <<<"$ours" | median)
printf 'iptables-legacy-restore --test: %ss, %s MiB peak (median of %s)\n' "$it" "$((im / 1024))" "$RUNS"
printf 'nfsim check (parse+validate):   %ss, %s MiB peak (median of %s)\n' "$ot" "$((om / 1024))" "$RUNS"
awk -v a="$it" -v b="$ot" 'BEGIN { printf "time ratio: nfsim takes 1/%.1f of iptables-legacy-restore\n", a / b }'
