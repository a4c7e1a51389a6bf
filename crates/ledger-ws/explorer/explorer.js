// The explorer page: plain JavaScript, no dependencies, served by the node
// itself (GET /) and talking to its own likelib v1 WebSocket API on the
// same host. Everything shown is built with textContent, never innerHTML.

const STATUS = ["Success", "Pending", "BadQueryForm", "BadSign", "NotEnoughBalance", "Revert", "Failed"];
const ACTION = ["None", "Transfer", "ContractCall", "ContractCreation"];
const LATEST = 10;
const MINUTE = 60;
const BUCKET = 5;

// ---- The node's WebSocket API ----------------------------------------

class Api {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.waiting = new Map();
    this.following = new Map();
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot reach the node at ${this.url}`));
      ws.onclose = () => setConnection("disconnected: reload the page to reconnect", true);
      ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    });
  }

  receive(message) {
    const waiter = this.waiting.get(message.id);
    if (waiter) {
      this.waiting.delete(message.id);
      if (message.status === "ok") {
        waiter.resolve(message.result);
      } else {
        const error = new Error(message.error.message);
        error.code = message.error.code;
        waiter.reject(error);
      }
      return;
    }
    const follower = this.following.get(message.id);
    if (follower && message.status === "ok") follower(message.result);
  }

  send(type, name, args) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ type, name, api: 1, id, args }));
    return id;
  }

  call(name, args = {}) {
    return new Promise((resolve, reject) => {
      const id = this.send("call", name, args);
      this.waiting.set(id, { resolve, reject });
    });
  }

  /** Every message of the subscription, the first (current state) included. */
  subscribe(name, args, onMessage) {
    const id = this.nextId;
    this.following.set(id, onMessage);
    this.send("subscribe", name, args);
  }
}

// ---- SHA-256, for transaction hashes (ledger-rules.md: sha256 of
// from + to + amount + fee + timestamp + data as wire texts) ------------

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256(bytes) {
  const length = bytes.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length << 3) >>> 0);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(4 * i, word));
  return out;
}

function transactionHash(tx) {
  const preimage = `${tx.from}${tx.to}${tx.amount}${tx.fee}${tx.timestamp}${tx.data}`;
  const digest = sha256(new TextEncoder().encode(preimage));
  return btoa(String.fromCharCode(...digest));
}

// ---- Rendering helpers --------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const link = (route, text, className) =>
  el("a", { href: `#${route}`, ...(className ? { class: className } : {}) }, text);
const blockLink = (number) => link(`block/${number}`, `#${number}`);
const txLink = (hash) => link(`tx/${encodeURIComponent(hash)}`, hash, "hash");
const addressLink = (address) => link(`address/${address}`, address, "hash");
const time = (seconds) => new Date(seconds * 1000).toLocaleTimeString();

function statusText(code) {
  return `${code} ${STATUS[code] ?? "unknown"}`;
}

function statusClass(code) {
  return code === 0 || code === 1 ? `status-${code}` : "status-bad";
}

function fields(pairs) {
  const list = el("dl");
  for (const [name, value] of pairs) list.append(el("dt", {}, name), el("dd", {}, value));
  return list;
}

function setConnection(text, bad = false) {
  const node = document.getElementById("connection");
  node.textContent = text;
  node.className = bad ? "status-bad" : "muted";
}

function showMessage(text) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.hidden = false;
  document.getElementById("detail").hidden = true;
}

function showDetail(...children) {
  document.getElementById("message").hidden = true;
  const detail = document.getElementById("detail");
  detail.replaceChildren(...children);
  detail.hidden = false;
}

// ---- State --------------------------------------------------------------

const api = new Api(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`);
const state = { head: null, blocks: new Map() };

async function blockAt(number) {
  let block = state.blocks.get(number);
  if (!block) {
    block = await api.call("find_block", { number });
    state.blocks.set(number, block);
  }
  return block;
}

function renderBlocks() {
  const body = document.querySelector("#blocks tbody");
  const numbers = [...state.blocks.keys()].sort((a, b) => b - a).slice(0, LATEST);
  body.replaceChildren(
    ...numbers.map((number) => {
      const block = state.blocks.get(number);
      return el(
        "tr",
        { "data-number": number },
        el("td", {}, blockLink(number)),
        el("td", {}, time(block.timestamp)),
        el("td", {}, block.transactions.length),
        el("td", {}, addressLink(block.coinbase)),
      );
    }),
  );
  renderThroughput();
}

function renderThroughput() {
  const now = Date.now() / 1000;
  const buckets = new Array(MINUTE / BUCKET).fill(0);
  for (const block of state.blocks.values()) {
    const age = now - block.timestamp;
    if (age < 0 || age >= MINUTE || block.depth === 0) continue;
    buckets[buckets.length - 1 - Math.floor(age / BUCKET)] += block.transactions.length;
  }
  const total = buckets.reduce((sum, count) => sum + count, 0);
  const rate = total / MINUTE;
  document.getElementById("throughput").textContent = `${total} tx (${rate.toFixed(rate < 10 ? 2 : 0)}/s)`;
  const highest = Math.max(1, ...buckets);
  const width = 120 / buckets.length;
  const chart = document.getElementById("chart");
  chart.replaceChildren(
    ...buckets.map((count, i) => {
      const height = (count / highest) * 30;
      const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      bar.setAttribute("x", i * width + 0.5);
      bar.setAttribute("width", width - 1);
      bar.setAttribute("y", 30 - height);
      bar.setAttribute("height", height);
      return bar;
    }),
  );
}

async function onHead(tip) {
  state.head = { number: tip.top_block_number, hash: tip.top_block_hash };
  document.getElementById("head-number").textContent = `#${tip.top_block_number}`;
  document.getElementById("head-hash").textContent = tip.top_block_hash;
  const first = Math.max(0, tip.top_block_number - LATEST + 1);
  for (let number = tip.top_block_number; number >= first; number--) {
    if (state.blocks.has(number)) break;
    await blockAt(number);
  }
  // Blocks far behind the list (and outside the chart's minute) are let go.
  for (const number of state.blocks.keys()) {
    const block = state.blocks.get(number);
    if (number < first && Date.now() / 1000 - block.timestamp > MINUTE) state.blocks.delete(number);
  }
  renderBlocks();
}

async function refreshNode() {
  try {
    const metrics = await (await fetch("/metrics")).text();
    const pending = metrics.match(/^ledger_mempool_transactions (\d+)/m);
    document.getElementById("mempool").textContent = pending ? pending[1] : "–";
  } catch {
    document.getElementById("mempool").textContent = "–";
  }
}

async function showNode() {
  const info = await api.call("node_info");
  document.getElementById("node").textContent =
    `${info.mode} · chain ${info.chain_id} · ${info.evm_fork} · v${info.version}`;
  const { peers } = await api.call("peers");
  const text = peers.length === 0
    ? "no peers"
    : peers.map((peer) => `${peer.address}${peer.validator ? ` (validator ${peer.validator})` : ""} at #${peer.height}${peer.reachable ? "" : ", unreachable"}`).join("; ");
  document.getElementById("peers").textContent = text;
}

// ---- Views ---------------------------------------------------------------

async function showBlock(number) {
  const block = await blockAt(number);
  let hash = "";
  if (state.head && number === state.head.number) {
    hash = state.head.hash;
  } else if (state.head && number < state.head.number) {
    hash = (await blockAt(number + 1)).previous_block_hash;
  }
  const rows = block.transactions.map((tx) =>
    el(
      "tr",
      {},
      el("td", {}, txLink(transactionHash(tx))),
      el("td", {}, addressLink(tx.from)),
      el("td", {}, addressLink(tx.to)),
      el("td", {}, tx.amount),
      el("td", {}, tx.fee),
    ),
  );
  showDetail(
    el("h2", {}, `Block #${block.depth}`),
    fields([
      ["Hash", el("span", { class: "hash" }, hash || "–")],
      ["Time", new Date(block.timestamp * 1000).toLocaleString()],
      ["Previous", block.depth > 0 ? blockLink(block.depth - 1) : "none (genesis)"],
      ["Coinbase", addressLink(block.coinbase)],
      ["Transactions", block.transactions.length],
    ]),
    rows.length
      ? el(
          "table",
          {},
          el("thead", {}, el("tr", {}, ...["Hash", "From", "To", "Amount", "Fee"].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...rows),
        )
      : el("p", { class: "muted" }, "No transactions."),
  );
}

async function showTransaction(hash) {
  let tx = null;
  try {
    tx = await api.call("find_transaction", { hash });
  } catch (error) {
    if (error.code !== "not_found") throw error;
  }
  let status;
  try {
    status = await api.call("find_transaction_status", { hash });
  } catch (error) {
    if (error.code !== "not_found") throw error;
    return false;
  }
  const statusNode = el("span", { class: statusClass(status.status_code) }, statusText(status.status_code));
  const rows = [
    ["Hash", el("span", { class: "hash" }, hash)],
    ["Status", statusNode],
    ["Action", `${status.action_type} ${ACTION[status.action_type] ?? "unknown"}`],
  ];
  if (status.message) rows.push(["Message", el("span", { class: "hash" }, status.message)]);
  if (tx) {
    rows.push(
      ["From", addressLink(tx.from)],
      ["To", addressLink(tx.to)],
      ["Amount", tx.amount],
      ["Fee", tx.fee],
      ["Fee left", status.fee_left],
      ["Timestamp", `${tx.timestamp} (${new Date(tx.timestamp * 1000).toLocaleString()})`],
      ["Data", el("span", { class: "hash" }, tx.data ? `${tx.data.slice(0, 200)}${tx.data.length > 200 ? "…" : ""}` : "none")],
    );
  } else {
    rows.push(["Block", "not in a block yet"]);
  }
  showDetail(el("h2", {}, "Transaction"), fields(rows));
  return true;
}

async function showAddress(address, cursor = null) {
  let account;
  try {
    account = await api.call("account_info", { address });
  } catch (error) {
    if (error.code !== "limit_exceeded") throw error;
    account = null;
  }
  const page = await api.call("account_transactions", { address, limit: 25, cursor });
  const summary = account
    ? [
        ["Address", el("span", { class: "hash" }, address)],
        ["Balance", account.balance],
        ["Nonce", account.nonce],
        ["Type", account.type],
        ["Transactions", account.transaction_hashes.length],
      ]
    : [["Address", el("span", { class: "hash" }, address)], ["Transactions", "more than account_info lists"]];
  const rows = page.transactions.map((item) =>
    el("tr", {}, el("td", {}, txLink(item.hash)), el("td", {}, blockLink(item.block_number)), el("td", {}, item.direction)),
  );
  const more = page.cursor
    ? el("button", { class: "plain", id: "older" }, "Older transactions")
    : el("span", { class: "muted" }, cursor ? "No older transactions." : "");
  if (page.cursor) more.addEventListener("click", () => showAddress(address, page.cursor).catch(fail));
  showDetail(
    el("h2", {}, account && account.type === "contract" ? "Contract" : "Address"),
    fields(summary),
    rows.length
      ? el(
          "table",
          {},
          el("thead", {}, el("tr", {}, ...["Transaction", "Block", "Direction"].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...rows),
        )
      : el("p", { class: "muted" }, "No transactions."),
    more,
  );
}

function fail(error) {
  showMessage(error.message || String(error));
}

// ---- Search and routes ---------------------------------------------------

const HASH = /^[A-Za-z0-9+/]{43}=$/;
const ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{20,35}$/;

async function route() {
  const [kind, ...rest] = location.hash.slice(1).split("/");
  const value = decodeURIComponent(rest.join("/"));
  if (!kind) {
    document.getElementById("detail").hidden = true;
    document.getElementById("message").hidden = true;
    return;
  }
  if (kind === "block" && /^\d+$/.test(value)) {
    try {
      await showBlock(Number(value));
    } catch (error) {
      if (error.code !== "not_found") throw error;
      showMessage(`No block #${value}: the head is #${state.head ? state.head.number : "?"}.`);
    }
  } else if (kind === "tx") {
    if (!(await showTransaction(value))) showMessage(`No transaction with hash ${value} is pending or in the chain.`);
  } else if (kind === "address") {
    await showAddress(value);
  } else {
    showMessage(`Nothing to show at #${location.hash.slice(1)}.`);
  }
}

async function search(text) {
  const query = text.trim();
  if (/^\d+$/.test(query)) {
    location.hash = `block/${query}`;
  } else if (HASH.test(query)) {
    if (await showTransaction(query)) {
      history.replaceState(null, "", `#tx/${encodeURIComponent(query)}`);
      return;
    }
    try {
      const block = await api.call("find_block", { hash: query });
      state.blocks.set(block.depth, block);
      location.hash = `block/${block.depth}`;
    } catch (error) {
      if (error.code !== "not_found") throw error;
      showMessage(`No transaction or block has the hash ${query}.`);
    }
  } else if (ADDRESS.test(query)) {
    location.hash = `address/${query}`;
  } else {
    showMessage(`"${query}" is not a block number, a hash (base64, 44 characters) or an address (base58).`);
  }
}

async function main() {
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search(document.getElementById("search").value).catch(fail);
  });
  window.addEventListener("hashchange", () => route().catch(fail));
  try {
    await api.open();
  } catch (error) {
    setConnection(error.message, true);
    return;
  }
  setConnection(`connected to ${location.host}`);
  api.subscribe("last_block_info", {}, (tip) => onHead(tip).catch(fail));
  await showNode().catch(fail);
  await refreshNode();
  setInterval(refreshNode, 2000);
  setInterval(renderThroughput, BUCKET * 1000);
  await route().catch(fail);
  document.body.dataset.ready = "true";
}

main();
