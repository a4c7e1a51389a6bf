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
