//! Answers and notifications of several megabytes: a block of near-1 MiB
//! transactions, an account with tens of thousands of transactions, and a
//! subscription to it. Each used to freeze the whole node (a write path
//! that retried a frame larger than tungstenite's 2 MiB write buffer
//! forever); each must be delivered whole, with the node serving others
//! and stopping cleanly afterwards. An answer over the connection's
//! outgoing bound is answered `limit_exceeded` instead.

mod support;

use std::path::Path;
use std::process::ExitStatus;
use std::sync::OnceLock;

use serde_json::{json, Value};
use support::{address, build_chain, error_code, pay, request, ChainSpec, Node};

/// The builder of the chain these tests read (see `support::build_chain`).
#[test]
fn chain_builder_child() {
    support::build_chain_child();
}

/// The size past which an answer froze the node.
const OLD_LIMIT: usize = 2 << 20;

/// Transactions a transfer's receiver collects before its `account_info`
/// passes [`OLD_LIMIT`] (~47 bytes per hash).
const MANY: u32 = 46_000;

/// Data carried by each of the newest block's transactions: a push of
/// this size is a frame of ~934 KB, under the 1 MiB request limit.
const LARGE_DATA: usize = 700_000;

/// A data directory holding the chain these tests read: built once, then
/// copied for each test (each node needs a directory of its own).
fn chain_copy() -> tempfile::TempDir {
    static BUILT: OnceLock<tempfile::TempDir> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let built = tempfile::tempdir().expect("temp dir");
        let spec = ChainSpec {
            to: address(9),
            small: MANY,
            large: vec![LARGE_DATA; 3],
        };
        build_chain("chain_builder_child", &built.path().join("data"), &spec);
        built
    });
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(&built.path().join("data"), &copy.path().join("data"));
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

async fn stop_with_sigint(mut node: Node) -> ExitStatus {
    tokio::task::spawn_blocking(move || node.signal("INT"))
        .await
        .expect("joins")
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_over_two_mib_are_delivered_and_the_node_stays_up() {
    let temp = chain_copy();
    let dir = temp.path().join("data");
    let node = Node::start_in(&dir, &[]).expect("starts");
    let mut raw = node.raw().await;

    // The head, as an explorer reads it: last_block_info, then find_block.
    let head = raw
        .request(request("call", "last_block_info", 1, json!({})))
        .await;
    let number = head["result"]["top_block_number"].clone();
    let hash = head["result"]["top_block_hash"].clone();
    for (id, by) in [
        (2, json!({ "number": number })),
        (3, json!({ "hash": hash })),
    ] {
        let (answer, size) = raw
            .request_sized(request("call", "find_block", id, by))
            .await;
        assert!(size > OLD_LIMIT, "{size} bytes");
        let transactions = answer["result"]["transactions"].as_array().expect("list");
        assert_eq!(transactions.len(), 3);
        for tx in transactions {
            let data = tx["data"].as_str().expect("data");
            assert_eq!(data.len(), LARGE_DATA.div_ceil(3) * 4);
        }
    }

    // An account with more hashes than fit in the old limit.
    let to = address(9).to_string();
    let (answer, size) = raw
        .request_sized(request("call", "account_info", 4, json!({ "address": to })))
        .await;
    assert!(size > OLD_LIMIT, "{size} bytes");
    let hashes = |answer: &Value| {
        answer["result"]["transaction_hashes"]
            .as_array()
            .map(Vec::len)
    };
    assert_eq!(hashes(&answer), Some(MANY as usize + 3));

    // A subscription to it: its first message and the notification after
    // one more transfer are as large.
    let (first, size) = raw
        .request_sized(request(
            "subscribe",
            "account_info",
            5,
            json!({ "address": to }),
        ))
        .await;
    assert!(size > OLD_LIMIT, "{size} bytes");
    assert_eq!(hashes(&first), Some(MANY as usize + 3));
    let client = node.client().await;
    // Timestamps past the builder's, so this is a new transaction.
    pay(&client, address(9), 1, 0, 1_000_000).await;
    let text = raw.answer_text().await;
    let notification: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(notification["id"], 5);
    assert!(text.len() > OLD_LIMIT, "{} bytes", text.len());
    assert_eq!(hashes(&notification), Some(MANY as usize + 4));

    // The same connection and a new one are still served.
    let again = raw
        .request(request("call", "last_block_info", 6, json!({})))
        .await;
    assert_eq!(again["status"], "ok", "{again}");
    let other = node.client().await;
    assert!(other.last_block_info().await.is_ok());

    drop((raw, client, other));
    assert_eq!(stop_with_sigint(node).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_over_the_outgoing_bound_is_refused_by_name() {
    let temp = chain_copy();
    let dir = temp.path().join("data");
    let node = Node::start_in(&dir, &["--max-outgoing-bytes", "1000000"]).expect("starts");
    let mut raw = node.raw().await;
    let head = raw
        .request(request("call", "last_block_info", 1, json!({})))
        .await;
    let number = head["result"]["top_block_number"].clone();
    let answer = raw
        .request(request(
            "call",
            "find_block",
            2,
            json!({ "number": number }),
        ))
        .await;
    assert_eq!(error_code(&answer), "limit_exceeded");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(message.contains("1000000 bytes"), "{message}");
    // Smaller answers on the same connection are still delivered.
    let answer = raw
        .request(request("call", "find_block", 3, json!({ "number": 0 })))
        .await;
    assert_eq!(answer["status"], "ok", "{answer}");
    drop(raw);
    assert_eq!(stop_with_sigint(node).await.code(), Some(0));
}
