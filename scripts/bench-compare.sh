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
fastest() { sort -n | head -n1; }
# Wall time in milliseconds (measured around the run), peak memory from time(1).
once() {
  local t0 t1 mem
  t0=$(date +%s%N)
  mem=$(/usr/bin/time -f "%M" "$@" < "$dump" 2>&1 >/dev/null | tail -n1)
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) $mem"
}
ip netns add nfsim-bench
# Interleave the two tools so that drift in the machine's speed hits both alike.
ipt="" ours=""
for _ in $(seq "$RUNS"); do
  ipt+="$(once ip netns exec nfsim-bench iptables-legacy-restore --test)"$'\n'
  ours+="$(once ./target/release/nfsim check -)"$'\n'
done
ipt=$(sed '/^$/d' <<<"$ipt"); ours=$(sed '/^$/d' <<<"$ours")
it=$(awk '{print $1}' <<<"$ipt" | median); im=$(awk '{print $2}' <<<"$ipt" | median)
ot=$(awk '{print $1}' <<<"$ours" | median); om=$(awk '{print $2}' <<<"$ours" | median)
if_=$(awk '{print $1}' <<<"$ipt" | fastest); of=$(awk '{print $1}' <<<"$ours" | fastest)
printf 'iptables-legacy-restore --test: %s ms (fastest %s), %s MiB peak (median of %s)\n' "$it" "$if_" "$((im / 1024))" "$RUNS"
printf 'nfsim check (parse+validate):   %s ms (fastest %s), %s MiB peak (median of %s)\n' "$ot" "$of" "$((om / 1024))" "$RUNS"
awk -v a="$it" -v b="$ot" 'BEGIN { printf "time ratio: nfsim takes 1/%.1f of iptables-legacy-restore\n", a / b }'
if [ "${INSTRUCTIONS:-}" = 1 ] && command -v valgrind >/dev/null; then
  # Instruction counts do not depend on the machine's load: the steadiest comparison.
  refs() { awk '/refs:/ {gsub(",", "", $4); print $4}'; }
  ii=$(ip netns exec nfsim-bench valgrind --tool=callgrind --callgrind-out-file=/dev/null iptables-legacy-restore --test < "$dump" 2>&1 >/dev/null | refs)
  oi=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null ./target/release/nfsim check - < "$dump" 2>&1 >/dev/null | refs)
  awk -v a="$ii" -v b="$oi" 'BEGIN { printf "instructions: iptables-legacy-restore %.2f G, nfsim %.2f G (1/%.1f)\n", a / 1e9, b / 1e9, a / b }'
fi
