#!/usr/bin/env bash
# Block validation on 1 and on 2 threads (issue 13; not part of CI): a
# chain of TRANSFERS transfers is built by a node on fjall under `bench`
# load, exported, and imported twice into fresh directories, once with
# RAYON_NUM_THREADS=1 and once with 2. Import re-validates every block
# (signatures recovered on rayon: ledger-core feature `parallel`) and
# re-executes and stores it, so the speed-up printed is end to end.
#
#   scripts/import-threads.sh [TRANSFERS=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
transfers=${1:-100000}
out=target/import-threads
rm -rf "$out"
mkdir -p "$out"
cargo build --release --locked -p ledger-node
bin=target/release/ledger-node

"$bin" bench genesis --senders 1000 --out "$out/genesis.json"
port=50671
"$bin" run --data-dir "$out/chain" --genesis "$out/genesis.json" --store fjall \
    --ws "127.0.0.1:$port" --block-interval-ms 0 2>"$out/node.log" &
node=$!
trap 'kill $node 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
done
"$bin" bench --node "ws://127.0.0.1:$port" --node-pid "$node" --transfers "$transfers" \
    --senders 1000 --connections 16 --json "$out/load.json"
kill -TERM "$node"
wait "$node" || true
trap - EXIT
"$bin" export --data-dir "$out/chain" --store fjall --out "$out/chain.bin"

seconds() {
    local threads=$1
    local start end
    start=$(date +%s.%N)
    RAYON_NUM_THREADS=$threads "$bin" import --data-dir "$out/import-$threads" --store fjall \
        --from "$out/chain.bin" --genesis "$out/genesis.json" >/dev/null
    end=$(date +%s.%N)
    python3 -c "print($end - $start)"
}
one=$(seconds 1)
two=$(seconds 2)
python3 - "$one" "$two" "$transfers" <<'EOF'
import sys
one, two, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"import of {n} transfers: 1 thread {one:.2f} s ({one / n * 1e6:.1f} µs each), "
      f"2 threads {two:.2f} s ({two / n * 1e6:.1f} µs each): speed-up {one / two:.2f}×")
EOF
"$bin" bench verify --threads 2 --seconds 2
