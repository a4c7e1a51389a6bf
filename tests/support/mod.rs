//! Starting the real `ledger-node` binary and talking to it.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ledger_core::{Address, Balance, Genesis, SecretKey, Transaction};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_ledger-node");

/// A running node in a temporary (or given) data directory.
pub struct Node {
    child: Option<Child>,
    pub url: String,
    pub coinbase: Address,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Node {
    /// A node on the dev genesis in a fresh directory, producing blocks
    /// every 50 ms.
    pub fn start() -> Node {
        Node::start_with(&[])
    }

    /// As [`Node::start`], with extra `run` options.
    pub fn start_with(extra: &[&str]) -> Node {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("data");
        let mut node = Node::start_in(&dir, extra).expect("the node starts");
        node._temp = Some(temp);
        node
    }

    /// A node on `dir`; `Err` with its output if it exits instead of listening.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Result<Node, String> {
        let mut args = vec![
            "run".to_owned(),
            "--data-dir".to_owned(),
            dir.display().to_string(),
            "--ws".to_owned(),
            "127.0.0.1:0".to_owned(),
        ];
        if !extra.contains(&"--block-interval-ms") {
            args.extend(["--block-interval-ms".to_owned(), "50".to_owned()]);
        }
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let mut child = Command::new(BINARY)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let stdout = child.stdout.take().expect("piped");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut url = None;
        let mut coinbase = None;
        while url.is_none() || coinbase.is_none() {
            match received.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("ledger-node listening on ") {
                        url = Some(rest.trim().to_owned());
                    }
                    if let Some(rest) = line.strip_prefix("coinbase ") {
                        coinbase = rest.trim().parse().ok();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let output = child.wait_with_output().expect("output");
                    return Err(String::from_utf8_lossy(&output.stderr).into_owned());
                }
            }
        }
        Ok(Node {
            child: Some(child),
            url: url.expect("url"),
            coinbase: coinbase.expect("coinbase"),
            dir: dir.to_owned(),
            _temp: None,
        })
    }

    /// Sends `signal` (TERM, INT, KILL) and waits for the exit.
    pub fn signal(&mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        child.wait().expect("exits")
    }

    /// Stops with SIGTERM and hands back the data directory (kept alive).
    pub fn stop(mut self) -> (ExitStatus, Option<tempfile::TempDir>, PathBuf) {
        let status = self.signal("TERM");
        (status, self._temp.take(), self.dir.clone())
    }

    /// A typed client.
    pub async fn client(&self) -> ledger_ws::Client {
        ledger_ws::Client::connect(&self.url)
            .await
            .expect("connects")
    }

    /// A raw WebSocket.
    pub async fn raw(&self) -> Raw {
        let (ws, _) = tokio_tungstenite::connect_async(&self.url)
            .await
            .expect("connects");
        Raw { ws }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A raw WebSocket for sending anything and reading answers as JSON.
pub struct Raw {
    pub ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Raw {
    pub async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("sends");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text.to_owned())).await;
    }

    /// Sends a request and returns the answer with its id, skipping
    /// subscription messages of other ids.
    pub async fn request(&mut self, request: Value) -> Value {
        self.send_text(&request.to_string()).await;
        let id = request["id"].clone();
        loop {
            let answer = self.answer().await;
            if answer["id"] == id || answer["id"].is_null() {
                return answer;
            }
        }
    }

    /// The next answer, skipping control frames.
    pub async fn answer(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("an answer within 20 s")
                .expect("the connection is open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
                Message::Close(close) => panic!("closed by the node: {close:?}"),
                _ => continue,
            }
        }
    }
}

/// A request object.
pub fn request(kind: &str, name: &str, id: u64, args: Value) -> Value {
    serde_json::json!({"type": kind, "name": name, "api": 1, "id": id, "args": args})
}

/// The error code of an error answer.
pub fn error_code(answer: &Value) -> &str {
    assert_eq!(answer["status"], "error", "{answer}");
    answer["error"]["code"].as_str().expect("code")
}

/// The dev key funded by the dev genesis.
pub fn dev_key() -> SecretKey {
    Genesis::dev_key()
}

pub fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as u32
}

/// A signed transfer from the dev key; `n` makes it unique.
pub fn dev_transfer(to: Address, amount: u64, fee: u64, n: u32) -> Transaction {
    Transaction::signed(
        &dev_key(),
        to,
        Balance::from(amount),
        fee,
        1_800_000_000 + n,
        Vec::new(),
    )
}

/// An address nobody has the key of.
pub fn address(n: u8) -> Address {
    Address([n; 20])
}
