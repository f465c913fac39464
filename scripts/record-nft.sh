#!/usr/bin/env bash
# Record what the real iptables-restore-translate (1.8.9) writes for a ruleset:
# for each iptables-save dump given (by default every engine/tests/fixtures/roundtrip/*.out,
# the canonical dumps the kernel gave back), translate it inside a throw-away network
# namespace (never the root namespace; ipsets named in NAME.ipset are created there
# first, since the set match asks the kernel about them) and write
# engine/tests/fixtures/nft/NAME.nft without the two dated "# Translated by" /
# "# Completed on" lines. Needs root, iptables and ipset.
# Usage: record-nft.sh [DUMP.out...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/engine/tests/fixtures/nft"
mkdir -p "$dest"
if [ $# -eq 0 ]; then set -- "$root"/engine/tests/fixtures/roundtrip/*.out; fi
for f in "$@"; do
  name=$(basename "${f%.out}")
  ns="nfsim-nft-$$"
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  if [ -f "${f%.out}.ipset" ]; then ip netns exec "$ns" ipset restore < "${f%.out}.ipset"; fi
  if ip netns exec "$ns" iptables-restore-translate -f "$f" > "$dest/$name.nft.tmp" 2> "$dest/$name.err"; then
    # The tool ends its last line without a newline ("# Completed on" comes right
    # after ctime's own newline); the dated lines go, everything else stays.
    grep -v -e '^# Translated by ' -e '^# Completed on ' "$dest/$name.nft.tmp" > "$dest/$name.nft" || true
    echo "recorded $dest/$name.nft"
  else
    echo "FAILED to translate $f: $(cat "$dest/$name.err")" >&2
  fi
  rm -f "$dest/$name.nft.tmp" "$dest/$name.err"
  ip netns del "$ns"
  trap - EXIT
done
