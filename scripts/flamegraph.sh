#!/usr/bin/env bash
# Where the node's CPU goes under `ledger-node bench` load: perf samples
# of the node process (DWARF call graphs), folded and drawn by inferno
# into an SVG flame graph (issue 13; not part of CI).
#
#   scripts/flamegraph.sh [TRANSFERS=100000] [STORE=sled] [OUT=docs/flamegraph-node-STORE.svg]
#
# Needs perf (linux-perf) and inferno (`cargo install inferno`, installed
# here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
transfers=${1:-100000}
store=${2:-sled}
svg=${3:-docs/flamegraph-node-$store.svg}
work=target/flamegraph
rm -rf "$work" && mkdir -p "$work"
command -v inferno-flamegraph >/dev/null || cargo install inferno --locked
cargo build --release --locked -p ledger-node
bin=target/release/ledger-node

"$bin" bench genesis --senders 1000 --out "$work/genesis.json"
"$bin" run --data-dir "$work/data" --genesis "$work/genesis.json" --store "$store" \
    --ws 127.0.0.1:0 > "$work/node.out" 2> "$work/node.log" &
node=$!
trap 'kill $node 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$work/node.out" && break; sleep 0.1; done
url=$(sed -n 's/^ledger-node listening on //p' "$work/node.out")

perf record -F 250 -g --call-graph dwarf,32768 -p "$node" -o "$work/perf.data" 2> "$work/perf.log" &
perf=$!
"$bin" bench --node "$url" --node-pid "$node" --senders 1000 --transfers "$transfers" \
    --json "$work/report.json"
kill -INT "$perf"; wait "$perf" || true

perf script -i "$work/perf.data" 2> /dev/null | inferno-collapse-perf > "$work/folded.txt"
inferno-flamegraph --title "ledger-node under bench load ($transfers transfers, $store)" \
    --width 1400 < "$work/folded.txt" > "$svg"
echo "wrote $svg"
