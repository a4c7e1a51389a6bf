//! End-to-end tests: the real `ledger-node` binary on a free port with a
//! temporary data directory, driven over a real WebSocket.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ledger_core::{
    Address, Balance, Hash, RawTransaction, Sealable, SecretKey, StatusCode, Transaction, ViewCall,
};
use ledger_ws::protocol::BlockRef;
use ledger_ws::{ErrorCode, WsError};
use serde_json::{json, Value};
use support::{
    address, dev_key, dev_transfer, dev_tx, error_code, fresh_address, pay, request, Node,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

const DEV_BALANCE: &str = "1000000000000000000000000000000";

fn api_code(error: WsError) -> ErrorCode {
    match error {
        WsError::Api(error) => error.code,
        other => panic!("expected an error answer, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_answers_on_a_fresh_chain() {
    let node = Node::start();
    let client = node.client().await;

    let top = client.last_block_info().await.expect("last_block_info");
    assert_eq!(top.top_block_number, 0);

    let genesis = client
        .find_block(BlockRef::Number(0))
        .await
        .expect("genesis");
    assert_eq!(genesis.depth, 0);
    assert_eq!(genesis.previous_block_hash, Hash::ZERO);
    assert_eq!(genesis.coinbase, Address::NULL);
    assert_eq!(genesis.transactions.len(), 1);
    assert_eq!(
        genesis.transactions[0].sign, "",
        "genesis allocations are unsigned"
    );
    let by_hash = client
        .find_block(BlockRef::Hash(top.top_block_hash))
        .await
        .expect("by hash");
    assert_eq!(by_hash, genesis);

    let dev = dev_key().address();
    let account = client.account_info(&dev).await.expect("account_info");
    assert_eq!(account.balance.to_string(), DEV_BALANCE);
    assert_eq!(account.nonce, 0);

    // Genesis allocations are unsigned (`""`); their hash does not cover the signature.
    let unsigned = RawTransaction {
        sign: ledger_core::encode_base64(&[0; 65]),
        ..genesis.transactions[0].clone()
    };
    let allocation = Transaction::from_raw(&unsigned).expect("parses").hash();
    let tx = client
        .find_transaction(&allocation)
        .await
        .expect("find_transaction");
    assert_eq!(tx, genesis.transactions[0]);
    let status = client
        .find_transaction_status(&allocation)
        .await
        .expect("status");
    assert_eq!(status.status_code, StatusCode::Success);

    let nobody = client.account_info(&address(9)).await.expect("never seen");
    assert_eq!((nobody.balance, nobody.nonce), (Balance::ZERO, 0));
    assert!(nobody.transaction_hashes.is_empty());

    for missing in [
        client.find_block(BlockRef::Number(99)).await.err(),
        client.find_block(BlockRef::Hash(Hash([1; 32]))).await.err(),
    ] {
        assert_eq!(api_code(missing.expect("not found")), ErrorCode::NotFound);
    }
    let error = client
        .find_transaction(&Hash([2; 32]))
        .await
        .expect_err("not found");
    assert_eq!(api_code(error), ErrorCode::NotFound);
    let error = client
        .find_transaction_status(&Hash([2; 32]))
        .await
        .expect_err("not found");
    assert_eq!(api_code(error), ErrorCode::NotFound);

    // View calls: authenticated, and there is no contract to call.
    let view = ViewCall::sign_raw(&dev_key(), address(5), 1_800_000_000, b"\x01\x02");
    let error = client
        .call_contract_view(&view)
        .await
        .expect_err("no contract");
    assert_eq!(api_code(error), ErrorCode::NotFound);
    let mut forged = view.clone();
    forged.message = "AQI=".into();
    forged.timestamp += 1;
    let error = client
        .call_contract_view(&forged)
        .await
        .expect_err("forged");
    assert_eq!(api_code(error), ErrorCode::BadSign);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_is_pending_then_final_and_the_state_follows() {
    let node = Node::start();
    let client = node.client().await;
    let to = address(7);
    let tx = dev_transfer(to, 250, 10, 1);
    let mut statuses = client.push_transaction(&tx.to_raw()).await.expect("push");
    let first = statuses.next().await.expect("admission").expect("status");
    assert_eq!(first.status_code, StatusCode::Pending);
    let last = statuses.next().await.expect("final").expect("status");
    assert_eq!(last.status_code, StatusCode::Success);
    assert_eq!(last.fee_left, 0);
    assert!(
        statuses.next().await.is_none(),
        "the subscription ends by itself"
    );

    let hash = tx.clone().seal().hash();
    let receiver = client.account_info(&to).await.expect("account");
    assert_eq!(receiver.balance, Balance::from(250));
    assert_eq!(receiver.transaction_hashes, vec![hash]);
    let sender = client
        .account_info(&dev_key().address())
        .await
        .expect("account");
    assert_eq!(sender.nonce, 1);
    assert_eq!(sender.transaction_hashes, vec![hash]);
    let coinbase = client.account_info(&node.coinbase).await.expect("account");
    assert_eq!(coinbase.balance, Balance::from(1000 + 10));
    assert_eq!(
        client.find_transaction(&hash).await.expect("applied"),
        tx.to_raw()
    );

    // The same transaction again: its stored final status, nothing applied twice.
    let again = client.push_and_wait(&tx.to_raw()).await.expect("push");
    assert_eq!(again.status_code, StatusCode::Success);
    let receiver = client.account_info(&to).await.expect("account");
    assert_eq!(receiver.balance, Balance::from(250));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_pushes_are_answered_at_once() {
    let node = Node::start();
    let client = node.client().await;
    let good = dev_transfer(address(3), 1, 1, 2).to_raw();

    let poor = SecretKey::generate();
    let unfunded = Transaction::signed(&poor, address(3), Balance::from(1), 1, 5, vec![]);
    let with = |change: fn(&mut RawTransaction)| {
        let mut tx = good.clone();
        change(&mut tx);
        tx
    };
    let cases = [
        (with(|tx| tx.amount = "-1".into()), StatusCode::BadQueryForm),
        (with(|tx| tx.to = "0OIl".into()), StatusCode::BadQueryForm),
        (with(|tx| tx.sign = "***".into()), StatusCode::BadQueryForm),
        (with(|tx| tx.amount = "2".into()), StatusCode::BadSign),
        (unfunded.to_raw(), StatusCode::NotEnoughBalance),
    ];
    for (tx, expected) in cases {
        let mut statuses = client.push_transaction(&tx).await.expect("push");
        let status = statuses.next().await.expect("one").expect("status");
        assert_eq!(status.status_code, expected, "{tx:?}: {}", status.message);
        assert!(!status.message.is_empty());
        assert!(
            statuses.next().await.is_none(),
            "a refusal ends the subscription"
        );
    }

    // Missing fields are a status too, not an error answer.
    let mut raw = node.raw().await;
    let answer = raw
        .request(request(
            "subscribe",
            "push_transaction",
            1,
            json!({"from": "x"}),
        ))
        .await;
    assert_eq!(answer["status"], "ok");
    assert_eq!(answer["result"]["status_code"], 2);
    assert_eq!(
        client
            .last_block_info()
            .await
            .expect("top")
            .top_block_number,
        0,
        "nothing applied"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_follow_blocks_in_order() {
    let node = Node::start();
    let client = node.client().await;
    let watched = address(4);
    let mut blocks = client.subscribe_blocks().await.expect("subscribe");
    let mut account = client.subscribe_account(&watched).await.expect("subscribe");
    let first = blocks.next().await.expect("current").expect("info");
    assert_eq!(
        first.top_block_number, 0,
        "the first message is the current state"
    );
    let initial = account.next().await.expect("current").expect("info");
    assert_eq!(initial.balance, Balance::ZERO);

    for n in 1..=3u64 {
        pay(&client, watched, n, 1, n as u32).await;
        let block = blocks.next().await.expect("block").expect("info");
        assert_eq!(block.top_block_number, n, "one message per block, in order");
        // Announced only once stored: the block is there to be read.
        let stored = client
            .find_block(BlockRef::Number(n))
            .await
            .expect("stored before announced");
        assert_eq!(stored.depth, n);
        let update = account.next().await.expect("update").expect("info");
        assert_eq!(update.balance, Balance::from((1..=n).sum::<u64>()));
        assert_eq!(update.transaction_hashes.len() as u64, n);
    }
    // A block that does not touch the account sends no account message.
    pay(&client, address(5), 1, 1, 10).await;
    assert_eq!(
        blocks
            .next()
            .await
            .expect("block")
            .expect("info")
            .top_block_number,
        4
    );
    pay(&client, watched, 1, 1, 11).await;
    let update = account.next().await.expect("update").expect("info");
    assert_eq!(
        update.transaction_hashes.len(),
        4,
        "the block 4 did not produce a message"
    );

    assert!(client
        .unsubscribe("last_block_info", json!({}))
        .await
        .expect("answer"));
    assert!(!client
        .unsubscribe("last_block_info", json!({}))
        .await
        .expect("answer"));
    assert!(client
        .unsubscribe("account_info", json!({"address": watched}))
        .await
        .expect("answer"));
    assert!(!client
        .unsubscribe("account_info", json!({"address": watched}))
        .await
        .expect("answer"));
    assert!(!client
        .unsubscribe("push_transaction", json!({"hash": Hash([1; 32])}))
        .await
        .expect("answer"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_code_is_answered_and_the_connection_stays() {
    let node = Node::start();
    let mut raw = node.raw().await;
    let cases: Vec<(String, Option<u64>, &str)> = vec![
        ("not json".into(), None, "invalid_json"),
        ("[1,2]".into(), None, "invalid_json"),
        (
            json!({"type": "call", "name": "last_block_info", "api": 1}).to_string(),
            None,
            "invalid_request",
        ),
        (
            json!({"type": "call", "name": "last_block_info", "api": 1, "id": "1"}).to_string(),
            None,
            "invalid_request",
        ),
        (
            json!({"name": "last_block_info", "api": 1, "id": 5}).to_string(),
            Some(5),
            "invalid_request",
        ),
        (
            json!({"type": "call", "api": 1, "id": 6}).to_string(),
            Some(6),
            "invalid_request",
        ),
        (
            json!({"type": "call", "name": "last_block_info", "id": 7}).to_string(),
            Some(7),
            "unsupported_api",
        ),
        (
            json!({"type": "call", "name": "last_block_info", "api": 2, "id": 8}).to_string(),
            Some(8),
            "unsupported_api",
        ),
        (
            request("call", "no_such_thing", 9, json!({})).to_string(),
            Some(9),
            "unknown_command",
        ),
        (
            request("subscribe", "find_block", 10, json!({})).to_string(),
            Some(10),
            "unknown_command",
        ),
        (
            request("call", "account_info", 11, json!({})).to_string(),
            Some(11),
            "invalid_args",
        ),
        (
            request("call", "account_info", 12, json!({"address": "0OIl"})).to_string(),
            Some(12),
            "invalid_args",
        ),
        (
            request("call", "find_block", 13, json!({"number": -4})).to_string(),
            Some(13),
            "invalid_args",
        ),
        (
            request("call", "find_block", 14, json!({"hash": "AAAA"})).to_string(),
            Some(14),
            "invalid_args",
        ),
        (
            request("call", "find_block", 15, json!({"number": 77})).to_string(),
            Some(15),
            "not_found",
        ),
        (
            request("call", "call_contract_view", 16, json!({"from": "x"})).to_string(),
            Some(16),
            "invalid_args",
        ),
    ];
    for (text, id, code) in cases {
        raw.send_text(&text).await;
        let answer = raw.answer().await;
        assert_eq!(error_code(&answer), code, "{text}: {answer}");
        assert_eq!(answer["id"].as_u64(), id, "{text}");
        assert_eq!(answer["type"], "answer");
        assert!(!answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty());
    }
    // The message names the bad argument.
    let answer = raw
        .request(request("call", "account_info", 17, json!({"address": 5})))
        .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("address"),
        "{answer}"
    );

    // duplicate_id and already_subscribed.
    let answer = raw
        .request(request("subscribe", "last_block_info", 20, json!({})))
        .await;
    assert_eq!(answer["status"], "ok");
    let answer = raw
        .request(request("call", "last_block_info", 20, json!({})))
        .await;
    assert_eq!(error_code(&answer), "duplicate_id");
    let answer = raw
        .request(request("subscribe", "last_block_info", 21, json!({})))
        .await;
    assert_eq!(error_code(&answer), "already_subscribed");

    // limit_exceeded: a request over 1 MiB.
    let big = format!(
        r#"{{"type":"call","name":"last_block_info","api":1,"id":30,"pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    raw.send_text(&big).await;
    assert_eq!(error_code(&raw.answer().await), "limit_exceeded");
    // A full mempool's limit_exceeded is in crates/ledger-ws/tests, on a
    // clock that never moves: with real time it depends on block timing.

    // bad_sign for a view call signed by someone else.
    let mut view = ViewCall::sign_raw(&SecretKey::generate(), address(5), 1, b"");
    view.from = dev_key().address().to_string();
    let answer = raw
        .request(request(
            "call",
            "call_contract_view",
            50,
            serde_json::to_value(view).expect("json"),
        ))
        .await;
    assert_eq!(error_code(&answer), "bad_sign");

    // After all that, the connection still works.
    let answer = raw
        .request(request("call", "last_block_info", 60, json!({})))
        .await;
    assert_eq!(answer["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_frames_of_every_kind_leave_the_node_up() {
    let node = Node::start();
    let mut raw = node.raw().await;
    raw.send(Message::binary(vec![0, 159, 146, 150])).await;
    assert_eq!(error_code(&raw.answer().await), "invalid_json");
    // A text frame that is not UTF-8 (tungstenite will not build one, so a raw frame).
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    raw.send(Message::Frame(frame)).await;
    let answer = raw.answer().await;
    assert_eq!(error_code(&answer), "invalid_json");
    assert_eq!(answer["id"], Value::Null);
    for text in [
        "",
        "{",
        "null",
        "\"x\"",
        "{\"id\": 1e400}",
        &"[".repeat(10_000),
    ] {
        raw.send_text(text).await;
        let answer = raw.answer().await;
        assert_eq!(answer["status"], "error", "{text}");
    }
    raw.send(Message::Ping(vec![1, 2, 3].into())).await;
    let answer = raw
        .request(request("call", "last_block_info", 1, json!({})))
        .await;
    assert_eq!(answer["status"], "ok", "the connection survived everything");

    // A message over the hard cap (4 MiB) closes only that connection, with
    // 1009, as soon as its header is read: the client announces 5 MiB and
    // sends 16 bytes of it, so the close frame is always there to read.
    let mut huge = support::handshake(&node.url).await;
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(5u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]); // the mask
    header.extend_from_slice(&[0; 16]);
    tokio::io::AsyncWriteExt::write_all(&mut huge, &header)
        .await
        .expect("write");
    let close = read_bytes(&mut huge, 4).await;
    assert_eq!(close[0], 0x88, "a close frame, unmasked: {close:?}");
    assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1009, "{close:?}");

    // Garbage that is not even a WebSocket handshake.
    let socket_address = node.url.trim_start_matches("ws://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&socket_address)
        .await
        .expect("tcp");
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"\x00\x01GET nonsense\r\n\r\n")
        .await
        .expect("write");
    drop(tcp);

    let client = node.client().await;
    assert_eq!(
        client
            .last_block_info()
            .await
            .expect("alive")
            .top_block_number,
        0
    );
    pay(&client, address(1), 5, 1, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_every_block_balance_and_status_on_sled() {
    a_restart_keeps_every_block_balance_and_status(&["--store", "sled"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_every_block_balance_and_status_on_fjall() {
    a_restart_keeps_every_block_balance_and_status(&["--store", "fjall"]).await;
}

/// Five transfers, a clean stop, a restart with the same `options`: the
/// chain, the balances and the statuses are all still there.
async fn a_restart_keeps_every_block_balance_and_status(options: &[&str]) {
    let node = Node::start_with(options);
    let client = node.client().await;
    let mut hashes = Vec::new();
    for n in 0..5u32 {
        let tx = dev_transfer(address(8), 10, 2, n);
        let status = client.push_and_wait(&tx.to_raw()).await.expect("push");
        assert_eq!(status.status_code, StatusCode::Success);
        hashes.push(tx.seal().hash());
    }
    let before = client.last_block_info().await.expect("top");
    let account = client.account_info(&address(8)).await.expect("account");
    drop(client);
    let (status, _keep, dir) = node.stop();
    assert!(status.success(), "SIGTERM exits 0: {status:?}");

    let node = Node::start_in(&dir, options).expect("restarts");
    let client = node.client().await;
    assert_eq!(client.last_block_info().await.expect("top"), before);
    assert_eq!(
        client.account_info(&address(8)).await.expect("account"),
        account
    );
    for hash in &hashes {
        let status = client.find_transaction_status(hash).await.expect("status");
        assert_eq!(status.status_code, StatusCode::Success);
    }
    // The same node key, so the same coinbase, and the chain goes on.
    let tx = dev_transfer(address(8), 10, 2, 99);
    assert_eq!(
        client
            .push_and_wait(&tx.to_raw())
            .await
            .expect("push")
            .status_code,
        StatusCode::Success
    );
    assert_eq!(
        client
            .last_block_info()
            .await
            .expect("top")
            .top_block_number,
        before.top_block_number + 1
    );
}

/// A node producing blocks every 500 ms, and a client, just after a block:
/// a transaction pushed now stays pending for a while.
async fn just_after_a_block() -> (Node, ledger_ws::Client) {
    let node = Node::start_with(&["--block-interval-ms", "500"]);
    let client = node.client().await;
    pay(&client, address(2), 1, 1, 0).await;
    (node, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_applies_what_was_answered_pending() {
    let (node, client) = just_after_a_block().await;
    let tx = dev_transfer(address(2), 1, 1, 1);
    let mut statuses = client.push_transaction(&tx.to_raw()).await.expect("push");
    let first = statuses.next().await.expect("status").expect("status");
    assert_eq!(first.status_code, StatusCode::Pending);
    let (status, _keep, dir) = node.stop();
    assert!(status.success());
    let last = statuses
        .next()
        .await
        .expect("a final status before the node closes the connection")
        .expect("status");
    assert_eq!(last.status_code, StatusCode::Success);
    drop(client);
    let node = Node::start_in(&dir, &[]).expect("restarts");
    let status = node
        .client()
        .await
        .find_transaction_status(&tx.seal().hash())
        .await
        .expect("status");
    assert_eq!(
        status.status_code,
        StatusCode::Success,
        "drained into a block at shutdown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_clients_at_once() {
    let node = Node::start();
    let clients = 16u32;
    let per_client = 8u32;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = node.url.clone();
        tasks.push(tokio::spawn(async move {
            let client = ledger_ws::Client::connect(&url).await.expect("connects");
            let mut pushes = Vec::new();
            for n in 0..per_client {
                let tx = dev_transfer(address(100 + c as u8), 1, 1, c * 1000 + n);
                pushes.push(client.push_transaction(&tx.to_raw()).await.expect("push"));
            }
            let mut successes = 0;
            for mut statuses in pushes {
                let mut last = None;
                while let Some(status) = statuses.next().await {
                    last = Some(status.expect("status").status_code);
                }
                successes += u32::from(last == Some(StatusCode::Success));
            }
            let info = client
                .account_info(&address(100 + c as u8))
                .await
                .expect("account");
            (successes, info.balance)
        }));
    }
    for task in tasks {
        let (successes, balance) = task.await.expect("task");
        assert_eq!(successes, per_client);
        assert_eq!(balance, Balance::from(u64::from(per_client)));
    }
    let dev = node
        .client()
        .await
        .account_info(&dev_key().address())
        .await
        .expect("account");
    assert_eq!(dev.nonce, u64::from(clients * per_client));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_is_disconnected_and_others_keep_working() {
    slow_client_is_disconnected(&["--max-outgoing", "8"], "messages").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_is_disconnected_by_bytes_queued_too() {
    // Few messages, but large ones: the byte bound trips first.
    slow_client_is_disconnected(&["--max-outgoing-bytes", "500000"], "messages").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_is_disconnected_by_the_node_wide_budget() {
    // Its own bound is far away; the node's budget for all clients is not,
    // and the client that keeps reading is still served.
    slow_client_is_disconnected(
        &["--max-outgoing-bytes-total", "500000"],
        "the most this node keeps for all of them is 500000",
    )
    .await;
}

/// A client that asks for large answers and never reads is disconnected
/// with 1008 (a reason holding `because`) on a node started with
/// `limits`, while another is served. The client never reads, so the
/// node's log says how it closed the connection.
async fn slow_client_is_disconnected(limits: &[&str], because: &str) {
    let mut node = Node::start_with(limits);
    let client = node.client().await;
    // A block whose find_block answer is large: one transfer carrying
    // 16 KiB of data (base64 makes it ~22 KB), alone in the top block.
    let status = client
        .push_and_wait(&dev_tx(address(6), 1, 0, vec![0x5a; 16 << 10], 1).to_raw())
        .await
        .expect("pushed and answered");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let largest = client
        .last_block_info()
        .await
        .expect("top")
        .top_block_number;

    // The slow client asks for far more than the sockets between them hold
    // (3,000 answers of ~22 KB), and reads nothing, ever.
    let mut slow = node.raw().await;
    let request_text = request("call", "find_block", 0, json!({"number": largest})).to_string();
    for id in 0..3000u64 {
        let text = request_text.replacen("\"id\":0", &format!("\"id\":{id}"), 1);
        if tokio::time::timeout(Duration::from_secs(5), slow.ws.send(Message::text(text)))
            .await
            .is_err()
        {
            break; // Our own send buffer is full too.
        }
    }
    let closed = node.log_line("closing connection").await;
    assert!(closed.contains("code=1008"), "{closed}");
    assert!(closed.contains("too slow"), "{closed}");
    assert!(closed.contains(because), "{closed}");
    // Meanwhile, and after, the node serves everyone else.
    pay(&client, address(6), 1, 0, 9999).await;
    drop(slow);
}

/// Reads exactly `n` bytes, within 10 s.
async fn read_bytes(socket: &mut tokio::net::TcpStream, n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_exact(socket, &mut bytes),
    )
    .await
    .expect("in time")
    .expect("read");
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_are_pinged_and_dead_ones_closed() {
    let node = Node::start_with(&["--ping-interval-s", "1"]);
    let alive = node.client().await;
    // This one reads raw bytes, so it never answers the ping (a WebSocket
    // library would): the node pings it after 1 s of silence, then closes
    // it after 1 s more with 1001. No sleeping: the frames are awaited.
    let mut dead = support::handshake(&node.url).await;
    assert_eq!(
        read_bytes(&mut dead, 2).await,
        [0x89, 0x00],
        "an empty ping"
    );
    let head = read_bytes(&mut dead, 2).await;
    assert_eq!(head[0], 0x88, "then a close frame: {head:?}");
    let body = read_bytes(&mut dead, usize::from(head[1])).await;
    assert_eq!(u16::from_be_bytes([body[0], body[1]]), 1001, "{body:?}");
    let reason = String::from_utf8_lossy(&body[2..]);
    assert!(reason.contains("no answer to a ping"), "{reason}");
    // The client that answers pings (its reader runs) is still served.
    assert!(alive.last_block_info().await.is_ok());
}

#[test]
fn the_cli_drives_a_node() {
    let node = Node::start();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(support::BINARY)
            .args(args)
            .args(["--node", &node.url])
            .output()
            .expect("runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("me.key");
    // keygen talks to no node.
    let keygen = |out: &std::path::Path| {
        std::process::Command::new(support::BINARY)
            .args(["keygen", "--out", out.to_str().expect("utf8")])
            .output()
            .expect("runs")
    };
    let output = keygen(&key);
    assert!(output.status.success());
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let me: Address = out.trim().parse().expect("keygen prints the address");
    let dev_key_file = dir.path().join("dev.key");
    std::fs::write(&dev_key_file, ledger_core::DEV_SECRET_KEY_HEX).expect("write");

    // The same transfer twice at once is two transfers, not a replay.
    let mut hashes = Vec::new();
    for _ in 0..2 {
        let (ok, out, err) = run(&[
            "transfer",
            "--key",
            dev_key_file.to_str().expect("utf8"),
            "--to",
            &me.to_string(),
            "--amount",
            "1234",
            "--fee",
            "3",
            "--json",
        ]);
        assert!(ok, "{err}");
        let answer: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(answer["status"]["status_code"], 0);
        hashes.push(answer["hash"].as_str().expect("hash").to_owned());
    }
    assert_ne!(hashes[0], hashes[1]);
    let hash = hashes.remove(0);

    let (ok, out, _) = run(&["account", &me.to_string(), "--json"]);
    assert!(ok);
    let account: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(account["balance"], "2468");

    let (ok, out, _) = run(&["tx", &hash, "--json"]);
    assert!(ok);
    let tx: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(tx["transaction"]["amount"], "1234");
    assert_eq!(tx["status"]["status_code"], 0);

    let (ok, out, _) = run(&["block", "--number", "1", "--json"]);
    assert!(ok);
    let block: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(block["depth"], 1);

    let (ok, out, _) = run(&["account", &me.to_string()]);
    assert!(ok);
    assert!(out.contains("balance       2468"), "{out}");

    // Errors: one clear line and a non-zero exit.
    let (ok, _, err) = run(&["block", "--number", "99"]);
    assert!(!ok);
    assert!(
        err.starts_with("error: ") && err.contains("not_found") && err.trim().lines().count() == 1,
        "{err}"
    );
    let poor = dir.path().join("poor.key");
    assert!(keygen(&poor).status.success());
    let (ok, out, _) = run(&[
        "transfer",
        "--key",
        poor.to_str().expect("utf8"),
        "--to",
        &me.to_string(),
        "--amount",
        "5",
        "--fee",
        "1",
    ]);
    assert!(!ok, "an unfunded transfer fails");
    assert!(out.contains("NotEnoughBalance (status 4)"), "{out}");
    let output = std::process::Command::new(support::BINARY)
        .args(["account", &me.to_string(), "--node", "ws://127.0.0.1:1"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("cannot reach the node at ws://127.0.0.1:1"),
        "{err}"
    );
}

#[test]
fn a_data_directory_of_another_chain_is_refused() {
    let node = Node::start();
    let (status, _keep, dir) = node.stop();
    assert!(status.success());
    let genesis = dir.parent().expect("parent").join("genesis.json");
    std::fs::write(
        &genesis,
        json!({"timestamp": 1, "block_reward": "1", "accounts": {"4Mq1maZ6wuaYe88oLzi5aN9zK771": "5"}}).to_string(),
    )
    .expect("write");
    let error = Node::start_in(&dir, &["--genesis", genesis.to_str().expect("utf8")])
        .err()
        .expect("refused");
    assert!(
        error.contains("holds another chain") && error.contains(&dir.display().to_string()),
        "{error}"
    );
}

#[test]
fn a_data_directory_of_another_engine_is_refused() {
    let node = Node::start_with(&["--store", "fjall"]);
    let (status, _keep, dir) = node.stop();
    assert!(status.success());
    let error = Node::start_in(&dir, &["--store", "sled"])
        .err()
        .expect("refused");
    assert!(
        error.contains("holds a fjall store, not sled")
            && error.contains("leave out --store")
            && error.contains(&dir.display().to_string()),
        "{error}"
    );
    // Nothing of sled's was left there: the right engine still opens it.
    let node = Node::start_in(&dir, &["--store", "fjall"]).expect("opens with fjall");
    assert!(node.stop().0.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsubscribed_push_sends_nothing_more() {
    let (node, client) = just_after_a_block().await;
    let mut raw = node.raw().await;
    // Block notifications on the same connection mark where a final
    // status would have been sent: in the same batch, right after them.
    let first = raw
        .request(request("subscribe", "last_block_info", 10, json!({})))
        .await;
    assert_eq!(first["status"], "ok", "{first}");
    let tx = dev_transfer(address(2), 1, 1, 1);
    let args = serde_json::to_value(tx.to_raw()).expect("json");
    let pending = raw
        .request(request("subscribe", "push_transaction", 1, args.clone()))
        .await;
    assert_eq!(pending["result"]["status_code"], 1, "{pending}");
    let again = raw
        .request(request("subscribe", "push_transaction", 2, args))
        .await;
    assert_eq!(error_code(&again), "already_subscribed");
    let hash = tx.seal().hash();
    let answer = raw
        .request(request(
            "unsubscribe",
            "push_transaction",
            3,
            json!({"hash": hash}),
        ))
        .await;
    assert_eq!(answer["result"], "successful");
    // The transaction is still applied; this connection hears only of blocks.
    let depth = loop {
        let next = raw.answer().await;
        assert_eq!(next["id"], 10, "only block notifications: {next}");
        let depth = next["result"]["top_block_number"].as_u64().expect("depth");
        let status = client.find_transaction_status(&hash).await.expect("status");
        if status.status_code != StatusCode::Pending {
            assert_eq!(status.status_code, StatusCode::Success);
            break depth;
        }
    };
    // Anything that block's event sent this connection came before a later
    // request's answer; the next message is that answer.
    raw.send_text(&request("call", "last_block_info", 4, json!({})).to_string())
        .await;
    let next = raw.answer().await;
    assert_eq!(next["id"], 4, "no final status for id 1: {next}");
    assert_eq!(next["result"]["top_block_number"].as_u64(), Some(depth));
    // The id of the ended subscription is free again.
    let reused = raw
        .request(request("call", "last_block_info", 1, json!({})))
        .await;
    assert!(reused["result"]["top_block_number"].is_u64(), "{reused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_per_connection_are_bounded() {
    let node = Node::start();
    let mut raw = node.raw().await;
    // Pipelined: 1024 account subscriptions, then one more.
    for n in 0..1025u64 {
        let args = json!({"address": fresh_address(n)});
        raw.send_text(&request("subscribe", "account_info", n, args).to_string())
            .await;
    }
    let mut last = Value::Null;
    for _ in 0..1025 {
        last = raw.answer().await;
    }
    assert_eq!(last["id"], 1024);
    assert_eq!(error_code(&last), "limit_exceeded", "{last}");
    // Ending one makes room for another.
    let answer = raw
        .request(request(
            "unsubscribe",
            "account_info",
            2000,
            json!({"address": fresh_address(7)}),
        ))
        .await;
    assert_eq!(answer["result"], "successful");
    let answer = raw
        .request(request("subscribe", "last_block_info", 2001, json!({})))
        .await;
    assert_eq!(answer["status"], "ok", "{answer}");
}

#[test]
fn watch_follows_until_interrupted() {
    use std::io::{BufRead, BufReader};
    let node = Node::start();
    let watch = |args: &[&str]| {
        let mut child = std::process::Command::new(support::BINARY)
            .args(args)
            .args(["--node", &node.url, "--json"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("runs");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        (child, lines)
    };
    let to = address(12);
    let (mut blocks, mut block_lines) = watch(&["watch", "blocks"]);
    let (mut account, mut account_lines) = watch(&["watch", "account", &to.to_string()]);
    let next = |lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>| -> Value {
        serde_json::from_str(&lines.next().expect("a line").expect("utf8")).expect("json")
    };
    assert_eq!(
        next(&mut block_lines)["top_block_number"],
        0,
        "the current top first"
    );
    assert_eq!(next(&mut account_lines)["balance"], "0");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = node.client().await;
        pay(&client, to, 77, 1, 1).await;
    });
    assert_eq!(next(&mut block_lines)["top_block_number"], 1);
    assert_eq!(next(&mut account_lines)["balance"], "77");

    for child in [&mut blocks, &mut account] {
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = child.wait().expect("exits");
        assert!(exit.success(), "Ctrl-C ends a watch cleanly: {exit:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_genesis_file_sets_the_chain() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/genesis.example.json"
    );
    let node = Node::start_with(&["--genesis", file]);
    let client = node.client().await;
    // It funds the dev key, so a chain started from it can be used at once.
    let dev = client
        .account_info(&dev_key().address())
        .await
        .expect("account");
    assert_eq!(dev.balance.to_string(), "1000000000000000000000000000000");
    let other: Address = "3LugD6uejqesgWy3zuVi7Ui5Xj5e".parse().expect("address");
    let account = client.account_info(&other).await.expect("account");
    assert_eq!(account.balance, Balance::from(1_000_000));
    let genesis = client
        .find_block(BlockRef::Number(0))
        .await
        .expect("genesis");
    assert_eq!(genesis.timestamp, 1_735_689_600);
    assert_eq!(genesis.transactions.len(), 2);
    let info = client.node_info().await.expect("node_info");
    assert_ne!(
        info.genesis_hash,
        ledger_core::Genesis::dev().block().hash(),
        "not the dev genesis"
    );
    assert_eq!((info.chain_id, info.evm_fork.as_str()), (1337, "osaka"));
}

/// mimalloc asks for transparent huge pages, whose zeroing cost a loaded
/// node a quarter of its CPU (docs/benchmarks.md); the node turns them off
/// for itself as it starts. The kernel says so in `THP_enabled`.
#[cfg(target_os = "linux")]
#[test]
fn the_node_runs_without_transparent_huge_pages() {
    let node = Node::start();
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid()))
        .expect("the node's /proc status");
    let Some(line) = status.lines().find(|line| line.starts_with("THP_enabled:")) else {
        // A kernel before 5.0 does not report it.
        assert!(node.stop().0.success());
        return;
    };
    assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    assert!(node.stop().0.success());
}

/// Starts a node with `extra` options, waits for one transfer's block (by
/// then both chain threads have set their priority: it is the first
/// thing each does), and returns every thread's nice value.
#[cfg(target_os = "linux")]
async fn node_thread_nice_values(extra: &[&str]) -> Vec<(String, i32)> {
    let node = Node::start_with(extra);
    let client = node.client().await;
    pay(&client, address(3), 1, 1, 1).await;
    let threads = support::threads::thread_nice_values(&node.pid().to_string());
    assert!(node.stop().0.success());
    threads
}

/// The chain's two threads (admitting and building blocks; storing them)
/// run at `--chain-nice`, the rest of the node as it was started; by
/// default a step ahead (-5) on sled where the kernel allows it, as
/// started on fjall.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn the_chain_threads_run_at_the_nice_value_asked_for() {
    let own = rustix::process::getpriority_process(None).expect("own nice");
    let is_chain = |name: &str| name == "chain" || name == "chain-store";

    // Above the node's own value, which needs no privilege.
    let asked = (own + 4).min(19);
    let threads = node_thread_nice_values(&["--chain-nice", &asked.to_string()]).await;
    let chain: Vec<i32> = (threads.iter())
        .filter(|(name, _)| is_chain(name))
        .map(|(_, nice)| *nice)
        .collect();
    assert_eq!(chain, [asked, asked], "{threads:?}");
    assert!(
        (threads.iter()).all(|(name, nice)| is_chain(name) || *nice == own),
        "{threads:?}"
    );

    // The default, -5, below the node's own: only with the privilege,
    // which a thread of this process tries for itself first.
    let allowed = std::thread::spawn(|| {
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), -5).is_ok()
    })
    .join()
    .expect("no panic");
    let on_sled = if allowed { -5 } else { own };
    for (store, expected) in [("sled", on_sled), ("fjall", own)] {
        let threads = node_thread_nice_values(&["--store", store]).await;
        for (name, nice) in threads {
            let expected = if is_chain(&name) { expected } else { own };
            assert_eq!(nice, expected, "{name} on {store}");
        }
    }
}
