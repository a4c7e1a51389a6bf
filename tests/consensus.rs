//! Four `ledger-node` processes as validators of one network on loopback
//! (issue 14): they decide the same blocks, a transfer pushed to them
//! reaches its final status through the likelib API, and a validator
//! killed with SIGKILL catches up on restart from its peers (Malachite's
//! value sync serving the stored blocks and certificates).
//!
//! Real processes, real sockets and real consensus timeouts: every wait is
//! on an answer or a block, bounded, never a sleep.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use ledger_consensus::{ValidatorEntry, ValidatorKey, ValidatorsFile};
use ledger_core::{Balance, StatusCode};
use ledger_ws::protocol::BlockRef;
use support::{address, dev_transfer, Node};

const VALIDATORS: usize = 4;

fn free_ports(count: usize) -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binds"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("an address"))
        .collect()
}

/// Writes the validators file and each validator's key; the options each
/// node runs with.
fn network_in(dir: &Path) -> Vec<Vec<String>> {
    let ports = free_ports(VALIDATORS);
    let keys: Vec<ValidatorKey> = (0..VALIDATORS)
        .map(|i| ValidatorKey::from_bytes([i as u8 + 1; 32]))
        .collect();
    let file = ValidatorsFile::from_entries(
        keys.iter()
            .zip(&ports)
            .map(|(key, port)| ValidatorEntry {
                public_key: hex::encode(key.public_key().as_bytes()),
                power: 1,
                p2p: Some(port.to_string()),
            })
            .collect(),
    )
    .expect("valid");
    let validators = dir.join("validators.json");
    std::fs::write(&validators, file.to_json()).expect("writes");
    keys.iter()
        .zip(&ports)
        .enumerate()
        .map(|(i, (key, port))| {
            let key_file = dir.join(format!("validator-{i}.key"));
            key.save(&key_file).expect("saves");
            vec![
                "--validators".into(),
                validators.display().to_string(),
                "--validator-key".into(),
                key_file.display().to_string(),
                "--p2p".into(),
                port.to_string(),
            ]
        })
        .collect()
}

fn start(dir: &Path, i: usize, options: &[String]) -> Node {
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    Node::start_in(&dir.join(format!("node-{i}")), &options).expect("the validator starts")
}

/// Pushes `tx` to every node in `nodes` at once and waits for each final
/// status (until mempool gossip exists, a client pushes to all).
async fn push_everywhere(nodes: &[&Node], tx: &ledger_core::Transaction) {
    let raw = tx.to_raw();
    let mut waits = Vec::new();
    for node in nodes {
        let client = node.client().await;
        let raw = raw.clone();
        waits.push(tokio::spawn(async move {
            client.push_and_wait(&raw).await.expect("a final status")
        }));
    }
    for wait in waits {
        let status = tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .expect("final within a minute")
            .expect("joins");
        assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    }
}

/// Every node of `nodes` has the same block at every depth up to the
/// first's top, and the same balance of `to`.
async fn same_chain(nodes: &[&Node], to: ledger_core::Address) {
    let first = nodes[0].client().await;
    let top = first.last_block_info().await.expect("answers");
    for node in &nodes[1..] {
        let client = node.client().await;
        for depth in 1..=top.top_block_number {
            let expected = first
                .find_block(BlockRef::Number(depth))
                .await
                .expect("a block");
            let block = client
                .find_block(BlockRef::Number(depth))
                .await
                .expect("a block");
            assert_eq!(block, expected, "block {depth}");
        }
        assert_eq!(
            client.account_info(&to).await.expect("answers").balance,
            first.account_info(&to).await.expect("answers").balance
        );
    }
}

/// Waits until `node`'s top block is at least `depth`.
async fn until_depth(node: &Node, depth: u64) {
    let client = node.client().await;
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let mut blocks = client.subscribe_blocks().await.expect("subscribes");
            if client
                .last_block_info()
                .await
                .expect("answers")
                .top_block_number
                >= depth
            {
                return;
            }
            let _ = blocks.next().await;
        }
    })
    .await
    .expect("caught up within a minute");
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validator_processes_decide_and_a_killed_one_catches_up() {
    let temp = tempfile::tempdir().expect("a directory");
    let dir = temp.path();
    let options = network_in(dir);
    let mut nodes: Vec<Node> = (0..VALIDATORS)
        .map(|i| start(dir, i, &options[i]))
        .collect();
    for node in &nodes {
        let info = node.client().await.node_info().await.expect("answers");
        assert_eq!(info.mode, "validator");
    }

    let to = address(42);
    let all: Vec<&Node> = nodes.iter().collect();
    push_everywhere(&all, &dev_transfer(to, 100, 1, 1)).await;
    same_chain(&all, to).await;

    // SIGKILL one; the three left still decide.
    let mut killed = nodes.pop().expect("four");
    killed.signal("KILL");
    let rest: Vec<&Node> = nodes.iter().collect();
    push_everywhere(&rest, &dev_transfer(to, 100, 1, 2)).await;
    push_everywhere(&rest, &dev_transfer(to, 100, 1, 3)).await;
    same_chain(&rest, to).await;

    // Restarted on its data directory, it syncs what it missed.
    let restarted = start(dir, VALIDATORS - 1, &options[VALIDATORS - 1]);
    let top = nodes[0]
        .client()
        .await
        .last_block_info()
        .await
        .expect("answers")
        .top_block_number;
    until_depth(&restarted, top).await;
    nodes.push(restarted);
    let all: Vec<&Node> = nodes.iter().collect();
    same_chain(&all, to).await;
    let balance = nodes[3]
        .client()
        .await
        .account_info(&to)
        .await
        .expect("answers")
        .balance;
    assert_eq!(balance, Balance::from(300));
}
