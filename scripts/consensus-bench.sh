#!/usr/bin/env bash
# Four validators on this machine against one node alone, on the same
# workload in the same session (issue 14; not part of CI). Each run reports
# the raw recovery rate it measured beside it, so every figure is also a
# ratio. Writes target/consensus-bench/*.json and prints a table.
#
#   scripts/consensus-bench.sh [TRANSFERS=20000] [STORE=sled] [-- RUN OPTIONS...]
#
# Options after `--` go to every validator's `run` (e.g. --max-block-txs).
#
# 1. `bench` as fast as possible against a node alone (it starts its own).
# 2. The same against validator 0 of `ledger-node devnet 4` (a genesis
#    funding the bench senders; validator 0 forwards to the others).
# 3. Light load on the devnet: 5 transfers/s over one connection, for
#    finality (push to final status) percentiles.
# 4. Joining late: a follower with an empty data directory catches up to
#    the loaded devnet's top, once by state sync (a validator's snapshot)
#    and once by replaying every block (--no-state-sync); time to the top.
set -euo pipefail
cd "$(dirname "$0")/.."
transfers=${1:-20000}
store=${2:-sled}
run_options=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
if [ $# -gt 0 ]; then shift; run_options=("$@"); fi
out=target/consensus-bench
rm -rf "$out"
mkdir -p "$out"
cargo build --release --locked -p ledger-node
bin=target/release/ledger-node
shape=(--transfers "$transfers" --senders 1000 --connections 16)

"$bin" bench "${shape[@]}" --store "$store" --json "$out/single.json"

# One genesis funding the senders of both devnet runs (seeds 1 and 2), so
# each run checks balances only it touched.
"$bin" bench genesis --senders 1000 --seed 1 --out "$out/genesis-1.json"
"$bin" bench genesis --senders 1000 --seed 2 --out "$out/genesis-2.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
one, two = (json.load(open(f"{out}/genesis-{n}.json")) for n in (1, 2))
one["accounts"].update(two["accounts"])
json.dump(one, open(f"{out}/genesis.json", "w"), indent=1)
PY
"$bin" devnet 4 --dir "$out/devnet" --store "$store" --genesis "$out/genesis.json" \
    -- "${run_options[@]}" > "$out/devnet.txt" 2>&1 &
devnet=$!
trap 'kill -INT $devnet 2>/dev/null; wait $devnet 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q "^0 " "$out/devnet.txt" 2>/dev/null && break
    sleep 0.1
done
api=$(awk '$1 == "0" { print $2 }' "$out/devnet.txt")
pid=$(pgrep -f "run --data-dir $out/devnet/node-0" | head -1)
# Until the validators answer: the first bench call connects.
for _ in $(seq 100); do
    "$bin" block --number 0 --node "$api" > /dev/null 2>&1 && break
    sleep 0.1
done
"$bin" bench --node "$api" --node-pid "$pid" "${shape[@]}" --json "$out/devnet.json"
"$bin" bench --node "$api" --node-pid "$pid" --transfers 200 --senders 1000 --seed 2 \
    --connections 1 --rate 5 --json "$out/devnet-light.json" || true
grep -h "decided height" "$out"/devnet/node-0.log | tail -1

# Step 4: time for a fresh follower to reach the devnet's top block.
top=$(grep -ho "decided height=[0-9]*" "$out"/devnet/node-0.log | tail -1 | cut -d= -f2 || true)
join() {
    local name=$1; shift
    local dir="$out/join-$name" ports
    ports=$(python3 -c "import socket
s=[socket.socket() for _ in range(2)]
[x.bind(('127.0.0.1',0)) for x in s]
print(' '.join(str(x.getsockname()[1]) for x in s))")
    local p2p=${ports% *} ws=${ports#* }
    local start end
    start=$(date +%s.%N)
    "$bin" run --data-dir "$dir" --store "$store" --genesis "$out/devnet/genesis.json" \
        --p2p "127.0.0.1:$p2p" --ws "127.0.0.1:$ws" --follow "$@" > "$out/join-$name.log" 2>&1 &
    local node=$!
    until "$bin" block --number "$top" --node "ws://127.0.0.1:$ws" > /dev/null 2>&1; do
        sleep 0.05
    done
    end=$(date +%s.%N)
    kill -INT $node; wait $node || true
    python3 -c "print(f'{\"$name\"}: caught up to block $top in {$end - $start:.2f} s')" | tee -a "$out/join.txt"
}
if [ -n "$top" ]; then
    join snapshot
    join replay --no-state-sync
fi

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
single = json.load(open(f"{out}/single.json"))
net = json.load(open(f"{out}/devnet.json"))
print("| run | committed/s | ÷ raw (same run) | p50 / p99 final ms |")
print("|---|---|---|---|")
for name, r in [("node alone", single), ("4 validators", net)]:
    f = r["final_ms"]
    print(f"| {name} | {r['committed_per_second']:.0f} | {r['ratio_to_raw']:.3f} | {f['p50']:.0f} / {f['p99']:.0f} |")
print(f"4 validators ÷ alone: {net['committed_per_second'] / single['committed_per_second']:.2f}")
try:
    light = json.load(open(f"{out}/devnet-light.json"))
    f = light["final_ms"]
    print(f"light load (5/s, 1 connection): final p50 {f['p50']:.0f} ms, p99 {f['p99']:.0f} ms, max {f['max']:.0f} ms")
except FileNotFoundError:
    print("light-load run failed")
PY
cat "$out/join.txt" 2>/dev/null || echo "joining runs skipped"

