//! Moving a chain between engines: `ledger-node export` of a stopped sled
//! node, `import` into a new fjall data directory (every block re-validated
//! and re-executed), and a node on the import that answers exactly as the
//! original did; `audit` finds the stopped store whole. Damaged and
//! mismatched inputs are refused by name.

#![allow(missing_docs)]

mod support;

use std::path::Path;
use std::process::Command;

use ledger_core::{Sealable, StatusCode};
use support::{address, dev_transfer, Node};

/// Runs `ledger-node ARGS`: (success, stdout, stderr).
fn ledger_node(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(support::BINARY)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf8")
}

/// Stops `node` and exports its chain: the node's temporary directory
/// (kept alive by the handle), its data directory and the export file.
fn stop_and_export(node: Node) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let (status, keep, dir) = node.stop();
    assert!(status.success());
    let work = keep.expect("the node's temp dir");
    let export = work.path().join("chain.bin");
    let (ok, _, err) = ledger_node(&["export", "--data-dir", path(&dir), "--out", path(&export)]);
    assert!(ok, "{err}");
    (work, dir, export)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sled_chain_exported_and_imported_into_fjall_answers_the_same() {
    let node = Node::start_with(&["--store", "sled"]);
    let client = node.client().await;
    let mut hashes = Vec::new();
    for n in 0..6u32 {
        let tx = dev_transfer(address(1 + n as u8 % 3), 100 + u64::from(n), 2, n);
        let status = client.push_and_wait(&tx.to_raw()).await.expect("push");
        assert_eq!(status.status_code, StatusCode::Success);
        hashes.push(tx.seal().hash());
    }
    let before = client.last_block_info().await.expect("top");
    let mut accounts = Vec::new();
    for n in 1..=3 {
        accounts.push(client.account_info(&address(n)).await.expect("account"));
    }
    let coinbase_address = node.coinbase;
    let coinbase = client
        .account_info(&coinbase_address)
        .await
        .expect("coinbase");
    drop(client);
    let (work, dir, export) = stop_and_export(node);
    // The stopped store holds what its blocks make, and audit says so.
    let (ok, out, err) = ledger_node(&["audit", "--data-dir", path(&dir)]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "audited {} blocks (6 transactions",
            before.top_block_number
        )),
        "{out}"
    );
    // Audited against another genesis, it names the difference.
    let other = work.path().join("other-genesis.json");
    let mut genesis = ledger_core::Genesis::dev();
    genesis.timestamp += 1;
    std::fs::write(&other, genesis.to_json()).expect("writes");
    let (ok, _, err) = ledger_node(&["audit", "--data-dir", path(&dir), "--genesis", path(&other)]);
    assert!(!ok && err.contains("genesis block is"), "{err}");
    // Again, to another file: it says what it wrote. An export is never
    // overwritten.
    let again = work.path().join("again.bin");
    let (ok, out, err) = ledger_node(&["export", "--data-dir", path(&dir), "--out", path(&again)]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("exported {} blocks", before.top_block_number + 1)),
        "{out}"
    );
    assert_eq!(std::fs::read(&again).ok(), std::fs::read(&export).ok());
    let (ok, _, err) = ledger_node(&["export", "--data-dir", path(&dir), "--out", path(&export)]);
    assert!(!ok && err.contains("cannot create"), "{err}");

    let imported = work.path().join("imported");
    let import = [
        "import",
        "--data-dir",
        path(&imported),
        "--store",
        "fjall",
        "--from",
        path(&export),
    ];
    let (ok, out, err) = ledger_node(&import);
    assert!(ok, "{err}");
    assert!(out.contains("on fjall"), "{out}");
    // Again, into the directory that now exists: refused.
    let (ok, _, err) = ledger_node(&import);
    assert!(!ok && err.contains("already exists"), "{err}");

    // The node's key is not part of the chain; the imported node has its
    // own, and produces nothing until asked, so it answers as the old one.
    let node = Node::start_in(&imported, &["--store", "fjall"]).expect("starts on the import");
    let client = node.client().await;
    assert_eq!(client.last_block_info().await.expect("top"), before);
    for (n, account) in (1..=3).zip(&accounts) {
        assert_eq!(
            &client.account_info(&address(n)).await.expect("account"),
            account
        );
    }
    assert_eq!(
        client
            .account_info(&coinbase_address)
            .await
            .expect("coinbase"),
        coinbase
    );
    for hash in &hashes {
        let status = client.find_transaction_status(hash).await.expect("status");
        assert_eq!(status.status_code, StatusCode::Success);
    }
}

#[test]
fn an_incomplete_or_foreign_export_is_refused() {
    let (work, dir, export) = stop_and_export(Node::start());

    // Cut short: the trailer is missing.
    let bytes = std::fs::read(&export).expect("read");
    let cut = work.path().join("cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).expect("write");
    let (ok, _, err) = ledger_node(&[
        "import",
        "--data-dir",
        path(&work.path().join("a")),
        "--from",
        path(&cut),
    ]);
    assert!(!ok && err.contains("incomplete"), "{err}");

    // Not an export at all.
    let (ok, _, err) = ledger_node(&[
        "import",
        "--data-dir",
        path(&work.path().join("b")),
        "--from",
        path(&dir.join("node.key")),
    ]);
    assert!(!ok && err.contains("is not a chain export"), "{err}");

    // Another genesis than the chain's.
    let genesis = work.path().join("genesis.json");
    std::fs::write(
        &genesis,
        r#"{"timestamp": 1, "block_reward": "1", "accounts": {"4Mq1maZ6wuaYe88oLzi5aN9zK771": "5"}}"#,
    )
    .expect("write");
    let (ok, _, err) = ledger_node(&[
        "import",
        "--data-dir",
        path(&work.path().join("c")),
        "--genesis",
        path(&genesis),
        "--from",
        path(&export),
    ]);
    assert!(!ok && err.contains("is not the genesis block"), "{err}");
    assert!(!work.path().join("c").exists(), "nothing was created");
}
