//! Hostile clients against the real binary (issue 11): malformed and
//! adversarial frames, a flood of subscriptions, connection churn,
//! half-open connections, a subscriber that never reads, one transaction
//! from a hundred connections, and the two transactions that share a
//! preimage. After each, a normal client gets correct answers, no
//! value was created or lost, and the node's memory stays within
//! [`RSS_BOUND_KIB`].

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use ledger_core::{Address, Balance, RawTransaction, StatusCode};
use serde_json::{json, Value};
use support::{
    address, check_supply, dev_key, dev_transfer, error_code, fresh_address, pay, request, rss_kib,
    Node,
};
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
    // Pipelined a thousand at a time: a thousand requests are sent before
    // any of their answers is read. (Ten thousand unread answers would be
    // more than the 4,096 messages the node queues for a client that does
    // not read, and it would rightly close the connection as too slow.)
    let mut accepted = 0;
    for batch in (0..10_000u64).step_by(1000) {
        for n in batch..batch + 1000 {
            let args = json!({"address": fresh_address(n)});
            raw.send_text(&request("subscribe", "account_info", n, args).to_string())
                .await;
        }
        for n in batch..batch + 1000 {
            let answer = raw.answer().await;
            assert_eq!(answer["id"].as_u64(), Some(n), "answers in order: {answer}");
            if answer["status"] == "ok" {
                accepted += 1;
            } else {
                assert_eq!(error_code(&answer), "limit_exceeded", "{answer}");
            }
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

/// `relay_transactions` is reachable by anyone: full batches of forged
/// transactions from several connections at once are verified and
/// refused, none is applied, and the one honest transaction among them is
/// applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_forged_relayed_transactions_are_all_refused() {
    let node = Node::start();
    let honest = dev_transfer(address(78), 7, 1, 1);
    let forged: Vec<_> = (0..999u32)
        .map(|n| {
            let mut tx = dev_transfer(address(79), 1, 1, 10 + n);
            tx.amount = Balance::from(2);
            tx.to_raw()
        })
        .collect();
    let mut batch = forged.clone();
    batch.push(honest.to_raw());
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(node.client().await);
    }
    let answers = futures_util::future::join_all(
        clients
            .iter()
            .map(|client| client.relay_transactions(&batch)),
    )
    .await;
    let mut admitted = 0;
    for answer in answers {
        let relayed = answer.expect("answered");
        assert_eq!(relayed.refused, 999, "{relayed:?}");
        admitted += relayed.admitted;
    }
    assert_eq!(
        admitted, 1,
        "the honest one admitted once, known to the rest"
    );
    let client = node.client().await;
    let status = client
        .push_and_wait(&honest.to_raw())
        .await
        .expect("answered");
    assert_eq!(status.status_code, StatusCode::Success);
    let forged_to = client.account_info(&address(79)).await.expect("account");
    assert_eq!(forged_to.balance, Balance::from(0), "no forged one applied");
    still_sound(&node, &[dev_key().address(), node.coinbase, address(78)]).await;
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

/// Reads `socket` until the node closes it (within `guard`), returning
/// every byte it sent.
async fn read_until_closed(socket: &mut tokio::net::TcpStream, guard: Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(guard, async {
        let mut buffer = [0u8; 4096];
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the node did not close the connection within {guard:?}"
    );
    received
}

/// The (opcode, payload) of each unmasked frame in `bytes`, as a server
/// sends them.
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (length, header) = match bytes[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(bytes[2..10].try_into().expect("8")))
                    .expect("fits"),
                10,
            ),
            n => (usize::from(n), 2),
        };
        let Some(payload) = bytes.get(header..header + length) else {
            break;
        };
        frames.push((opcode, payload.to_vec()));
        bytes = &bytes[header + length..];
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_by_the_timeouts() {
    use tokio::io::AsyncWriteExt;
    // Shortened so the test takes seconds: the defaults are 10 s for
    // headers and 30 s + 30 s for a WebSocket that stops answering.
    let node = Node::start_with(&["--header-timeout-ms", "300", "--ping-interval-s", "1"]);
    let address = node.url.trim_start_matches("ws://").to_owned();
    let guard = Duration::from_secs(30);

    // Connected and silent; stopped halfway through the headers; and an
    // HTTP client that got its answer and then went quiet on the kept-alive
    // connection.
    let mut silent = Vec::new();
    let mut halfway = Vec::new();
    let mut idle = Vec::new();
    for _ in 0..100 {
        silent.push(tokio::net::TcpStream::connect(&address).await.expect("tcp"));
        let mut tcp = tokio::net::TcpStream::connect(&address).await.expect("tcp");
        tcp.write_all(b"GET /api/v1/ HTTP/1.1\r\nHost: x\r\nAcc")
            .await
            .expect("writes");
        halfway.push(tcp);
    }
    for _ in 0..10 {
        let mut tcp = tokio::net::TcpStream::connect(&address).await.expect("tcp");
        tcp.write_all(b"GET /api/v1/ HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("writes");
        idle.push(tcp);
    }
    // WebSockets whose client stopped answering (as one that vanished
    // without a FIN looks to the node): pinged, then closed with 1001.
    let mut vanished = Vec::new();
    for _ in 0..5 {
        vanished.push(support::handshake(&node.url).await);
    }
    // The node serves normal clients meanwhile.
    still_sound(&node, &[dev_key().address(), node.coinbase]).await;

    for mut tcp in silent.into_iter().chain(halfway) {
        let received = read_until_closed(&mut tcp, guard).await;
        assert!(
            received.is_empty(),
            "{}",
            String::from_utf8_lossy(&received)
        );
    }
    for mut tcp in idle {
        let received = read_until_closed(&mut tcp, guard).await;
        assert!(
            received.starts_with(b"HTTP/1.1 200"),
            "answered before going idle: {}",
            String::from_utf8_lossy(&received)
        );
    }
    for mut tcp in vanished {
        let frames = server_frames(&read_until_closed(&mut tcp, guard).await);
        let opcodes: Vec<u8> = frames.iter().map(|(opcode, _)| *opcode).collect();
        assert_eq!(opcodes, [0x9, 0x8], "a ping, then a close: {frames:?}");
        assert_eq!(frames[1].1[..2], 1001u16.to_be_bytes(), "{frames:?}");
    }
    still_sound(&node, &[dev_key().address(), node.coinbase]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_disconnected_and_memory_stays_bounded() {
    // Bounds smaller than the defaults (4,096 messages, 256 KiB of send
    // buffer), so that 2,000 notifications of ~250 bytes overflow them
    // whatever the kernel makes of its share: 64 KiB asked is 128 KiB
    // granted, and the client's 4 KiB window holds little more.
    let node = Node::start_with(&[
        "--max-outgoing",
        "256",
        "--send-buffer-bytes",
        "65536",
        "--block-interval-ms",
        "1",
    ]);
    let address = node.url.trim_start_matches("ws://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let tcp = socket
        .connect(address.parse().expect("socket address"))
        .await
        .expect("tcp");
    let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    let (ws, _) = tokio_tungstenite::client_async(node.url.as_str(), tcp)
        .await
        .expect("handshake");
    let mut sleeper = support::Raw { ws };
    let answer = sleeper
        .request(request("subscribe", "last_block_info", 1, json!({})))
        .await;
    assert_eq!(answer["status"], "ok", "{answer}");

    // 2,000 blocks, one transfer each, while the subscriber reads nothing.
    let client = node.client().await;
    let mut rss = vec![(0, rss_kib(node.pid()))];
    for n in 1..=2000u32 {
        pay(&client, fresh_address(u64::from(n)), 1, 1, n).await;
        if n % 250 == 0 {
            rss.push((n, rss_kib(node.pid())));
        }
    }
    eprintln!("node RSS (KiB) by blocks produced: {rss:?}");
    let tip = client.last_block_info().await.expect("tip");
    assert!(tip.top_block_number >= 2000, "{tip:?}");

    // Now it reads: what was queued before the node gave up on it, then
    // the close (1008), well short of 2,000 notifications.
    let mut notifications = 0u32;
    let end = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match sleeper.ws.next().await {
                Some(Ok(Message::Text(_))) => notifications += 1,
                Some(Ok(Message::Close(close))) => return close.map(|frame| frame.code),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    })
    .await
    .expect("the node closed the connection");
    assert!(
        notifications < 2000,
        "{notifications} notifications: never cut off"
    );
    if let Some(code) = end {
        assert_eq!(u16::from(code), 1008, "closed for being too slow");
    }
    eprintln!("the sleeper got {notifications} notifications before the close ({end:?})");

    // Memory: the node did not hold the notifications it could not send.
    let (_, first) = rss[1];
    let (_, last) = *rss.last().expect("samples");
    assert!(last < RSS_BOUND_KIB, "the node holds {last} KiB");
    assert!(
        last < first + (64 << 10),
        "RSS grew from {first} to {last} KiB over 1,750 blocks"
    );
    let mut holders: Vec<Address> = (1..=2000u64).map(fresh_address).collect();
    holders.extend([dev_key().address(), node.coinbase]);
    still_sound(&node, &holders).await;
}
