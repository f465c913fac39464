#!/bin/sh
# Kernel-differential tests: kdiff/run sends generated scenarios through the
# real kernel (throw-away network namespaces, both iptables backends) and
# through nfsim, and fails on a disagreement that kdiff/known-differences.json
# does not explain. Without root, network namespaces or the iptables binaries
# it says why it skipped and exits 0.
# Environment: KDIFF_CASES (cases per backend, default 300: about 3 minutes
# here), KDIFF_SEED (default "ci": the same cases every run).
set -u
cd "$(dirname "$0")/.."
skip() {
    echo "kernel-diff: kernel tests skipped: $1"
    exit 0
}
# kdiff's own unit tests need no kernel: they run wherever python3 does.
if command -v python3 >/dev/null 2>&1; then
    python3 -m unittest discover -s kdiff -p 'test_*.py' || exit 1
fi
uid=$(id -u 2>/dev/null) || skip "cannot tell the user id (id is not installed)"
[ "$uid" = 0 ] || skip "not running as root"
for tool in python3 ip nft iptables-nft-restore iptables-legacy-restore; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
probe="kdiffprobe$$"
if ! ip netns add "$probe" 2>/dev/null; then
    skip "cannot create a network namespace (ip netns add failed)"
fi
if ! ip netns exec "$probe" iptables-legacy-restore --test </dev/null >/dev/null 2>&1 \
    || ! ip netns exec "$probe" nft list tables >/dev/null 2>&1; then
    ip netns del "$probe"
    skip "netfilter does not work inside a network namespace here"
fi
ip netns del "$probe"
cargo build --release -p nfsim-cli -j 1 --quiet || exit 1
start=$(date +%s)
kdiff/run --cases "${KDIFF_CASES:-300}" --seed "${KDIFF_SEED:-ci}" --backend both --quiet \
    --minimise-per-class 1 --minimise-budget 30
rc=$?
echo "kernel-diff: $(($(date +%s) - start)) s (exit $rc)"
exit $rc
