//! The command line as a new user meets it, against the real binary:
//! every error is one line naming its cause once, nothing waits without a
//! bound, a failed start leaves the disk as it found it, and `run` takes
//! its options from the command line, the environment and a file.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use futures_util::{SinkExt, StreamExt};
use ledger_core::TransactionStatus;
use ledger_ws::protocol::{error_answer, ok_answer};
use ledger_ws::{ApiError, ErrorCode};
use serde_json::Value;
use support::{Node, BINARY};
use tokio_tungstenite::tungstenite::Message;

/// The binary run with `args`, its environment cleared of `LEDGER_*`.
fn ledger(args: &[&str]) -> Output {
    ledger_with(args, &[])
}

/// [`ledger`] with `env` set.
fn ledger_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars() {
        if name.starts_with("LEDGER_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// The one line a failed command wrote: it exited non-zero, wrote exactly
/// one line to stderr starting `error: `, and said no cause twice.
fn one_error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "exited 0: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    let parts: Vec<&str> = line["error: ".len()..].split(": ").collect();
    for (n, part) in parts.iter().enumerate() {
        assert!(
            part.len() < 12 || !parts[n + 1..].iter().any(|later| later.contains(part)),
            "{part:?} said twice: {line}"
        );
    }
    line.to_owned()
}

/// A TCP port that accepts connections and never says anything.
fn silent_port() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("address").to_string();
    (listener, address)
}

/// A port that answers every connection with a plain HTTP page.
fn http_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            );
        }
    });
    address
}

#[test]
fn every_error_is_one_line_with_its_cause_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev_key = dir.path().join("dev.key");
    std::fs::write(&dev_key, ledger_core::DEV_SECRET_KEY_HEX).expect("writes");
    let dev_key = dev_key.to_str().expect("utf8");
    let someone = "42hKZS2eMY6sHUPCPRuomRs3UMsc";
    let (_silent, silent) = silent_port();
    let http = http_port();
    let bad_config = dir.path().join("bad.toml");
    std::fs::write(&bad_config, "data-dirr = \"x\"\n").expect("writes");
    let bad_config = bad_config.to_str().expect("utf8");
    let transfer = |to: &'static str, amount: &'static str| {
        vec![
            "transfer", "--key", dev_key, "--to", to, "--amount", amount, "--fee", "1",
        ]
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["account", someone, "--node", "ws://127.0.0.1:1"],
            "cannot reach the node at ws://127.0.0.1:1: connection refused; is it running? `ledger-node run` starts one",
        ),
        (
            vec!["account", someone, "--node", "127.0.0.1:1"],
            "cannot reach the node at ws://127.0.0.1:1",
        ),
        (
            vec!["account", someone, "--node", "http://127.0.0.1:1"],
            "the API on that port is ws://127.0.0.1:1",
        ),
        (
            vec![
                "account",
                someone,
                "--node",
                "ws://127.0.0.1:1/api/v1/streams/valid_transactions",
            ],
            "is the valid-transactions stream, which answers no requests",
        ),
        (
            vec!["account", someone, "--node", &silent, "--timeout", "0.5"],
            "sent no WebSocket handshake within 500 ms",
        ),
        (
            vec!["account", someone, "--node", &http],
            "answered HTTP 200 instead of a WebSocket handshake",
        ),
        (
            vec!["transfer", "--key", "nope.key", "--to", someone, "--amount", "1", "--fee", "1"],
            "key file nope.key: No such file or directory",
        ),
        (transfer(someone, "hello"), "--amount: invalid decimal \"hello\""),
        (transfer("0xzz", "1"), "'0xzz' for '--to <TO>': \"0xzz\" is not an address: not hex after 0x"),
        (
            vec!["call", "--key", dev_key, "--to", someone, "--sig", "f(uint256)", "hello", "--fee", "1"],
            "f(uint256): \"hello\" is not a uint256",
        ),
        (
            vec!["call", "--key", dev_key, "--to", someone, "--sig", "f(address)", "x", "--fee", "1"],
            "\"x\" is not an address",
        ),
        (
            vec!["block"],
            "required arguments were not provided: <--number <NUMBER>|--hash <HASH>> (see `ledger-node block --help`)",
        ),
        (vec!["account"], "<ADDRESS> (see `ledger-node account --help`)"),
        (vec!["acount"], "unrecognized subcommand 'acount'; tip: "),
        (vec!["account", someone, "--timeout", "0"], "is not a number of seconds above 0"),
        (vec!["run", "--config", bad_config, "--print-config"], "`data-dirr` is not an option of `ledger-node run`"),
        (vec!["run", "--ws", "127.0.0.1"], "has no port"),
        (vec!["run", "--store", "rocks"], "unknown storage engine \"rocks\"; known: fjall, sled"),
    ];
    for (args, expected) in cases {
        let line = one_error_line(&ledger(&args));
        assert!(line.contains(expected), "{args:?}: {line}");
    }
}

/// A stand-in node that admits every push as Pending and never decides
/// it, as a network without quorum would: a client must not hang on it.
async fn undecided_node() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("ws://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    let request: Value = serde_json::from_str(&text).expect("JSON");
                    let id = request["id"].as_u64().expect("an id");
                    let answer = match request["name"].as_str() {
                        Some("push_transaction") => ok_answer(id, &TransactionStatus::pending()),
                        _ => error_answer(
                            Some(id),
                            &ApiError::new(ErrorCode::NotFound, "no such transaction"),
                        ),
                    };
                    if ws.send(Message::text(answer)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_never_decided_prints_its_hash_and_how_to_look_it_up() {
    let url = undecided_node().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("dev.key");
    std::fs::write(&key, ledger_core::DEV_SECRET_KEY_HEX).expect("writes");
    let key = key.to_str().expect("utf8").to_owned();
    let node = url.clone();
    let output = tokio::task::spawn_blocking(move || {
        ledger(&[
            "transfer",
            "--key",
            &key,
            "--to",
            "42hKZS2eMY6sHUPCPRuomRs3UMsc",
            "--amount",
            "1",
            "--fee",
            "1",
            "--node",
            &node,
            "--timeout",
            "1",
        ])
    })
    .await
    .expect("joins");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    let hash = lines[0]
        .strip_prefix("transaction ")
        .and_then(|rest| rest.strip_suffix(" pending"))
        .unwrap_or_else(|| panic!("the hash first: {stderr}"));
    assert_eq!(
        lines[1],
        format!(
            "error: transaction {hash} is not in a block after 1 s (it may still be: \
             `ledger-node tx {hash} --node {url}` looks it up)"
        )
    );
    assert!(output.stdout.is_empty(), "no final status was printed");
}

/// The files under `dir`, with their contents, or `None` if it does not
/// exist: what a failed start must leave as it found it.
fn snapshot(dir: &Path) -> Option<Vec<(PathBuf, Vec<u8>)>> {
    if !dir.exists() {
        return None;
    }
    let mut files = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(next) = todo.pop() {
        for entry in std::fs::read_dir(&next).expect("lists") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("reads");
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    Some(files)
}

#[test]
fn a_failed_start_leaves_the_disk_as_it_found_it() {
    let temp = tempfile::tempdir().expect("temp dir");
    let fresh = temp.path().join("fresh");
    let fresh_arg = fresh.to_str().expect("utf8");
    let bad_genesis = temp.path().join("genesis.json");
    std::fs::write(&bad_genesis, "{\"accounts\": 5}").expect("writes");
    let bad_genesis = bad_genesis.to_str().expect("utf8");
    let (_taken, taken) = silent_port();

    let refusals: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--ws", &taken], "cannot listen on"),
        (vec!["--genesis", bad_genesis], "genesis file"),
        (
            vec!["--max-request-bytes", "9000", "--max-message-bytes", "8000"],
            "is larger than --max-message-bytes",
        ),
    ];
    for (options, expected) in &refusals {
        let mut args = vec!["run", "--data-dir", fresh_arg];
        args.extend(options);
        let line = one_error_line(&ledger(&args));
        assert!(line.contains(expected), "{line}");
        assert!(!fresh.exists(), "{options:?} left {}", fresh.display());
    }

    // A data directory in use: the same refusals, and one of another
    // engine, leave every file of it as it was.
    let node = Node::start_with(&["--store", "fjall"]);
    let (status, _keep, existing) = node.stop();
    assert!(status.success());
    std::fs::remove_file(existing.join("node.key")).expect("removes");
    let before = snapshot(&existing);
    let existing_arg = existing.to_str().expect("utf8");
    let mut all = refusals.clone();
    all.push((vec!["--store", "sled"], "holds a fjall store, not sled"));
    for (options, expected) in &all {
        let mut args = vec!["run", "--data-dir", existing_arg];
        args.extend(options);
        let line = one_error_line(&ledger(&args));
        assert!(line.contains(expected), "{line}");
        assert_eq!(
            snapshot(&existing),
            before,
            "{options:?} changed the directory"
        );
    }
}

#[test]
fn run_takes_its_options_from_the_command_line_the_environment_and_a_file() {
    let temp = tempfile::tempdir().expect("temp dir");
    let from_file = temp.path().join("from-file");
    let config = temp.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "data-dir = {:?}\nmax-pending = 5\nmax-lag-blocks = 9\nblock-interval-ms = 7\n\
             peers = [\"127.0.0.1:2\", \"127.0.0.1:3\"]\n",
            from_file.display().to_string()
        ),
    )
    .expect("writes");
    let config = config.to_str().expect("utf8");
    let printed = ledger_with(
        &[
            "run",
            "--config",
            config,
            "--max-pending",
            "7",
            "--print-config",
        ],
        &[
            ("LEDGER_MAX_LAG_BLOCKS", "11"),
            ("LEDGER_WS", "127.0.0.1:0"),
        ],
    );
    assert!(printed.status.success(), "{printed:?}");
    let text = String::from_utf8_lossy(&printed.stdout);
    for line in [
        format!(
            "data-dir = {:?}  # config file",
            from_file.display().to_string()
        ),
        "max-pending = 7  # command line".to_owned(),
        "max-lag-blocks = 11  # environment LEDGER_MAX_LAG_BLOCKS".to_owned(),
        "block-interval-ms = 7  # config file".to_owned(),
        "peers = [\"127.0.0.1:2\", \"127.0.0.1:3\"]  # config file".to_owned(),
        "max-outgoing = 4096  # default".to_owned(),
        "ws = \"127.0.0.1:0\"  # environment LEDGER_WS".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
    // What it prints is a config file that gives the same options.
    let again = temp.path().join("printed.toml");
    std::fs::write(&again, text.as_bytes()).expect("writes");
    let reprinted = ledger(&[
        "run",
        "--config",
        again.to_str().expect("utf8"),
        "--print-config",
    ]);
    let reprinted = String::from_utf8_lossy(&reprinted.stdout);
    assert!(
        reprinted.contains("max-lag-blocks = 11  # config file"),
        "{reprinted}"
    );

    // And the node runs on them: its data directory is the file's.
    let mut node = Command::new(BINARY)
        .args(["run", "--config", config, "--ws", "127.0.0.1:0"])
        .env("LEDGER_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let lines =
        std::io::BufRead::lines(std::io::BufReader::new(node.stdout.take().expect("piped")));
    let ready = lines
        .map(|line| line.expect("utf8"))
        .find(|line| line.starts_with("ledger-node listening on ws://"));
    assert!(ready.is_some(), "the node said it listens");
    let mut logs =
        std::io::BufRead::lines(std::io::BufReader::new(node.stderr.take().expect("piped")));
    let log: Value = serde_json::from_str(&logs.next().expect("a log line").expect("utf8"))
        .expect("a JSON log line (LEDGER_LOG_FORMAT=json)");
    assert_eq!(log["level"], "INFO", "{log}");
    assert!(log["fields"]["message"].is_string(), "{log}");
    assert!(from_file.join("node.key").exists());
    let _ = node.kill();
    let _ = node.wait();
}

#[test]
fn a_dev_node_says_how_to_start_and_completions_and_info_work() {
    let node = Node::start();
    assert!(
        node.startup
            .iter()
            .any(|line| line.starts_with("explorer http://127.0.0.1:")),
        "{:?}",
        node.startup
    );
    assert!(
        node.startup
            .iter()
            .any(|line| line.contains(ledger_core::DEV_SECRET_KEY_HEX)),
        "the dev key is printed on the dev genesis: {:?}",
        node.startup
    );
    let info = ledger(&["info", "--node", &node.url, "--json"]);
    assert!(info.status.success(), "{info:?}");
    let info: Value = serde_json::from_slice(&info.stdout).expect("JSON");
    assert_eq!(info["mode"], "single");
    let peers = ledger(&["peers", "--node", &node.url]);
    assert_eq!(
        String::from_utf8_lossy(&peers.stdout).trim(),
        "no peers (the node runs alone)"
    );
    for (shell, marker) in [
        ("bash", "complete -F _ledger__node"),
        ("zsh", "#compdef ledger-node"),
    ] {
        let script = ledger(&["completions", shell]);
        assert!(script.status.success());
        let script = String::from_utf8_lossy(&script.stdout);
        assert!(
            script.contains(marker) && script.contains("--data-dir"),
            "{shell}"
        );
    }

    // A genesis of its own: no dev key to print.
    let temp = tempfile::tempdir().expect("temp dir");
    let genesis = temp.path().join("genesis.json");
    std::fs::write(&genesis, ledger_core::Genesis::dev().to_json()).expect("writes");
    let node = Node::start_with(&["--genesis", genesis.to_str().expect("utf8")]);
    assert!(
        !node.startup.iter().any(|line| line.contains("dev key")),
        "{:?}",
        node.startup
    );
}

#[test]
fn a_new_data_directory_is_fjall_and_an_old_one_keeps_its_engine() {
    let node = Node::start();
    let (status, _keep, dir) = node.stop();
    assert!(status.success());
    assert_eq!(
        ledger_store::Engine::detect(&dir),
        Some(ledger_store::Engine::Fjall)
    );
    let node = Node::start_with(&["--store", "sled"]);
    let (status, _keep, sled) = node.stop();
    assert!(status.success());
    // Without --store, the directory's own engine.
    let node = Node::start_in(&sled, &[]).expect("opens without --store");
    assert!(node.stop().0.success());
    assert_eq!(
        ledger_store::Engine::detect(&sled),
        Some(ledger_store::Engine::Sled)
    );
}
