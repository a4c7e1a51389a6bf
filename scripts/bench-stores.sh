#!/usr/bin/env bash
# End to end on every storage engine, side by side in one run: a fresh
# release node per engine and round, the raw 2-core recover rate measured
# just before each load, `ws_load` pushing TRANSFERS over CONNECTIONS, and
# the node's CPU (all threads and the chain thread), peak RSS and disk bytes
# per committed transfer read from /proc and the data directory.
#
#     scripts/bench-stores.sh [ROUNDS] [TRANSFERS] [CONNECTIONS] [SENDERS]
#
# Prints one line per run and a Markdown table; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
transfers=${2:-40000}
connections=${3:-16}
senders=${4:-1}
engines=${ENGINES:-"sled fjall"}

cargo build --release -q -p ledger-node -p ledger-benches --bins --examples
node_bin=target/release/ledger-node
ticks=$(getconf CLK_TCK)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cpu_ticks() { # utime + stime of a /proc stat file (the name may hold spaces)
  sed 's/.*) //' "$1" | awk '{print $12 + $13}'
}

chain_stat() {
  for task in /proc/"$1"/task/*; do
    if [ "$(cat "$task/comm")" = chain ]; then echo "$task/stat"; return; fi
  done
}

echo "| round | engine | committed/s | recover/s (2 cores) | ratio | node CPU µs/transfer | chain thread µs | peak RSS MB | disk bytes/transfer |"
echo "|---|---|---|---|---|---|---|---|---|"
port=52100
for round in $(seq 1 "$rounds"); do
  for engine in $engines; do
    port=$((port + 1))
    dir="$work/$engine-$round"
    "$node_bin" run --store "$engine" --data-dir "$dir" --ws 127.0.0.1:$port >"$work/out" 2>"$work/err" &
    pid=$!
    until grep -q "listening" "$work/out" 2>/dev/null; do
      kill -0 $pid 2>/dev/null || { cat "$work/err"; exit 1; }
      sleep 0.1
    done
    recover=$(target/release/examples/recover_rate 2 3 | sed 's/.*per_second=//')
    chain=$(chain_stat $pid)
    node_before=$(cpu_ticks /proc/$pid/stat)
    chain_before=$(cpu_ticks "$chain")
    line=$(target/release/examples/ws_load ws://127.0.0.1:$port "$transfers" "$connections" "$senders" 2>/dev/null)
    node_after=$(cpu_ticks /proc/$pid/stat)
    chain_after=$(cpu_ticks "$chain")
    rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
    kill -TERM $pid
    wait $pid || true
    committed=$(echo "$line" | awk '{print $1}')
    rate=$(echo "$line" | sed 's/.*: \([0-9]*\) transfers\/s.*/\1/')
    bytes=$(du -sb "$dir" | awk '{print $1}')
    awk -v r="$round" -v e="$engine" -v rate="$rate" -v rec="$recover" -v n="$committed" \
        -v nb="$node_before" -v na="$node_after" -v cb="$chain_before" -v ca="$chain_after" \
        -v t="$ticks" -v rss="$rss" -v bytes="$bytes" 'BEGIN {
      printf "| %s | %s | %d | %d | %.2f | %.0f | %.0f | %.0f | %.0f |\n", r, e, rate, rec, rate / rec,
        (na - nb) / t * 1e6 / n, (ca - cb) / t * 1e6 / n, rss / 1024, bytes / n
    }'
    rm -rf "$dir"
  done
done
