//! Hostile clients against the real binary (issue 11): malformed and
//! adversarial frames, a flood of subscriptions, connection churn, one
//! transaction from a hundred connections, and the two transactions that
//! share a preimage. After each, a normal client gets correct answers, no
//! value was created or lost, and the node's memory stays within
//! [`RSS_BOUND_KIB`].

mod support;

use futures_util::StreamExt;
use ledger_core::{Address, Balance, RawTransaction, StatusCode};
use serde_json::{json, Value};
use support::{address, check_supply, dev_key, dev_transfer, error_code, request, rss_kib, Node};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// The most resident memory a node may hold after any of these tests
/// (a debug build on the dev genesis holds ~30–60 MiB).
const RSS_BOUND_KIB: u64 = 512 << 10;

/// A normal client is served, the supply adds up over `holders`, and the
/// node's memory is within its bound.
async fn still_sound(node: &Node, holders: &[Address]) {
    let client = node.client().await;
    let tip = client
        .last_block_info()
        .await
        .expect("a normal client is answered");
    let block = client
        .find_block(ledger_ws::protocol::BlockRef::Number(tip.top_block_number))
        .await
        .expect("the top block");
    assert_eq!(block.depth, tip.top_block_number);
    check_supply(&client, holders).await;
    let rss = rss_kib(node.pid());
    assert!(rss < RSS_BOUND_KIB, "the node holds {rss} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_answered_by_name_and_the_connection_serves_on() {
    let node = Node::start();
    let mut raw = node.raw().await;

    // Nesting far past the JSON parser's depth limit.
    raw.send_text(&"[".repeat(100_000)).await;
    let answer = raw.answer().await;
    assert_eq!(error_code(&answer), "invalid_json", "{answer}");

    // Ids of every JSON type but an unsigned integer, and past u64.
    for id in [
        "-1",
        "1.5",
        "\"7\"",
        "null",
        "[]",
        "{}",
        "true",
        "18446744073709551616",
        "1e400",
    ] {
        raw.send_text(&format!(
            r#"{{"type":"call","name":"last_block_info","api":1,"id":{id}}}"#
        ))
        .await;
        let answer = raw.answer().await;
        assert_eq!(answer["status"], "error", "id {id}: {answer}");
        assert!(answer["id"].is_null(), "id {id}: {answer}");
        let code = error_code(&answer);
        assert!(
            code == "invalid_request" || code == "invalid_json",
            "id {id}: {answer}"
        );
    }
    let answer = raw
        .request(json!({"type": "call", "name": "last_block_info", "api": 1, "id": u64::MAX}))
        .await;
    assert_eq!(answer["status"], "ok", "the largest id is an id: {answer}");

    // Huge numbers where arguments are numbers.
    let answer = raw
        .request(request("call", "find_block", 1, json!({"number": 1e300})))
        .await;
    assert_eq!(error_code(&answer), "invalid_args", "{answer}");

    // Just under the 1 MiB request limit is answered; just over is refused.
    let frame = |padding: usize| {
        let mut call = request("call", "last_block_info", 2, json!({}));
        call["padding"] = json!("x".repeat(padding));
        call
    };
    let base = frame(0).to_string().len();
    let answer = raw.request(frame((1 << 20) - base)).await;
    assert_eq!(answer["status"], "ok", "exactly at the limit");
    let answer = raw.request(frame((1 << 20) - base + 1)).await;
    assert_eq!(error_code(&answer), "limit_exceeded", "{answer}");

    // A text frame that is not UTF-8, and a binary frame.
    raw.send(Message::Frame(Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        OpCode::Data(Data::Text),
        true,
    )))
    .await;
    assert_eq!(error_code(&raw.answer().await), "invalid_json");
    raw.send(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(error_code(&raw.answer().await), "invalid_json");

    // A request in three fragments with a ping between them: the ping is
    // answered at once, the request when it is whole.
    let text = request("call", "last_block_info", 3, json!({})).to_string();
    let (head, rest) = text.split_at(10);
    let (middle, tail) = rest.split_at(10);
    raw.send(Message::Frame(Frame::message(
        head.as_bytes().to_vec(),
        OpCode::Data(Data::Text),
        false,
    )))
    .await;
    raw.send(Message::Ping(vec![9, 9].into())).await;
    raw.send(Message::Frame(Frame::message(
        middle.as_bytes().to_vec(),
        OpCode::Data(Data::Continue),
        false,
    )))
    .await;
    raw.send(Message::Frame(Frame::message(
        tail.as_bytes().to_vec(),
        OpCode::Data(Data::Continue),
        true,
    )))
    .await;
    let mut ponged = false;
    let answer = loop {
        match raw.ws.next().await.expect("open").expect("a frame") {
            Message::Pong(payload) => {
                assert_eq!(&payload[..], [9, 9]);
                ponged = true;
            }
            Message::Text(text) => {
                break serde_json::from_str::<Value>(text.as_str()).expect("JSON")
            }
            _ => {}
        }
    };
    assert!(ponged, "the ping between fragments was answered first");
    assert_eq!(
        (answer["id"].as_u64(), answer["status"].as_str()),
        (Some(3), Some("ok"))
    );

    still_sound(&node, &[dev_key().address(), node.coinbase]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_subscriptions_on_one_connection_stop_at_the_limit() {
    let node = Node::start();
    let mut raw = node.raw().await;
    // All sent before any answer is read.
    for n in 0..10_000u32 {
        let mut who = [0u8; 20];
        who[..4].copy_from_slice(&n.to_be_bytes());
        let args = json!({"address": Address(who)});
        raw.send_text(&request("subscribe", "account_info", u64::from(n), args).to_string())
            .await;
    }
    let mut accepted = 0;
    for n in 0..10_000u64 {
        let answer = raw.answer().await;
        assert_eq!(answer["id"].as_u64(), Some(n), "answers in order: {answer}");
        if answer["status"] == "ok" {
            accepted += 1;
        } else {
            assert_eq!(error_code(&answer), "limit_exceeded", "{answer}");
        }
    }
    assert_eq!(accepted, 1024);
    // The connection itself still answers.
    let answer = raw
        .request(request("call", "last_block_info", 20_000, json!({})))
        .await;
    assert_eq!(answer["status"], "ok");
    still_sound(&node, &[dev_key().address(), node.coinbase]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_opened_and_dropped_leave_the_node_serving() {
    let node = Node::start();
    let node = &node;
    for _ in 0..20 {
        let batch = (0..100).map(|n| async move {
            let mut raw = node.raw().await;
            if n % 2 == 0 {
                // Half ask something and leave without reading the answer.
                raw.send_text(&request("call", "last_block_info", 1, json!({})).to_string())
                    .await;
            }
            drop(raw);
        });
        futures_util::future::join_all(batch).await;
    }
    // Plain TCP connections that never finish their HTTP request.
    let address = node.url.trim_start_matches("ws://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut tcp = tokio::net::TcpStream::connect(&address).await.expect("tcp");
        tokio::io::AsyncWriteExt::write_all(&mut tcp, b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("writes");
        idle.push(tcp);
    }
    still_sound(node, &[dev_key().address(), node.coinbase]).await;
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transaction_pushed_from_a_hundred_connections_is_applied_once() {
    let node = Node::start();
    let tx = dev_transfer(address(77), 500, 5, 1);
    let raw = tx.to_raw();
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(node.client().await);
    }
    let statuses =
        futures_util::future::join_all(clients.iter().map(|client| client.push_and_wait(&raw)))
            .await;
    for status in statuses {
        let status = status.expect("answered");
        assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    }
    let client = node.client().await;
    let receiver = client.account_info(&address(77)).await.expect("account");
    assert_eq!(receiver.balance, Balance::from(500), "applied once");
    assert_eq!(receiver.transaction_hashes, [tx.hash()]);
    let sender = client
        .account_info(&dev_key().address())
        .await
        .expect("account");
    assert_eq!(sender.nonce, 1);
    still_sound(&node, &[dev_key().address(), node.coinbase, address(77)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transactions_of_the_preimage_ambiguity_vector_apply_as_one() {
    let vectors: Value = serde_json::from_str(include_str!(
        "../crates/ledger-core/tests/vectors/format-notes.json"
    ))
    .expect("vectors");
    let ambiguity = &vectors["preimage_ambiguity"];
    let genesis_file = &vectors["blocks"][0]["genesis_file"];
    let dir = tempfile::tempdir().expect("temp dir");
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, genesis_file.to_string()).expect("writes the genesis");
    let node = Node::start_in(
        &dir.path().join("data"),
        &["--genesis", genesis.to_str().expect("UTF-8 path")],
    )
    .expect("starts");
    let a: RawTransaction = serde_json::from_value(ambiguity["tx_a"].clone()).expect("tx a");
    let b: RawTransaction = serde_json::from_value(ambiguity["tx_b"].clone()).expect("tx b");
    let (first, second) = (node.client().await, node.client().await);
    let (status_a, status_b) = tokio::join!(first.push_and_wait(&a), second.push_and_wait(&b));
    let (status_a, status_b) = (status_a.expect("answered"), status_b.expect("answered"));
    // One hash, one transaction: whichever came first is the one applied,
    // and both pushers are told its status.
    assert_eq!(status_a, status_b);
    assert_eq!(status_a.status_code, StatusCode::Success, "{status_a:?}");
    let client = node.client().await;
    let sender: Address = a.from.parse().expect("address");
    let receiver: Address = a.to.parse().expect("address");
    let after = client.account_info(&receiver).await.expect("account");
    let received = after
        .balance
        .checked_sub(Balance::from(1_000_000))
        .expect("the receiver's allocation is there");
    assert!(
        received == Balance::from(1) || received == Balance::from(12),
        "exactly one of the two moved value: {received:?}"
    );
    assert_eq!(after.transaction_hashes.len(), 1);
    assert_eq!(
        client.account_info(&sender).await.expect("account").nonce,
        1
    );
    let genesis = ledger_core::Genesis::from_json(&genesis_file.to_string()).expect("genesis");
    support::check_supply_of(&genesis, &client, &[sender, receiver, node.coinbase]).await;
    let rss = rss_kib(node.pid());
    assert!(rss < RSS_BOUND_KIB, "the node holds {rss} KiB");
}
