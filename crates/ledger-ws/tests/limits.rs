//! The server's documented limits, against a chain that is a test double
//! behind the `Chain` trait: it never answers, and its block events are
//! sent by the test, so each limit is reached exactly, every run.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use ledger_chain::{BlockEvent, Chain, ChainError, ChainMetrics};
use ledger_core::{
    Address, Admission, ChainConfig, Genesis, Hash, Ledger, MemoryStore, Transaction,
    VerifiedTransaction, ViewCall, ViewOutcome,
};
use ledger_ws::{serve, Phase, ServerConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Message;

/// A chain that reads from a real store but never answers a request, and
/// whose block events the test sends.
#[derive(Clone)]
struct Silent {
    state: Arc<MemoryStore>,
    events: broadcast::Sender<Arc<BlockEvent>>,
    metrics: ChainMetrics,
}

impl Chain for Silent {
    type State = Arc<MemoryStore>;

    fn state(&self) -> &Arc<MemoryStore> {
        &self.state
    }

    async fn admit(&self, _: VerifiedTransaction) -> Result<Admission, ChainError> {
        std::future::pending().await
    }

    async fn is_pending(&self, _: Hash) -> Result<bool, ChainError> {
        std::future::pending().await
    }

    async fn view_call(&self, _: ViewCall) -> Result<ViewOutcome, ChainError> {
        std::future::pending().await
    }

    async fn estimate_fee(
        &self,
        _: ledger_core::FeeRequest,
    ) -> Result<ledger_core::FeeEstimate, ChainError> {
        std::future::pending().await
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>> {
        self.events.subscribe()
    }

    fn metrics(&self) -> &ChainMetrics {
        &self.metrics
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server on a `Silent` chain whose events lag after `backlog`, and a
/// connection to it.
async fn start(backlog: usize) -> (Socket, Silent, watch::Sender<Phase>) {
    let (url, chain, phase) = serve_with(backlog, ServerConfig::default()).await;
    let (socket, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("connects");
    (socket, chain, phase)
}

/// A server on a `Silent` chain with `config`; its URL.
async fn serve_with(
    backlog: usize,
    config: ServerConfig,
) -> (String, Silent, watch::Sender<Phase>) {
    let state = Arc::new(MemoryStore::new());
    Ledger::open(state.clone(), Genesis::dev(), ChainConfig::default()).expect("genesis");
    let (events, _) = broadcast::channel(backlog);
    let chain = Silent {
        state,
        events,
        metrics: ChainMetrics::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("ws://{}", listener.local_addr().expect("address"));
    let (phase, phases) = watch::channel(Phase::Running);
    tokio::spawn(serve(listener, chain.clone(), config, phases));
    (url, chain, phase)
}

async fn next_text(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await.expect("open").expect("a frame") {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
            Message::Close(close) => panic!("closed: {close:?}"),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn the_1025th_request_waiting_on_the_chain_is_limit_exceeded() {
    let (mut socket, _chain, _phase) = start(16).await;
    let limit = ServerConfig::default().max_in_flight;
    // Status lookups of unknown hashes wait on the chain, which never answers.
    for id in 0..=limit as u64 {
        let hash = Hash([(id % 251) as u8; 32]);
        let mut bytes = hash.0;
        bytes[..8].copy_from_slice(&id.to_be_bytes());
        let request = json!({
            "type": "call", "name": "find_transaction_status", "api": 1, "id": id,
            "args": {"hash": Hash(bytes)},
        });
        socket
            .send(Message::text(request.to_string()))
            .await
            .expect("sends");
    }
    let answer = next_text(&mut socket).await;
    assert_eq!(
        answer["id"], limit as u64,
        "only the one over the limit is answered: {answer}"
    );
    assert_eq!(answer["error"]["code"], "limit_exceeded", "{answer}");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(message.contains(&format!("{limit} requests")), "{message}");
    // The connection still answers what needs no chain.
    let request = json!({"type": "call", "name": "last_block_info", "api": 1, "id": 5000});
    socket
        .send(Message::text(request.to_string()))
        .await
        .expect("sends");
    assert_eq!(next_text(&mut socket).await["id"], 5000);
}

#[tokio::test]
async fn a_connection_that_falls_1024_blocks_behind_is_closed_as_too_slow() {
    let backlog = 1024;
    let (mut socket, chain, _phase) = start(backlog).await;
    // A real block event, announced far more often than the connection
    // can take its turn: this test's task does not yield while it sends.
    let keys = ledger_core::testing::keys(2, 3);
    let mut ledger = Ledger::open(
        MemoryStore::new(),
        ledger_core::testing::genesis_for(&keys),
        ChainConfig::default(),
    )
    .expect("opens");
    let tx = Transaction::signed(
        &keys[0],
        Address([1; 20]),
        1.into(),
        0,
        1_700_000_001,
        vec![],
    );
    ledger.push(&tx.to_raw()).expect("pushes");
    let changes = ledger
        .produce_block(1_700_000_001, Address([9; 20]))
        .expect("produces")
        .expect("a block");
    let event = Arc::new(BlockEvent::of(&changes, Vec::new(), 0));
    for _ in 0..backlog + 100 {
        chain
            .events
            .send(event.clone())
            .expect("the connection listens");
    }
    let close = loop {
        match socket.next().await.expect("open").expect("a frame") {
            Message::Close(close) => break close.expect("a close frame"),
            _ => continue,
        }
    };
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    assert!(close.reason.as_str().contains("too slow"), "{close:?}");
    assert!(
        close
            .reason
            .as_str()
            .contains("100 block notifications behind"),
        "{close:?}"
    );
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_and_room_comes_back() {
    let config = ServerConfig {
        max_connections: 3,
        ..ServerConfig::default()
    };
    let (url, _chain, _phase) = serve_with(16, config).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(
            tokio_tungstenite::connect_async(&url)
                .await
                .expect("connects")
                .0,
        );
    }
    assert!(
        tokio_tungstenite::connect_async(&url).await.is_err(),
        "the fourth is refused"
    );
    // One leaves; its place is free again once the server has seen it go.
    let mut leaving = open.pop().expect("one");
    leaving.close(None).await.expect("closes");
    while leaving.next().await.is_some() {}
    let mut attempts = 0;
    let again = loop {
        match tokio_tungstenite::connect_async(&url).await {
            Ok((socket, _)) => break socket,
            // The server reaps the closed connection's task when it next
            // looks; each refused attempt gives it that turn.
            Err(error) => {
                attempts += 1;
                assert!(attempts < 100, "no room came back: {error}");
                tokio::task::yield_now().await;
            }
        }
    };
    drop((open, again));
}
