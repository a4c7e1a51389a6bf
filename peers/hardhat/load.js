// The same workload as `ledger-node bench`, against Hardhat's node: N
// value transfers to distinct fresh addresses from Hardhat's 20 funded
// accounts, signed before timing starts, pushed over C WebSocket
// connections (eth_sendRawTransaction, up to W awaiting their answer per
// connection), timed from the first push to the last mined transaction,
// then every receipt and receiver balance checked.
//
//   node load.js --url ws://127.0.0.1:8545 --transfers 5000 --connections 20 [--window 1000] [--json FILE]
//
// Hardhat automines: a transaction's answer comes once it is in a block,
// so an answer is the final status. Each sender's transfers go over one
// connection, in nonce order, so none waits on a nonce gap.

import { writeFileSync } from "node:fs";
import { HDNodeWallet, Wallet, Transaction } from "ethers";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const url = args.url ?? "ws://127.0.0.1:8545";
const transfers = Number(args.transfers ?? 5000);
const connections = Number(args.connections ?? 20);
const window = Number(args.window ?? 1000);

const MNEMONIC = "test test test test test test test test test test test junk";
const SENDERS = 20;

async function main() {
  const senders = [...Array(SENDERS).keys()].map(
    (i) => new Wallet(HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey),
  );
  const rpc = await connect(url);
  const chainId = Number(await rpc.call("eth_chainId", []));
  const nonces = await Promise.all(
    senders.map((s) => rpc.call("eth_getTransactionCount", [s.address, "pending"])),
  );
  const salt = Date.now() % 1_000_000;
  console.error(`signing ${transfers} transfers…`);
  const signed = [];
  for (let n = 0; n < transfers; n++) {
    const s = n % SENDERS;
    const to = "0x" + (salt * 1e7 + n).toString(16).padStart(40, "0");
    const tx = Transaction.from({
      type: 2,
      chainId,
      nonce: Number(nonces[s]) + Math.floor(n / SENDERS),
      to,
      value: 1n,
      gasLimit: 21000n,
      maxFeePerGas: 100_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    });
    tx.signature = senders[s].signingKey.sign(tx.unsignedHash);
    signed.push({ sender: s, to, raw: tx.serialized, hash: tx.hash });
  }

  const sockets = await Promise.all([...Array(connections).keys()].map(() => connect(url)));
  const started = performance.now();
  let failed = 0;
  await Promise.all(
    sockets.map(async (socket, c) => {
      const mine = signed.filter((t) => t.sender % connections === c);
      let next = 0;
      const inFlight = new Set();
      while (next < mine.length || inFlight.size > 0) {
        while (next < mine.length && inFlight.size < window) {
          const t = mine[next++];
          const p = socket
            .call("eth_sendRawTransaction", [t.raw])
            .catch((error) => {
              failed++;
              console.error(`push ${t.hash}: ${error.message}`);
            })
            .finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        await Promise.race(inFlight);
      }
    }),
  );
  // Answers come once mined; the last receipt confirms it.
  const seconds = (performance.now() - started) / 1000;

  console.error("checking every receipt and balance…");
  let wrong = 0;
  for (let i = 0; i < signed.length; i += 500) {
    const batch = signed.slice(i, i + 500);
    const receipts = await Promise.all(batch.map((t) => rpc.call("eth_getTransactionReceipt", [t.hash])));
    const balances = await Promise.all(batch.map((t) => rpc.call("eth_getBalance", [t.to, "latest"])));
    batch.forEach((t, k) => {
      if (!receipts[k] || receipts[k].status !== "0x1" || BigInt(balances[k]) !== 1n) wrong++;
    });
  }
  const report = {
    node: "hardhat 3.18.0 (EDR, automine)",
    transfers,
    senders: SENDERS,
    connections,
    window,
    seconds,
    committed_per_second: (transfers - failed) / seconds,
    failed,
    wrong,
  };
  console.log(JSON.stringify(report, null, 2));
  if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2) + "\n");
  sockets.forEach((s) => s.close());
  rpc.close();
  process.exit(failed || wrong ? 1 : 0);
}

/** A JSON-RPC client over one WebSocket. */
function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const waiting = new Map();
    let id = 0;
    ws.onopen = () =>
      resolve({
        call(method, params) {
          return new Promise((ok, fail) => {
            waiting.set(++id, { ok, fail });
            ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
          });
        },
        close: () => ws.close(),
      });
    ws.onerror = (event) => reject(new Error(`cannot connect to ${url}: ${event.message ?? event}`));
    ws.onmessage = (event) => {
      const answer = JSON.parse(event.data);
      const entry = waiting.get(answer.id);
      if (!entry) return;
      waiting.delete(answer.id);
      if (answer.error) entry.fail(new Error(answer.error.message));
      else entry.ok(answer.result);
    };
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
