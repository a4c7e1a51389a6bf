//! The resource limits set from the command line reach the server and the
//! chain, and hold: each is pushed one past its value against the real
//! binary. (Their behaviour at the defaults is tested in process, in
//! `crates/ledger-ws/tests/limits.rs`.)

mod support;

use futures_util::StreamExt;
use serde_json::json;
use support::{address, error_code, request, Node};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn limits_set_on_the_command_line_hold() {
    let node = Node::start_with(&[
        "--max-connections",
        "2",
        "--max-subscriptions",
        "2",
        "--max-request-bytes",
        "2000",
        "--max-message-bytes",
        "8000",
        "--store-cache-mib",
        "4",
    ]);
    let mut raw = node.raw().await;

    // Subscriptions: two, then the third is refused.
    for n in 1..=3u8 {
        let args = json!({"address": address(n)});
        let answer = raw
            .request(request("subscribe", "account_info", u64::from(n), args))
            .await;
        if n <= 2 {
            assert_eq!(answer["status"], "ok", "{answer}");
        } else {
            assert_eq!(error_code(&answer), "limit_exceeded", "{answer}");
        }
    }

    // A request over 2,000 bytes is answered limit_exceeded; the
    // connection stays.
    let mut big = request("call", "last_block_info", 3, json!({}));
    big["padding"] = json!("x".repeat(2500));
    let answer = raw.request(big).await;
    assert_eq!(error_code(&answer), "limit_exceeded", "{answer}");
    let answer = raw
        .request(request("call", "last_block_info", 4, json!({})))
        .await;
    assert_eq!(answer["status"], "ok", "{answer}");

    // Connections: this and one more; the third is refused.
    let second = node.raw().await;
    assert!(
        tokio_tungstenite::connect_async(&node.url).await.is_err(),
        "the third connection is refused"
    );
    drop(second);

    // A message over 8,000 bytes closes its connection with 1009.
    raw.send_text(&"y".repeat(9000)).await;
    let close = loop {
        match raw.ws.next().await {
            Some(Ok(Message::Close(close))) => break close,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let close = close.expect("a close code");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
}

/// A message sent in fragments, each under the cap but together over it:
/// the node answers with the 1009 close frame and reads (discarding) what
/// the client still sends, so the client reads the close frame and then
/// an orderly end of the connection, never a reset.
#[tokio::test(flavor = "multi_thread")]
async fn a_fragmented_message_over_the_cap_gets_its_close_frame_not_a_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = Node::start_with(&["--max-request-bytes", "2000", "--max-message-bytes", "8000"]);
    let mut tcp = support::handshake(&node.url).await;
    // 20 fragments of 1,000 bytes: a text frame without FIN, then
    // continuation frames, all masked as a client's must be; sent at once.
    let mask = [1u8, 2, 3, 4];
    let mut frames = Vec::new();
    for n in 0..20 {
        let opcode = if n == 0 { 0x1 } else { 0x0 };
        frames.push(opcode);
        frames.extend_from_slice(&[0x80 | 126, (1000u16 >> 8) as u8, (1000u16 & 0xff) as u8]);
        frames.extend_from_slice(&mask);
        frames.extend((0..1000).map(|i| b'x' ^ mask[i % 4]));
    }
    tcp.write_all(&frames)
        .await
        .expect("the node reads what is sent");
    let mut close = [0u8; 4];
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_exact(&mut close),
    )
    .await
    .expect("in time")
    .expect("the close frame");
    assert_eq!(close[0], 0x88, "a close frame: {close:?}");
    assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1009, "{close:?}");
    // The rest of the frame (its reason), then the end: read to EOF after
    // saying we are done.
    tcp.shutdown().await.expect("shuts our side");
    let mut rest = Vec::new();
    let end = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut rest),
    )
    .await
    .expect("in time");
    assert!(
        end.is_ok(),
        "the connection ends in order, not reset: {end:?}"
    );
    assert_eq!(
        rest.len(),
        usize::from(close[1] & 0x7f) - 2,
        "the close frame's reason"
    );
}

#[test]
fn limits_that_contradict_each_other_are_refused_at_start() {
    let error = Node::start_in(
        &tempfile::tempdir().expect("temp dir").path().join("data"),
        &["--max-request-bytes", "9000", "--max-message-bytes", "8000"],
    )
    .err()
    .expect("refused");
    assert!(
        error.contains("--max-request-bytes (9000) is larger than --max-message-bytes (8000)"),
        "{error}"
    );
}
