//! The server driven in-process, on a chain whose clock never moves: what
//! depends on block timing against the real binary is deterministic here.
//! The shutdown phases (while the node drains, new requests get a clear
//! error and what was already taken is answered; once the chain has
//! stopped, each connection delivers what it owes and closes with 1001),
//! and a full mempool.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ledger_chain::{ChainHandle, ChainService, ManualClock, ProducerConfig};
use ledger_core::{Balance, ChainConfig, Genesis, Ledger, MemoryStore, StatusCode, Transaction};
use ledger_ws::{serve, Client, ErrorCode, Phase, ServerConfig, WsError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite;

struct Running {
    url: String,
    chain: ChainHandle<Arc<MemoryStore>>,
    producer: Option<ledger_chain::ServiceThread>,
    phase: watch::Sender<Phase>,
    server: tokio::task::JoinHandle<()>,
}

/// A node in this process on a clock that never moves: after the first
/// block, nothing is produced until the chain is told to drain (or a
/// block's worth is pending).
async fn start() -> Running {
    start_with(ChainConfig::default()).await
}

async fn start_with(config: ChainConfig) -> Running {
    let ledger = Ledger::open(Arc::new(MemoryStore::new()), Genesis::dev(), config).expect("opens");
    let producer_config = ProducerConfig::new(Genesis::dev_key().address());
    let (chain, producer) =
        ChainService::spawn(ledger, producer_config, ManualClock::new(1_800_000_000))
            .expect("spawns");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("ws://{}", listener.local_addr().expect("address"));
    let (phase, phases) = watch::channel(Phase::Running);
    let server = tokio::spawn(serve(
        listener,
        chain.clone(),
        ServerConfig::default(),
        phases,
    ));
    Running {
        url,
        chain,
        producer: Some(producer),
        phase,
        server,
    }
}

impl Running {
    /// A client, once the first push of the idle chain has its block (at
    /// once); from then on the clock stands still and pushes stay pending.
    async fn client_after_first_block(&self) -> Client {
        let client = Client::connect(&self.url).await.expect("connects");
        client
            .push_and_wait(&transfer(0).to_raw())
            .await
            .expect("push");
        client
    }

    /// Stops as the node does: draining (new requests refused), the chain
    /// turns what is pending into blocks and stops, then `Stopped`.
    async fn drain_and_stop(&mut self) {
        self.phase.send_replace(Phase::Draining);
        self.chain.shutdown().await;
        let producer = self.producer.take().expect("running");
        tokio::task::spawn_blocking(move || producer.join())
            .await
            .expect("joins")
            .expect("no panic")
            .expect("no storage failure");
        self.phase.send_replace(Phase::Stopped);
    }
}

fn transfer(n: u32) -> Transaction {
    Transaction::signed(
        &Genesis::dev_key(),
        ledger_core::Address([4; 20]),
        Balance::from(1),
        0,
        1_800_000_000 + n,
        Vec::new(),
    )
}

#[tokio::test]
async fn draining_refuses_new_requests_and_finishes_what_was_taken() {
    let mut node = start().await;
    // The first push of an idle node gets a block at once; the second waits.
    let client = node.client_after_first_block().await;
    let mut pending = client
        .push_transaction(&transfer(1).to_raw())
        .await
        .expect("push");
    let first = pending.next().await.expect("status").expect("status");
    assert_eq!(first.status_code, StatusCode::Pending);

    node.phase.send(Phase::Draining).expect("server runs");
    let refused = client.last_block_info().await.expect_err("refused");
    let WsError::Api(refused) = refused else {
        panic!("an error answer, got {refused}");
    };
    assert_eq!(refused.code, ErrorCode::Internal);
    assert!(refused.message.contains("shutting down"), "{refused:?}");
    // No new connections either.
    assert!(Client::connect(&node.url).await.is_err());

    // The chain drains what is pending into a block, then stops.
    node.drain_and_stop().await;
    let last = pending.next().await.expect("final status").expect("status");
    assert_eq!(last.status_code, StatusCode::Success);
    assert!(
        pending.next().await.is_none(),
        "the push ends after its final status"
    );
    // Every connection closes, and the server returns.
    tokio::time::timeout(Duration::from_secs(10), node.server)
        .await
        .expect("the server stops")
        .expect("no panic");
}

/// A stream reader at shutdown gets the transactions of the blocks the
/// node drains into, then a 1001 close.
#[tokio::test]
async fn a_stream_reader_gets_the_drained_blocks_then_a_close_at_shutdown() {
    let mut node = start().await;
    let client = node.client_after_first_block().await;
    let (mut stream, _) =
        tokio_tungstenite::connect_async(format!("{}/api/v1/streams/valid_transactions", node.url))
            .await
            .expect("the stream connects");
    let pending = transfer(1);
    let mut push = client
        .push_transaction(&pending.to_raw())
        .await
        .expect("push");
    let first = push.next().await.expect("status").expect("status");
    assert_eq!(first.status_code, StatusCode::Pending);

    node.drain_and_stop().await;
    let mut messages = Vec::new();
    let close = loop {
        match stream.next().await.expect("a frame").expect("a frame") {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                let message: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                messages.push(message["transaction_id"].as_str().expect("id").to_owned());
            }
            tokio_tungstenite::tungstenite::Message::Close(close) => break close,
            _ => {}
        }
    };
    // The first push's final status may have come from the store before
    // its block was announced (the block is stored on its own thread and
    // announced once the chain thread hears of it): then the stream, which
    // starts with the next announcement, carries that block too.
    let first_block = transfer(0).hash().to_string();
    let drained = pending.hash().to_string();
    assert!(
        messages == [drained.clone()] || messages == [first_block, drained],
        "{messages:?}"
    );
    assert_eq!(u16::from(close.expect("a code").code), 1001);
}

#[tokio::test]
async fn a_full_mempool_is_answered_limit_exceeded_by_name() {
    let mut node = start_with(ChainConfig {
        max_pending: 2,
        ..ChainConfig::default()
    })
    .await;
    // The first push of an idle chain gets a block at once; then the clock
    // stands still, so two fill the mempool and the third overflows it.
    let client = node.client_after_first_block().await;
    let mut waiting = Vec::new();
    for n in 1..=2 {
        let mut statuses = client
            .push_transaction(&transfer(n).to_raw())
            .await
            .expect("push");
        let first = statuses.next().await.expect("status").expect("status");
        assert_eq!(first.status_code, StatusCode::Pending);
        waiting.push(statuses);
    }
    let mut refused = client
        .push_transaction(&transfer(3).to_raw())
        .await
        .expect("push");
    match refused.next().await {
        Some(Err(WsError::Api(error))) => {
            assert_eq!(error.code, ErrorCode::LimitExceeded, "{error:?}");
            assert!(error.message.contains("mempool is full"), "{error:?}");
        }
        other => panic!("expected limit_exceeded, got {other:?}"),
    }
    // The connection and the pending pushes are unharmed: shutdown applies them.
    node.drain_and_stop().await;
    for mut statuses in waiting {
        let last = statuses.next().await.expect("final").expect("status");
        assert_eq!(last.status_code, StatusCode::Success);
    }
}

#[tokio::test]
async fn a_websocket_on_another_path_is_refused_with_404_and_the_root_still_works() {
    let node = start().await;
    match tokio_tungstenite::connect_async(format!("{}/elsewhere", node.url)).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            assert!(body.contains("/elsewhere"), "{body}");
        }
        other => panic!("expected a 404, got {:?}", other.map(|_| "a connection")),
    }
    let client = Client::connect(&node.url).await.expect("connects at /");
    assert!(client.last_block_info().await.is_ok());
}

#[tokio::test]
async fn a_push_a_block_from_elsewhere_leaves_uncovered_gets_its_final_status() {
    use ledger_chain::Chain;
    use ledger_core::{Address, StateRead};

    let mut node = start().await;
    // Block 1 comes at once (idle); the second push stays pending.
    let client = node.client_after_first_block().await;
    let dev = Genesis::dev_key();
    let balance = node
        .chain
        .state()
        .account_or_default(&dev.address())
        .expect("reads")
        .balance;
    let mut pending = client
        .push_transaction(&transfer(1).to_raw())
        .await
        .expect("push");
    let first = pending.next().await.expect("status").expect("status");
    assert_eq!(first.status_code, StatusCode::Pending);

    // A peer on the same chain spends the whole balance in block 2.
    let mut peer =
        Ledger::open(MemoryStore::new(), Genesis::dev(), ChainConfig::default()).expect("opens");
    let block1 = node
        .chain
        .state()
        .block_at(1)
        .expect("reads")
        .expect("block 1");
    peer.import_block(block1.into_inner())
        .expect("the peer follows");
    let spend_all = Transaction::signed(&dev, Address([6; 20]), balance, 0, 1_900_000_000, vec![]);
    assert_eq!(
        peer.push(&spend_all.to_raw()).expect("push").status_code,
        StatusCode::Pending
    );
    let block2 = peer
        .produce_block(1_900_000_000, Address([8; 20]))
        .expect("produces")
        .expect("a block")
        .block;
    node.chain
        .import_block(block2.into_inner())
        .await
        .expect("imports");

    // The pusher hears its final status: dropped, never applied.
    let last = pending.next().await.expect("final status").expect("status");
    assert_eq!(last.status_code, StatusCode::NotEnoughBalance, "{last:?}");
    assert!(pending.next().await.is_none(), "the push is over");
    node.drain_and_stop().await;
}

/// A TCP connection to `path` at `url` that has done the WebSocket
/// handshake and nothing else: it reads raw bytes, so it never answers a
/// ping.
async fn raw_handshake(url: &str, path: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = url.trim_start_matches("ws://");
    let mut tcp = tokio::net::TcpStream::connect(address).await.expect("tcp");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        tcp.read_exact(&mut byte).await.expect("handshake answer");
        head.push(byte[0]);
    }
    tcp
}

/// On paused time, the node's real 30 s ping interval and 30 s pong
/// timeout run instantly: a silent connection is pinged, then closed with
/// 1001, and none of it waits on the wall clock.
#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_pinged_then_closed_on_the_nodes_own_timers() {
    silent_connection_is_pinged_then_closed("/").await;
}

/// The same keep-alive on the valid-transactions stream.
#[tokio::test(start_paused = true)]
async fn a_silent_stream_reader_is_pinged_then_closed_on_the_nodes_own_timers() {
    silent_connection_is_pinged_then_closed("/api/v1/streams/valid_transactions").await;
}

async fn silent_connection_is_pinged_then_closed(path: &str) {
    use tokio::io::AsyncReadExt;
    let mut node = start().await;
    let started = tokio::time::Instant::now();
    let mut silent = raw_handshake(&node.url, path).await;
    let mut ping = [0u8; 2];
    silent.read_exact(&mut ping).await.expect("a ping");
    assert_eq!(ping, [0x89, 0x00]);
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let mut head = [0u8; 2];
    silent.read_exact(&mut head).await.expect("a close frame");
    assert_eq!(head[0], 0x88);
    let mut body = vec![0u8; usize::from(head[1])];
    silent.read_exact(&mut body).await.expect("its body");
    assert_eq!(u16::from_be_bytes([body[0], body[1]]), 1001);
    assert!(
        started.elapsed() >= Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    node.drain_and_stop().await;
}

/// Pushes read in one go have their signatures checked together (on every
/// core); each is still answered as if alone, and the answers that need
/// no chain keep the order of their frames, a binary frame's included.
#[tokio::test]
async fn a_burst_of_pushes_is_answered_push_by_push_in_frame_order() {
    use futures_util::SinkExt;
    use serde_json::{json, Value};
    use tungstenite::Message;

    let node = start().await;
    // The first block, so the pushes below stay pending (the clock stands).
    drop(node.client_after_first_block().await);
    let (mut socket, _) = tokio_tungstenite::connect_async(&node.url)
        .await
        .expect("connects");
    let push = |id: u64, n: u32, forged: bool| {
        let mut raw = transfer(n).to_raw();
        if forged {
            raw.amount = "2".into();
        }
        json!({"type": "subscribe", "name": "push_transaction", "api": 1, "id": id, "args": raw})
    };
    let mut frames = vec![push(1, 100, true)];
    frames.extend((2..=11).map(|id| push(id, 100 + id as u32, false)));
    frames.push(json!({"type": "call", "name": "last_block_info", "api": 1, "id": 12}));
    frames.push(push(13, 113, true));
    // Written in one go, so the node reads them as one burst.
    for frame in frames {
        socket
            .feed(Message::text(frame.to_string()))
            .await
            .expect("queues");
    }
    socket
        .feed(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("queues");
    socket
        .feed(Message::text(push(14, 114, false).to_string()))
        .await
        .expect("queues");
    socket.flush().await.expect("sends");

    // Every request answered once: forged pushes as badly signed, the
    // others Pending; the answers that need no chain in frame order.
    let mut order = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    while statuses.len() < 13 || !order.contains(&Value::Null) {
        let answer: Value = loop {
            match socket.next().await.expect("open").expect("a frame") {
                Message::Text(text) => break serde_json::from_str(text.as_str()).expect("JSON"),
                _ => continue,
            }
        };
        let id = answer["id"].clone();
        if let Some(code) = answer["result"]["status_code"].as_u64() {
            assert!(statuses.insert(id.as_u64().expect("an id"), code).is_none());
        }
        if id != 12 && answer.get("error").is_none() && answer["result"]["status_code"] == 1 {
            continue; // Pending: answered when the chain admits it
        }
        order.push(id);
    }
    assert_eq!(order, [json!(1), json!(12), json!(13), Value::Null]);
    for (id, code) in statuses {
        let expected = if id == 1 || id == 13 {
            StatusCode::BadSign
        } else {
            StatusCode::Pending
        };
        assert_eq!(code, expected as u64, "push {id}");
    }
}
