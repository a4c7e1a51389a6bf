//! The server's shutdown phases, driven in-process: while the node drains,
//! new requests get a clear error and what was already taken is answered;
//! once the chain has stopped, each connection delivers what it owes and
//! closes with 1001.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ledger_chain::{ChainHandle, ChainService, ManualClock, ProducerConfig};
use ledger_core::{Balance, ChainConfig, Genesis, Ledger, MemoryStore, StatusCode, Transaction};
use ledger_ws::{serve, Client, ErrorCode, Phase, ServerConfig, WsError};
use tokio::net::TcpListener;
use tokio::sync::watch;

struct Running {
    url: String,
    chain: ChainHandle<Arc<MemoryStore>>,
    producer: std::thread::JoinHandle<Result<(), ledger_core::CoreError>>,
    phase: watch::Sender<Phase>,
    server: tokio::task::JoinHandle<()>,
}

/// A node in this process on a clock that never moves: after the first
/// block, nothing is produced until the chain is told to drain.
async fn start() -> Running {
    let ledger = Ledger::open(
        Arc::new(MemoryStore::new()),
        Genesis::dev(),
        ChainConfig::default(),
    )
    .expect("opens");
    let config = ProducerConfig::new(Genesis::dev_key().address());
    let (chain, producer) =
        ChainService::spawn(ledger, config, ManualClock::new(1_800_000_000)).expect("spawns");
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
        producer,
        phase,
        server,
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
    let node = start().await;
    let client = Client::connect(&node.url).await.expect("connects");
    // The first push of an idle node gets a block at once; the second waits.
    client
        .push_and_wait(&transfer(0).to_raw())
        .await
        .expect("push");
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
    node.chain.shutdown().await;
    let producer = node.producer;
    tokio::task::spawn_blocking(move || producer.join())
        .await
        .expect("joins")
        .expect("no panic")
        .expect("no storage failure");
    node.phase.send(Phase::Stopped).expect("server runs");
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
