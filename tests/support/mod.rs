//! Starting the real `ledger-node` binary and talking to it.

#![allow(dead_code, unreachable_pub)]

pub mod threads;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ledger_core::{Address, Balance, Genesis, SecretKey, StatusCode, Transaction};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_ledger-node");

/// A running node in a temporary (or given) data directory.
pub struct Node {
    child: Option<Child>,
    /// Its log lines (stderr, `RUST_LOG=warn`), as they come.
    logs: Option<mpsc::Receiver<String>>,
    pub url: String,
    pub coinbase: Address,
    pub dir: PathBuf,
    /// What it printed to stdout before it listened.
    pub startup: Vec<String>,
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
        Node::start_wrapped(&[], dir, extra)
    }

    /// As [`Node::start_in`], the binary run by `wrapper` (a program and
    /// its arguments, such as `prlimit --fsize=N`) when it is not empty.
    pub fn start_wrapped(wrapper: &[&str], dir: &Path, extra: &[&str]) -> Result<Node, String> {
        let mut args = vec![
            "run".to_owned(),
            "--data-dir".to_owned(),
            dir.display().to_string(),
        ];
        if !extra.contains(&"--ws") {
            args.extend(["--ws".to_owned(), "127.0.0.1:0".to_owned()]);
        }
        if !extra.contains(&"--block-interval-ms") {
            args.extend(["--block-interval-ms".to_owned(), "50".to_owned()]);
        }
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let mut command = match wrapper {
            [] => Command::new(BINARY),
            [program, wrapper_args @ ..] => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(BINARY);
                command
            }
        };
        let mut child = command
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let received = lines_of(child.stdout.take().expect("piped"));
        let logs = lines_of(child.stderr.take().expect("piped"));
        let mut url = None;
        let mut coinbase = None;
        let mut startup = Vec::new();
        while url.is_none() || coinbase.is_none() {
            match received.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    startup.push(line.clone());
                    if let Some(rest) = line.strip_prefix("ledger-node listening on ") {
                        url = Some(rest.trim().to_owned());
                    }
                    if let Some(rest) = line.strip_prefix("coinbase ") {
                        coinbase = rest.trim().parse().ok();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // The process is gone: its stderr ends, and so do the lines.
                    return Err(logs.iter().collect::<Vec<_>>().join("\n"));
                }
            }
        }
        Ok(Node {
            child: Some(child),
            logs: Some(logs),
            url: url.expect("url"),
            coinbase: coinbase.expect("coinbase"),
            dir: dir.to_owned(),
            startup,
            _temp: None,
        })
    }

    /// Waits for a log line holding `pattern` (within 30 s) and returns it.
    pub async fn log_line(&mut self, pattern: &str) -> String {
        let logs = self.logs.take().expect("one waiter at a time");
        let wanted = pattern.to_owned();
        let (found, logs) = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match logs.recv_timeout(left) {
                    Ok(line) if line.contains(&wanted) => return (Some(line), logs),
                    Ok(_) => continue,
                    Err(_) => return (None, logs),
                }
            }
        })
        .await
        .expect("joins");
        self.logs = Some(logs);
        found.unwrap_or_else(|| panic!("no log line with {pattern:?} within 30 s"))
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

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
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

/// The lines of `stream`, read on a thread of their own (so the pipe
/// never fills), as they come.
pub fn lines_of(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
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

    /// Sends a request and returns the answer with its id (skipping
    /// subscription messages of other ids) and the answer's size in bytes.
    pub async fn request_sized(&mut self, request: Value) -> (Value, usize) {
        self.send_text(&request.to_string()).await;
        loop {
            let text = self.answer_text().await;
            let answer: Value = serde_json::from_str(&text).expect("JSON");
            if answer["id"] == request["id"] || answer["id"].is_null() {
                return (answer, text.len());
            }
        }
    }

    /// The next answer, skipping control frames.
    pub async fn answer(&mut self) -> Value {
        serde_json::from_str(&self.answer_text().await).expect("JSON")
    }

    /// The next answer as the text received, skipping control frames.
    pub async fn answer_text(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("an answer within 20 s")
                .expect("the connection is open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return text.as_str().to_owned(),
                Message::Close(close) => panic!("closed by the node: {close:?}"),
                _ => continue,
            }
        }
    }
}

/// A TCP connection to `url` that has done the WebSocket handshake and
/// nothing else: for frames no WebSocket library would send.
pub async fn handshake(url: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = url.trim_start_matches("ws://");
    let mut tcp = tokio::net::TcpStream::connect(address).await.expect("tcp");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    // Read the answer's head byte by byte, so no frame byte is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        tcp.read_exact(&mut byte).await.expect("handshake answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
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
    dev_tx(to, amount, fee, Vec::new(), n)
}

/// Pushes `dev_transfer(to, amount, fee, n)`, waits for its block (a
/// minute at most: a test must fail, not hang) and checks that it
/// succeeded.
pub async fn pay(client: &ledger_ws::Client, to: Address, amount: u64, fee: u64, n: u32) {
    let raw = dev_transfer(to, amount, fee, n).to_raw();
    let push = client.push_and_wait(&raw);
    let status = tokio::time::timeout(Duration::from_secs(60), push)
        .await
        .expect("a final status within a minute")
        .expect("pushed and answered");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
}

/// A signed transaction from the dev key with `data`; `n` makes it unique.
pub fn dev_tx(to: Address, amount: u64, fee: u64, data: Vec<u8>, n: u32) -> Transaction {
    Transaction::signed(
        &dev_key(),
        to,
        Balance::from(amount),
        fee,
        1_800_000_000 + n,
        data,
    )
}

/// The sum of the balances of `addresses` over the API equals the dev
/// genesis supply plus the reward of every block after genesis: no value
/// was created or lost (`addresses` must be every account that holds any).
pub async fn check_supply(client: &ledger_ws::Client, addresses: &[Address]) {
    check_supply_of(&Genesis::dev(), client, addresses).await;
}

/// [`check_supply`] on a chain of `genesis`.
pub async fn check_supply_of(genesis: &Genesis, client: &ledger_ws::Client, addresses: &[Address]) {
    let depth = client
        .last_block_info()
        .await
        .expect("tip")
        .top_block_number;
    let mut total = Balance::ZERO;
    for address in addresses {
        let balance = client.account_info(address).await.expect("account").balance;
        total = total.checked_add(balance).expect("no overflow");
    }
    let expected = genesis
        .total_supply()
        .and_then(|supply| supply.checked_add(genesis.block_reward.checked_mul_u64(depth)?))
        .expect("fits");
    assert_eq!(total, expected, "value was created or lost");
}

/// The resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// An address nobody has the key of.
pub fn address(n: u8) -> Address {
    Address([n; 20])
}

/// The `n`th of many distinct addresses nobody has the key of (never the
/// null address).
pub fn fresh_address(n: u64) -> Address {
    let mut bytes = [0xa5; 20];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    Address(bytes)
}

/// The environment variable that makes [`build_chain_child`] build.
pub const BUILD_ENV: &str = "LEDGER_E2E_BUILD_CHAIN";

/// What [`build_chain`] puts in a data directory, on the dev genesis:
/// `small` transfers from the dev key to `to` in blocks of 10,000, then one
/// block (the newest) of transfers to `to` carrying `large` bytes of data each.
pub struct ChainSpec {
    pub to: Address,
    pub small: u32,
    pub large: Vec<usize>,
}

/// Builds the chain of `spec` in `dir`, in a child process (this test
/// binary again, running only `test_name`, which must call
/// [`build_chain_child`]), so that the store's lock is surely released
/// when the node under test opens it.
pub fn build_chain(test_name: &str, dir: &Path, spec: &ChainSpec) {
    let large: Vec<String> = spec.large.iter().map(usize::to_string).collect();
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([test_name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(
            BUILD_ENV,
            format!(
                "{}|{}|{}|{}",
                dir.display(),
                spec.to,
                spec.small,
                large.join(",")
            ),
        )
        .output()
        .expect("the builder runs");
    assert!(
        output.status.success(),
        "building the chain failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The child side of [`build_chain`]: does nothing unless [`BUILD_ENV`] is set.
pub fn build_chain_child() {
    let Ok(spec) = std::env::var(BUILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [dir, to, small, large] = parts[..] else {
        panic!("bad {BUILD_ENV}: {spec}");
    };
    let to: Address = to.parse().expect("address");
    let small: u32 = small.parse().expect("count");
    let large: Vec<usize> = large
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().expect("size"))
        .collect();
    let store =
        ledger_store::Store::open(Path::new(dir), ledger_store::Engine::default()).expect("store");
    let config = ledger_core::ChainConfig {
        max_pending_bytes: usize::MAX,
        ..ledger_core::ChainConfig::default()
    };
    let mut ledger = ledger_core::Ledger::open(store, Genesis::dev(), config).expect("ledger");
    let key = dev_key();
    let mut time = 1_800_000_000;
    let block = |ledger: &mut ledger_core::Ledger<_>, time: u32| {
        ledger
            .produce_block(time, key.address())
            .expect("block")
            .expect("transactions pending");
    };
    for n in 0..small {
        let tx = Transaction::signed(&key, to, Balance::from(1), 0, time, Vec::new());
        ledger.push(&tx.to_raw()).expect("push");
        time += 1;
        if (n + 1) % 10_000 == 0 || n + 1 == small {
            block(&mut ledger, time);
        }
    }
    for size in &large {
        let tx = Transaction::signed(&key, to, Balance::from(1), 0, time, vec![7; *size]);
        ledger.push(&tx.to_raw()).expect("push");
        time += 1;
    }
    if !large.is_empty() {
        block(&mut ledger, time);
    }
    ledger.store().flush().expect("flush");
}
