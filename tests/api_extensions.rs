//! The surfaces beyond likelib v1 (api-extensions.md), end to end against
//! the real binary: HTTP and WebSocket on one port, the API root, the
//! valid-transactions stream, Prometheus metrics, server timings, paged
//! history, `node_info` and `peers`.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use ledger_core::{Address, Hash, StatusCode};
use ledger_ws::extensions::{ApiRoot, StreamMessage};
use serde_json::{json, Value};
use support::{address, build_chain, dev_transfer, dev_tx, error_code, request, ChainSpec, Node};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// The builder of the chain the paging test reads (see `support::build_chain`).
#[test]
fn chain_builder_child() {
    support::build_chain_child();
}

/// An HTTP answer: status, headers (names in lower case), body.
struct HttpAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `METHOD path` on the node, as a client that addressed it as `host`
/// (`HOST:PORT`) would send it, on a connection of its own.
async fn http(node: &Node, method: &str, path: &str, host: &str) -> HttpAnswer {
    let address = node.url.trim_start_matches("ws://");
    let mut tcp = tokio::net::TcpStream::connect(address).await.expect("tcp");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut answer))
        .await
        .expect("an answer within 20 s")
        .expect("read");
    let answer = String::from_utf8(answer).expect("UTF-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    HttpAnswer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn host_of(node: &Node) -> String {
    node.url.trim_start_matches("ws://").to_owned()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A valid-transactions stream at `url`.
async fn stream(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("the stream connects")
        .0
}

/// The next `count` messages of a stream, failing after 20 s.
async fn next_messages(stream: &mut Socket, count: usize) -> Vec<StreamMessage> {
    let mut messages = Vec::new();
    while messages.len() < count {
        let frame = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("a message within 20 s")
            .expect("the stream is open")
            .expect("a frame");
        match frame {
            Message::Text(text) => {
                messages.push(serde_json::from_str(text.as_str()).expect("a stream message"));
            }
            Message::Close(close) => panic!("the stream closed: {close:?}"),
            _ => {}
        }
    }
    messages
}

/// Transfers from the dev key to `to`, numbered from `first`, each waited
/// for to its final status; their hashes.
async fn transfers(client: &ledger_ws::Client, to: Address, first: u32, count: u32) -> Vec<Hash> {
    let mut hashes = Vec::new();
    for n in first..first + count {
        let tx = dev_transfer(to, 1, 1, n);
        let status = client.push_and_wait(&tx.to_raw()).await.expect("pushed");
        assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
        hashes.push(tx.hash());
    }
    hashes
}

/// Transfers pushed at once (not waited for one by one), then waited for.
async fn burst(client: &ledger_ws::Client, to: Address, first: u32, count: u32) -> Vec<Hash> {
    let txs: Vec<_> = (first..first + count)
        .map(|n| dev_transfer(to, 1, 1, n))
        .collect();
    let raws: Vec<_> = txs.iter().map(|tx| tx.to_raw()).collect();
    let statuses =
        futures_util::future::join_all(raws.iter().map(|raw| client.push_and_wait(raw))).await;
    for status in statuses {
        assert_eq!(status.expect("pushed").status_code, StatusCode::Success);
    }
    txs.iter().map(|tx| tx.hash()).collect()
}

/// The node's valid-transactions stream, addressed as the node printed itself.
fn stream_url(node: &Node) -> String {
    format!(
        "{}/api/v1/streams/valid_transactions",
        node.url.trim_end_matches('/')
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_port_serves_the_root_metrics_and_websockets_and_refuses_the_rest_by_name() {
    let node = Node::start();
    let client = node.client().await;
    let port = host_of(&node)
        .rsplit_once(':')
        .expect("a port")
        .1
        .to_owned();

    // The root, on the host the client used: its stream URL used as given.
    let host = format!("localhost:{port}");
    let answer = http(&node, "GET", "/api/v1/", &host).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let root: ApiRoot = serde_json::from_str(&answer.body).expect("the root's JSON");
    assert_eq!(
        root.streams,
        format!("ws://localhost:{port}/api/v1/streams/valid_transactions")
    );
    assert_eq!(root.ws, format!("ws://localhost:{port}/"));
    let info = client.node_info().await.expect("node_info");
    assert_eq!(root.node.genesis_hash, info.genesis_hash);
    assert_eq!(
        (info.chain_id, info.evm_fork.as_str(), info.mode.as_str()),
        (1337, "osaka", "single")
    );
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.api, [1]);
    for extension in [
        "timings",
        "node_info",
        "peers",
        "account_transactions",
        "streams",
    ] {
        assert!(
            info.extensions.iter().any(|e| e == extension),
            "{extension}"
        );
    }
    assert!(client.peers().await.expect("peers").peers.is_empty());

    let mut stream = stream(&root.streams).await;
    let hashes = transfers(&client, address(3), 0, 2).await;
    let messages = next_messages(&mut stream, 2).await;
    let tip = client.last_block_info().await.expect("tip");
    for (message, hash) in messages.iter().zip(&hashes) {
        assert_eq!(message.transaction_id, *hash);
        assert_eq!(message.asset_id, info.genesis_hash, "the native coin");
        assert_eq!(
            (message.status_code, message.action_type as u8),
            (StatusCode::Success, 1)
        );
        assert_eq!(
            (message.from, message.to),
            (support::dev_key().address(), address(3))
        );
        assert!(message.height >= 1 && message.height <= tip.top_block_number);
    }
    let info_after = client.node_info().await.expect("node_info");
    assert_eq!(info_after.top_block_number, tip.top_block_number);

    // Metrics, where the README says.
    let metrics = http(&node, "GET", "/metrics", &host).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("application/openmetrics-text")));

    // What is not served is refused by name.
    let cases = [
        ("GET", "/nope", 404),
        ("GET", "/api/v2/", 404),
        ("POST", "/api/v1/", 405),
        ("GET", "/api/v1/streams/valid_transactions", 426),
    ];
    for (method, path, status) in cases {
        let answer = http(&node, method, path, &host).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        assert!(!answer.body.is_empty(), "{method} {path} says why");
    }
    // A browser on `/` gets the explorer page.
    let page = http(&node, "GET", "/", &host).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("<title>ledger explorer</title>"));
    // A WebSocket on an unknown path gets the 404 instead of the upgrade;
    // a stream with a bad filter gets 400 naming it.
    for (path, status) in [
        ("/nope".to_owned(), 404),
        (
            "/api/v1/streams/valid_transactions?action_type=9".to_owned(),
            400,
        ),
        (
            "/api/v1/streams/valid_transactions?address=xyz".to_owned(),
            400,
        ),
        (
            "/api/v1/streams/valid_transactions?colour=red".to_owned(),
            400,
        ),
    ] {
        let url = format!("{}{path}", node.url.trim_end_matches('/'));
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), status, "{path}");
            }
            other => panic!(
                "{path}: expected {status}, got {:?}",
                other.map(|_| "a socket")
            ),
        }
    }
    // The v1 API is still on `/`.
    assert_eq!(
        client
            .last_block_info()
            .await
            .expect("tip")
            .top_block_number,
        tip.top_block_number
    );
}

/// The init code of a contract whose code returns 42 for any call.
const RETURNS_42: &str = "600a600c600039600a6000f3602a60005260206000f3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_sees_every_transaction_once_in_order_and_filters_by_address_and_action() {
    let node = Node::start();
    let client = node.client().await;
    let url = stream_url(&node);
    let mut all = stream(&url).await;
    let mut to_7 = stream(&format!("{url}?address={}", address(7))).await;
    let mut creations = stream(&format!("{url}?action_type=3")).await;
    let mut calls = stream(&format!("{url}?action_type=2")).await;

    // Six blocks' worth: waves of transfers, each waited for, to two receivers.
    let mut first = Vec::new();
    for wave in 0..6u8 {
        let to = address(6 + wave % 2);
        first.extend(burst(&client, to, u32::from(wave) * 10, 10).await);
    }
    let seen = next_messages(&mut all, first.len()).await;
    assert_eq!(
        seen.iter().map(|m| m.transaction_id).collect::<Vec<_>>(),
        in_chain_order(&client, &first).await,
        "every transaction, once, in chain order"
    );
    assert!(seen.windows(2).all(|w| w[0].height <= w[1].height));
    let heights: HashSet<u64> = seen.iter().map(|m| m.height).collect();
    assert!(heights.len() >= 6, "across many blocks: {heights:?}");
    let sevens = next_messages(&mut to_7, 30).await;
    assert!(sevens.iter().all(|m| m.to == address(7)));

    // The consumer restarts: what was stored meanwhile is not replayed;
    // what comes after arrives once, in order.
    all.close(None).await.expect("closes");
    drop(all);
    let missed = transfers(&client, address(8), 100, 3).await;
    let mut all = stream(&url).await;
    let after = burst(&client, address(8), 200, 10).await;
    let seen = next_messages(&mut all, after.len()).await;
    let ids: Vec<Hash> = seen.iter().map(|m| m.transaction_id).collect();
    assert_eq!(ids, in_chain_order(&client, &after).await);
    assert!(missed.iter().all(|hash| !ids.contains(hash)));

    // A creation is its own asset; a call's asset is the creation.
    let creation = dev_tx(Address::NULL, 0, 200_000, hex_bytes(RETURNS_42), 300);
    let status = client
        .push_and_wait(&creation.to_raw())
        .await
        .expect("created");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let contract: Address = status.message.parse().expect("the contract's address");
    let call = dev_tx(contract, 0, 100_000, Vec::new(), 301);
    let status = client.push_and_wait(&call.to_raw()).await.expect("called");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let [created] = &next_messages(&mut creations, 1).await[..] else {
        unreachable!()
    };
    assert_eq!(
        (created.transaction_id, created.asset_id, created.to),
        (creation.hash(), creation.hash(), Address::NULL)
    );
    let [called] = &next_messages(&mut calls, 1).await[..] else {
        unreachable!()
    };
    assert_eq!(
        (called.transaction_id, called.asset_id, called.to),
        (call.hash(), creation.hash(), contract)
    );
    // Both also reached the unfiltered stream, after the transfers.
    let seen = next_messages(&mut all, 2).await;
    assert_eq!(seen[0].transaction_id, creation.hash());
    assert_eq!(seen[1].transaction_id, call.hash());
}

/// `hashes` sorted as the chain holds them (block, then index).
async fn in_chain_order(client: &ledger_ws::Client, hashes: &[Hash]) -> Vec<Hash> {
    let tip = client
        .last_block_info()
        .await
        .expect("tip")
        .top_block_number;
    let wanted: HashSet<Hash> = hashes.iter().copied().collect();
    let mut ordered = Vec::new();
    for depth in 1..=tip {
        let block = client
            .find_block(ledger_ws::protocol::BlockRef::Number(depth))
            .await
            .expect("block");
        for tx in block.transactions {
            let hash = ledger_core::Transaction::from_raw(&tx)
                .expect("a transaction")
                .hash();
            if wanted.contains(&hash) {
                ordered.push(hash);
            }
        }
    }
    assert_eq!(ordered.len(), hashes.len(), "all in the chain");
    ordered
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reader_that_does_not_read_is_disconnected_and_the_api_keeps_serving() {
    let node = Node::start_with(&["--stream-queue", "8", "--send-buffer-bytes", "65536"]);
    let client = node.client().await;
    let url = stream_url(&node);
    // A reader with a small receive window, so the node's queue is what fills.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let tcp = socket
        .connect(host_of(&node).parse().expect("address"))
        .await
        .expect("tcp");
    let (mut slow, _) = tokio_tungstenite::client_async(&url, tcp)
        .await
        .expect("the stream connects");

    let mut pushed = 0;
    let closed = loop {
        burst(&client, address(5), pushed, 100).await;
        pushed += 100;
        // The API answers while the stream is backed up.
        client.last_block_info().await.expect("the API serves");
        let metrics = scrape(&node).await;
        if metrics.value("ledger_ws_subscriptions", &[("kind", "stream")]) == Some(0.0) {
            break true;
        }
        // The queue (8) and a 64 KiB send buffer hold a few
        // hundred messages; the reader's 4 KiB window a few more.
        assert!(pushed < 3_000, "the slow reader was never disconnected");
    };
    assert!(closed);
    // What reaches the reader ends with the close, code 1008, naming why.
    let close = loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), slow.next())
            .await
            .expect("frames within 20 s");
        match frame {
            Some(Ok(Message::Close(close))) => break close,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.contains("too slow"), "{}", close.reason);
}

/// A scrape of `/metrics`, parsed as Prometheus text.
struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    /// The value of the sample `name` with `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .samples
            .iter()
            .find(|sample| {
                sample.metric == name
                    && labels
                        .iter()
                        .all(|(label, value)| sample.labels.get(label) == Some(*value))
            })
            .map(|sample| match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(ref buckets) => {
                    buckets.last().map_or(0.0, |bucket| bucket.count)
                }
                prometheus_parse::Value::Summary(_) => f64::NAN,
            })
    }
}

async fn scrape(node: &Node) -> Scrape {
    let answer = http(node, "GET", "/metrics", &host_of(node)).await;
    assert_eq!(answer.status, 200);
    let lines = answer.body.lines().map(|line| Ok(line.to_owned()));
    Scrape(prometheus_parse::Scrape::parse(lines).expect("Prometheus text"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_test_did() {
    let node = Node::start();
    let client = node.client().await;
    let watcher = node.client().await;
    let _blocks = watcher.subscribe_blocks().await.expect("subscribed");
    let url = stream_url(&node);
    let mut stream = stream(&url).await;
    transfers(&client, address(4), 0, 5).await;
    // The stream has seen them: it is surely counted.
    next_messages(&mut stream, 5).await;
    let tip = client
        .last_block_info()
        .await
        .expect("tip")
        .top_block_number;

    let metrics = scrape(&node).await;
    let value = |name: &str, labels: &[(&str, &str)]| {
        metrics
            .value(name, labels)
            .unwrap_or_else(|| panic!("{name} {labels:?} is reported"))
    };
    assert_eq!(
        value("ledger_transactions_total", &[("status", "success")]),
        5.0
    );
    assert_eq!(value("ledger_chain_height", &[]), tip as f64);
    // Every block after genesis was stored by this run.
    assert_eq!(value("ledger_blocks_total", &[]), tip as f64);
    assert_eq!(value("ledger_block_commit_seconds_count", &[]), tip as f64);
    assert_eq!(value("ledger_block_build_seconds_count", &[]), tip as f64);
    // The chain thread's own CPU time in building them (Linux tells it).
    if cfg!(target_os = "linux") {
        assert!(value("ledger_block_build_cpu_seconds_total", &[]) > 0.0);
    }
    assert_eq!(value("ledger_admission_seconds_count", &[]), 5.0);
    assert_eq!(value("ledger_mempool_transactions", &[]), 0.0);
    assert_eq!(value("ledger_mempool_bytes", &[]), 0.0);
    assert!(value("ledger_store_bytes_written_total", &[]) > 0.0);
    // Two v1 clients and one stream.
    assert_eq!(value("ledger_ws_connections", &[]), 3.0);
    assert_eq!(
        value("ledger_ws_subscriptions", &[("kind", "last_block_info")]),
        1.0
    );
    assert_eq!(value("ledger_ws_subscriptions", &[("kind", "stream")]), 1.0);
    assert_eq!(
        value("ledger_ws_subscriptions", &[("kind", "push_transaction")]),
        0.0
    );
    // The build, and the process as the kernel sees it: the node's own
    // memory and files, not a made-up number.
    assert_eq!(
        value(
            "ledger_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    if cfg!(target_os = "linux") {
        let rss = value("process_resident_memory_bytes", &[]);
        let kib = support::rss_kib(node.pid()) as f64;
        assert!(
            rss > 0.5 * kib * 1024.0 && rss < 2.0 * kib * 1024.0,
            "{rss} against {kib} KiB"
        );
        assert!(value("process_cpu_seconds_total", &[]) > 0.0);
        assert!(value("process_open_fds", &[]) >= 4.0);
        assert!(value("process_max_fds", &[]) >= value("process_open_fds", &[]));
        assert!(value("process_threads", &[]) >= 2.0);
        let started = value("process_start_time_seconds", &[]);
        let now = unix_nanos() as f64 / 1e9;
        assert!(started <= now + 1.0 && started > now - 600.0, "{started}");
    }
}

fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64
}

/// `exData`'s three stamps, checked to be ordered and within `window`.
fn stamps(answer: &Value, window: (u64, u64)) -> [u64; 3] {
    let ex = &answer["exData"];
    let stamps = ["beforeCreate", "created", "handled"].map(|name| {
        ex[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} in {answer}"))
    });
    assert!(
        window.0 <= stamps[0]
            && stamps[0] <= stamps[1]
            && stamps[1] <= stamps[2]
            && stamps[2] <= window.1,
        "{stamps:?} ordered within {window:?}"
    );
    stamps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timings_stamp_every_answer_and_notification_of_the_request_that_asks() {
    let node = Node::start();
    let mut raw = node.raw().await;
    let client = node.client().await;

    let start = unix_nanos();
    let mut call = request("call", "last_block_info", 1, json!({}));
    call["timings"] = json!(true);
    let answer = raw.request(call).await;
    stamps(&answer, (start, unix_nanos()));
    // Without timings, no exData.
    let answer = raw
        .request(request("call", "last_block_info", 2, json!({})))
        .await;
    assert!(answer.get("exData").is_none(), "{answer}");
    // timings of any other type than a boolean is invalid_request.
    for wrong in [json!(null), json!("yes"), json!(1)] {
        let mut call = request("call", "last_block_info", 3, json!({}));
        call["timings"] = wrong;
        assert_eq!(error_code(&raw.request(call).await), "invalid_request");
    }
    // An error answer is stamped too.
    let mut missing = request(
        "call",
        "find_transaction",
        4,
        json!({"hash": Hash([1; 32])}),
    );
    missing["timings"] = json!(true);
    let answer = raw.request(missing).await;
    assert_eq!(error_code(&answer), "not_found");
    stamps(&answer, (start, unix_nanos()));

    // A subscription's first message and its notifications.
    let mut subscribe = request("subscribe", "last_block_info", 5, json!({}));
    subscribe["timings"] = json!(true);
    let first = raw.request(subscribe).await;
    stamps(&first, (start, unix_nanos()));
    let depth = first["result"]["top_block_number"].as_u64().expect("depth");
    let pushed = unix_nanos();
    let tx = dev_transfer(address(2), 1, 1, 1);
    client.push_and_wait(&tx.to_raw()).await.expect("pushed");
    let note = raw.answer().await;
    assert_eq!(note["id"], 5);
    assert!(note["result"]["top_block_number"].as_u64() > Some(depth));
    let [stored, ..] = stamps(&note, (pushed, unix_nanos()));
    assert!(stored >= pushed, "its block was stored after the push");

    // A push: the Pending answer and the final status, both stamped.
    let before = unix_nanos();
    let tx = dev_transfer(address(2), 1, 1, 2);
    let mut push = request(
        "subscribe",
        "push_transaction",
        6,
        serde_json::to_value(tx.to_raw()).expect("json"),
    );
    push["timings"] = json!(true);
    raw.send_text(&push.to_string()).await;
    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        let message = raw.answer().await;
        if message["id"] == 6 {
            statuses.push(message);
        }
    }
    assert_eq!(statuses[0]["result"]["status_code"], 1, "Pending first");
    assert_eq!(statuses[1]["result"]["status_code"], 0);
    for status in &statuses {
        stamps(status, (before, unix_nanos()));
    }
}

/// A data directory with 10,000 transfers to `address(9)` in one block.
fn ten_thousand() -> tempfile::TempDir {
    let built = tempfile::tempdir().expect("temp dir");
    let spec = ChainSpec {
        to: address(9),
        small: 10_000,
        large: Vec::new(),
    };
    build_chain("chain_builder_child", &built.path().join("data"), &spec);
    built
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_ten_thousand_transactions_while_blocks_arrive_misses_and_repeats_none() {
    let built = ten_thousand();
    let node = Node::start_in(&built.path().join("data"), &[]).expect("starts");
    let client = node.client().await;
    let pusher = node.client().await;
    let history = address(9);
    let block = client
        .find_block(ledger_ws::protocol::BlockRef::Number(1))
        .await
        .expect("block 1");
    let expected: Vec<Hash> = block
        .transactions
        .iter()
        .rev()
        .map(|tx| ledger_core::Transaction::from_raw(tx).expect("tx").hash())
        .collect();
    assert_eq!(expected.len(), 10_000);

    // The first page is taken before anything new arrives; between every
    // two pages a new block adds transfers to the same account.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut newer = Vec::new();
    let mut n = 0;
    loop {
        let limit = if seen.is_empty() { 1000 } else { 999 };
        let page = client
            .account_transactions(&history, limit, cursor.as_deref())
            .await
            .expect("a page");
        assert!(page.transactions.len() <= limit);
        for item in &page.transactions {
            assert_eq!((item.block_number, item.direction.as_str()), (1, "in"));
        }
        seen.extend(page.transactions.iter().map(|item| item.hash));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        newer.extend(burst(&pusher, history, 50_000 + n, 3).await);
        n += 3;
    }
    assert_eq!(seen, expected, "every hash once, newest first");
    // The newest page now starts with what arrived meanwhile.
    let newest = client
        .account_transactions(&history, 1000, None)
        .await
        .expect("a page");
    let fresh: HashSet<Hash> = newest.transactions.iter().map(|item| item.hash).collect();
    assert!(newer.iter().all(|hash| fresh.contains(hash)));
    // A cursor of another account's history is refused by name.
    let mut raw = node.raw().await;
    let answer = raw
        .request(request(
            "call",
            "account_transactions",
            1,
            json!({"address": address(8), "cursor": newest.cursor}),
        ))
        .await;
    assert_eq!(error_code(&answer), "invalid_args");
    let answer = raw
        .request(request(
            "call",
            "account_transactions",
            2,
            json!({"address": history, "limit": 1001}),
        ))
        .await;
    assert_eq!(error_code(&answer), "invalid_args");
}

/// `relay_transactions`, the call validators forward client pushes with:
/// each transaction of the batch verified and admitted in order and
/// counted (admitted, known, refused), one answer for the batch; the
/// admitted one is applied; a batch that is empty, too long or holds a
/// malformed entry is refused as a whole, naming the problem.
#[tokio::test(flavor = "multi_thread")]
async fn relayed_transactions_are_admitted_and_counted_in_one_answer() {
    let node = Node::start();
    let client = node.client().await;
    let good = dev_transfer(address(61), 5, 1, 1);
    let mut forged = dev_transfer(address(61), 5, 1, 2);
    forged.amount = ledger_core::Balance::from(6);
    let batch = [good.to_raw(), forged.to_raw(), good.to_raw()];
    let relayed = client.relay_transactions(&batch).await.expect("answers");
    assert_eq!(
        relayed,
        ledger_ws::extensions::Relayed {
            admitted: 1,
            known: 1,
            refused: 1
        }
    );
    let hash = ledger_core::Sealable::seal(good).hash();
    let mut blocks = client.subscribe_blocks().await.expect("subscribes");
    while client
        .find_transaction_status(&hash)
        .await
        .map(|status| status.status_code)
        .ok()
        != Some(StatusCode::Success)
    {
        tokio::time::timeout(Duration::from_secs(30), blocks.next())
            .await
            .expect("a block within 30 s");
    }

    let mut raw = node.raw().await;
    let tx = serde_json::to_value(dev_transfer(address(61), 5, 1, 3).to_raw()).expect("json");
    for (transactions, problem) in [
        (json!([]), "between 1 and 1000"),
        (Value::Array(vec![tx.clone(); 1001]), "between 1 and 1000"),
        (json!([tx, {"from": 1}]), "malformed"),
        (json!("all of them"), "must be an array"),
    ] {
        let answer = raw
            .request(request(
                "call",
                "relay_transactions",
                7,
                json!({ "transactions": transactions }),
            ))
            .await;
        assert_eq!(error_code(&answer), "invalid_args", "{answer}");
        let message = answer["error"]["message"].as_str().expect("a message");
        assert!(message.contains(problem), "{message}");
    }
}

/// A node alone has no network's decisions, so serves no snapshot: both
/// snapshot calls answer `not_found` naming why, and malformed arguments
/// are named.
#[tokio::test]
async fn a_node_alone_serves_no_snapshot() {
    let node = Node::start();
    let mut raw = node.raw().await;
    let answer = raw
        .request(request("call", "state_snapshot", 1, json!({})))
        .await;
    assert_eq!(error_code(&answer), "not_found", "{answer}");
    let message = answer["error"]["message"].as_str().expect("a message");
    assert!(message.contains("runs alone"), "{message}");

    let answer = raw
        .request(request(
            "call",
            "state_snapshot_chunk",
            2,
            json!({"depth": 0, "index": 0}),
        ))
        .await;
    assert_eq!(error_code(&answer), "not_found", "{answer}");
    let message = answer["error"]["message"].as_str().expect("a message");
    assert!(message.contains("depth 0 is no longer held"), "{message}");

    for (args, problem) in [
        (json!({"index": 0}), "`depth` is missing"),
        (
            json!({"depth": -1, "index": 0}),
            "`depth` must be an integer",
        ),
        (
            json!({"depth": 0, "index": "0"}),
            "`index` must be an integer",
        ),
    ] {
        let answer = raw
            .request(request("call", "state_snapshot_chunk", 3, args))
            .await;
        assert_eq!(error_code(&answer), "invalid_args", "{answer}");
        let message = answer["error"]["message"].as_str().expect("a message");
        assert!(message.contains(problem), "{message}");
    }
}
