#!/usr/bin/env bash
# End to end on every storage engine, side by side in one run: for each
# round and engine, `ledger-node bench` starts a fresh release node on that
# engine, measures the raw 2-core recover rate just before the load, pushes
# TRANSFERS from SENDERS over CONNECTIONS, checks every transfer, and reads
# the node's CPU by thread group and its peak RSS from /proc.
#
#     scripts/bench-stores.sh [ROUNDS] [TRANSFERS] [CONNECTIONS] [SENDERS] [WORKLOAD]
#
# WORKLOAD is `native` (default) or `erc20`. Prints a Markdown table; the
# JSON reports stay in target/bench-stores/. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
transfers=${2:-40000}
connections=${3:-16}
senders=${4:-1000}
workload=${5:-native}
engines=${ENGINES:-"sled fjall"}

cargo build --release -q -p ledger-node
out=target/bench-stores
mkdir -p "$out"
reports=()
for round in $(seq 1 "$rounds"); do
  for engine in $engines; do
    report="$out/$workload-$engine-$round.json"
    target/release/ledger-node bench --store "$engine" --workload "$workload" \
      --transfers "$transfers" --connections "$connections" --senders "$senders" \
      --json "$report" >&2
    reports+=("$report")
  done
done

python3 - "${reports[@]}" <<'PY'
import json, sys
print("| round | engine | committed/s | recover/s (2 cores) | ratio | node CPU µs/transfer | chain and store threads µs | peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    r = json.load(open(path))
    cost = r.get("node_cost") or {}
    stages = cost.get("stages", {})
    chain = sum(v for k, v in stages.items() if k.startswith(("admission", "execution", "commit")))
    round_ = path.rsplit("-", 1)[1].removesuffix(".json")
    print(f"| {round_} | {r['store']} | {r['committed_per_second']:,.0f} | {r['raw_recover_per_second']:,.0f} "
          f"| {r['ratio_to_raw']:.3f} | {cost.get('us_per_transfer', 0):.0f} | {chain:.0f} | {cost.get('peak_rss_mib', 0):.0f} |")
PY
