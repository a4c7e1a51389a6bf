#!/usr/bin/env bash
# Soak with faults (issue 11; not part of CI): transfers at a steady rate
# for an hour while the node is SIGKILLed and restarted every few minutes
# and clients drop their connections; at the end every transfer must be
# applied exactly once. Writes target/soak/{capacity,soak}.json, the
# samples (CSV) and the RSS plot (SVG).
#
#   scripts/soak.sh [--minutes 60] [--rate N] [--store sled] [other `bench soak` options]
#
# Without --rate it offers half the capacity measured first (a 50,000-
# transfer `ledger-node bench` on the same store). The run copies the
# binary, so rebuilding meanwhile does not touch the node it restarts.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/soak
mkdir -p "$out"
cargo build --release --locked -p ledger-node
cp target/release/ledger-node "$out/ledger-node"

rate=""
store=sled
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) rate="$2"; shift 2 ;;
        --store) store="$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

if [ -z "$rate" ]; then
    "$out/ledger-node" bench --transfers 50000 --store "$store" --json "$out/capacity.json"
    rate=$(python3 -c "import json; print(round(json.load(open('$out/capacity.json'))['committed_per_second'] / 2))")
    echo "offering half the measured capacity: $rate transfers/s"
fi

# A full disk would end the run early: say what the chain will need.
echo "free disk: $(df -h --output=avail "$out" | tail -1)"

"$out/ledger-node" bench soak --rate "$rate" --store "$store" \
    --samples "$out/samples.csv" --json "$out/soak.json" "${args[@]}"
"$out/ledger-node" bench plot-soak "$out/samples.csv" --out "$out/soak-rss.svg"
echo "report: $out/soak.json, plot: $out/soak-rss.svg"
