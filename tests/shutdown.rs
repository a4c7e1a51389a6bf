//! Stopping under load: thousands of pushes in flight over several
//! connections when SIGTERM arrives. Nothing acknowledged may be lost,
//! every transaction that ends up applied must have been answered, and
//! every Pending answer must be followed by the final status.

mod support;

use std::collections::HashMap;

use futures_util::{SinkExt, StreamExt};
use ledger_core::{Hash, StatusCode};
use ledger_ws::{ErrorCode, WsError};
use serde_json::{json, Value};
use support::{address, dev_transfer, request, Node};
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS: u32 = 5;
const PUSHES: u32 = 1_000;

/// What one push request got before its connection closed.
#[derive(Debug, Default)]
struct Answers {
    statuses: Vec<StatusCode>,
    error: Option<String>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends every push of `frames` on one connection while reading answers
/// until the node closes it; returns the answers by request id.
async fn push_all(
    ws: Socket,
    frames: Vec<String>,
    answered: tokio::sync::mpsc::UnboundedSender<()>,
) -> HashMap<u64, Answers> {
    let (mut sink, mut stream) = ws.split();
    let sender = tokio::spawn(async move {
        for frame in frames {
            if sink.send(Message::text(frame)).await.is_err() {
                break; // The node has closed the connection.
            }
        }
        sink
    });
    let mut answers: HashMap<u64, Answers> = HashMap::new();
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else {
            continue;
        };
        let answer: Value = serde_json::from_str(text.as_str()).expect("JSON");
        let id = answer["id"]
            .as_u64()
            .expect("every answer names its request");
        let entry = answers.entry(id).or_default();
        if answer["status"] == "ok" {
            let code = answer["result"]["status_code"].as_u64().expect("status");
            entry.statuses.push(status_code(code));
        } else {
            entry.error = Some(answer["error"]["message"].to_string());
        }
        let _ = answered.send(());
    }
    let _ = sender.await;
    answers
}

fn status_code(code: u64) -> StatusCode {
    serde_json::from_value(json!(code)).expect("a status code")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_thousands_of_pushes_in_flight_answers_every_admitted_one() {
    let node = Node::start();
    let mut hashes: Vec<Vec<Hash>> = Vec::new();
    let (answered, mut answers_seen) = tokio::sync::mpsc::unbounded_channel();
    let mut connections = Vec::new();
    for c in 0..CONNECTIONS {
        let mut frames = Vec::new();
        let mut ids = Vec::new();
        for n in 0..PUSHES {
            let tx = dev_transfer(address(3), 1, 0, c * PUSHES + n);
            ids.push(tx.hash());
            let args = serde_json::to_value(tx.to_raw()).expect("JSON");
            frames.push(request("subscribe", "push_transaction", u64::from(n), args).to_string());
        }
        hashes.push(ids);
        let ws = node.raw().await.ws;
        connections.push((ws, frames));
    }
    // Every connection is open before the first push goes out.
    let connections: Vec<_> = connections
        .into_iter()
        .map(|(ws, frames)| tokio::spawn(push_all(ws, frames, answered.clone())))
        .collect();
    drop(answered);
    // Stop once the node is busy answering: many pushes are still in flight.
    for _ in 0..500 {
        answers_seen.recv().await.expect("answers arrive");
    }
    let (status, _keep, dir) = node.stop();
    assert!(status.success(), "{status}");
    let mut answers = Vec::new();
    for connection in connections {
        answers.push(connection.await.expect("joins"));
    }

    let node = Node::start_in(&dir, &[]).expect("restarts");
    let client = node.client().await;
    let (mut applied, mut refused, mut unanswered) = (0, 0, 0);
    for (c, ids) in hashes.iter().enumerate() {
        for (n, hash) in ids.iter().enumerate() {
            let got = answers[c].get(&(n as u64));
            let stored = match client.find_transaction_status(hash).await {
                Ok(status) => Some(status),
                Err(WsError::Api(error)) if error.code == ErrorCode::NotFound => None,
                Err(error) => panic!("{c}/{n}: {error}"),
            };
            let Some(stored) = stored else {
                // Not applied: refused as shutting down, or never read.
                match got {
                    Some(got) => {
                        assert!(got.statuses.is_empty(), "{c}/{n}: {got:?} but not applied");
                        assert!(got.error.is_some(), "{c}/{n}: {got:?}");
                        refused += 1;
                    }
                    None => unanswered += 1,
                }
                continue;
            };
            let got = got.unwrap_or_else(|| panic!("{c}/{n} was applied but never answered"));
            assert_eq!(
                got.statuses,
                [StatusCode::Pending, stored.status_code],
                "{c}/{n}: Pending, then the final status"
            );
            applied += 1;
        }
    }
    eprintln!("applied {applied}, refused {refused}, never read {unanswered}");
    assert!(applied >= 500, "the node stopped while busy");
}
