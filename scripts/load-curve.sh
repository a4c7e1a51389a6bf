#!/usr/bin/env bash
# Committed transfers and p99 latency against offered load (issue 13; not
# part of CI). First a run as fast as possible gives the capacity; then one
# run per fraction of it at a fixed offered rate; every run is a fresh
# node and reports its own raw recovery rate, so the chart's axes are
# ratios to it. Writes target/load-curve/*.json and the chart
# docs/load-curve.svg.
#
#   scripts/load-curve.sh [TRANSFERS=40000] [STORE=sled] [FRACTIONS="0.2 0.4 0.5 0.6 0.8 1.0 1.2"]
set -euo pipefail
cd "$(dirname "$0")/.."
transfers=${1:-40000}
store=${2:-sled}
fractions=${3:-"0.2 0.4 0.5 0.6 0.8 1.0 1.2"}
out=target/load-curve
rm -rf "$out"
mkdir -p "$out"
cargo build --release --locked -p ledger-node
bin=target/release/ledger-node
shape=(--transfers "$transfers" --senders 1000 --connections 16 --store "$store")

"$bin" bench "${shape[@]}" --json "$out/capacity.json"
capacity=$(python3 -c "import json; print(json.load(open('$out/capacity.json'))['committed_per_second'])")
echo "capacity: $capacity transfers/s"
for fraction in $fractions; do
    rate=$(python3 -c "print(round($capacity * $fraction))")
    echo "offering $fraction × capacity: $rate transfers/s"
    "$bin" bench "${shape[@]}" --rate "$rate" --json "$out/rate-$fraction.json"
done
"$bin" bench plot-load "$out"/rate-*.json --out docs/load-curve.svg
python3 - "$out" <<'EOF'
import glob, json, sys
print("| offered ÷ raw | committed ÷ raw | p50 / p99 Pending ms | p50 / p99 final ms |")
print("|---|---|---|---|")
rows = []
for path in glob.glob(sys.argv[1] + "/rate-*.json"):
    r = json.load(open(path))
    rows.append((r["offered_per_second"] / r["raw_recover_per_second"], r))
for offered, r in sorted(rows, key=lambda row: row[0]):
    p, f = r["pending_ms"], r["final_ms"]
    print(f"| {offered:.3f} | {r['ratio_to_raw']:.3f} | {p['p50']:.1f} / {p['p99']:.1f} | {f['p50']:.0f} / {f['p99']:.0f} |")
EOF
