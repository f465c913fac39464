#!/bin/sh
# Record the kernel's answer for pipeline cases: for each NAME.json, run the
# kernel oracle (throw-away network namespaces, never the root namespace) and
# write NAME.oracle.json beside it. A case's own "backend" key wins; otherwise
# iptables-legacy, as the earlier cases were recorded (--backend overrides).
# Needs root and the oracle: KERNEL_ORACLE=/path/to/kernel_trace.py (default
# /work/shared/kernel-oracle/kernel_trace.py).
# Usage: scripts/record-oracle.sh [--backend nft|legacy] engine/tests/fixtures/oracle/NAME.json...
set -eu
oracle=${KERNEL_ORACLE:-/work/shared/kernel-oracle/kernel_trace.py}
force=""
if [ "${1:-}" = "--backend" ]; then force=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [--backend nft|legacy] CASE.json..." >&2; exit 2; }
for case in "$@"; do
    out=${case%.json}.oracle.json
    if [ -n "$force" ]; then
        backend=$force
    else
        backend=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("backend", "legacy"))' "$case")
    fi
    "$oracle" --backend "$backend" "$case" > "$out.tmp"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("ok") else 1)' "$out.tmp" \
        || { echo "$case: the oracle failed, see $out.tmp" >&2; exit 1; }
    mv "$out.tmp" "$out"
    echo "$out ($backend)"
done
