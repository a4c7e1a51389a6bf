//! A store that can no longer write. The node runs under a file-size
//! limit (`prlimit --fsize`, no root needed), so sled's log hits `EFBIG`
//! as a full disk would make it fail: the node must stop producing blocks,
//! refuse pushes saying why, keep answering every request, log the
//! failure, exit non-zero when stopped, and reopen cleanly without the
//! limit. A disk that fills up normally stops the node one step earlier,
//! at the space reserve, before any write fails (the second test).
//!
//! fjall preallocates its journal files at 64 MiB, so a file-size limit
//! stops it at open rather than at a commit; its write path is covered by
//! the engine-agnostic halt test in `crates/ledger-chain/tests/service.rs`.

mod support;

use futures_util::StreamExt;
use ledger_core::{Balance, StatusCode, Transaction};
use ledger_ws::WsError;
use support::{address, dev_key, dev_transfer, pay, Node};

/// Small enough to fill with a few thousand transfers, large enough for
/// the genesis and the first blocks.
const FILE_SIZE_LIMIT: &str = "--fsize=2097152";

#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_cannot_write_halts_blocks_not_reads() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("data");
    let mut node = Node::start_wrapped(&["prlimit", FILE_SIZE_LIMIT], &dir, &["--store", "sled"])
        .expect("starts under the limit");
    let client = node.client().await;

    // Push until the node refuses. Pushes are admitted at once and stored
    // in blocks every 50 ms, so the refusal comes once a block could not be
    // stored; a push admitted into that block never gets a final status
    // (it is in no block), so the test does not wait for final statuses.
    let mut refusal = None;
    for n in 0..50_000u32 {
        // 4 KB of data each, so the store's files grow quickly.
        let tx = Transaction::signed(
            &dev_key(),
            address(7),
            Balance::from(1),
            1,
            1_800_000_000 + n,
            vec![0xda; 4096],
        );
        let mut statuses = client.push_transaction(&tx.to_raw()).await.expect("sent");
        match statuses.next().await.expect("an answer") {
            Ok(status) => assert_eq!(status.status_code, StatusCode::Pending, "push {n}"),
            Err(error) => {
                refusal = Some(error);
                break;
            }
        }
    }
    let refusal = refusal.expect("the store filled up");
    let message = match &refusal {
        WsError::Api(error) => error.message.clone(),
        other => panic!("expected an API error, got {other}"),
    };
    // The halt, naming the failure: found by the block's write, or first
    // by a read (sled's background writer can meet the limit before the
    // block's own write does, and every later use of its log answers it).
    assert!(
        message.starts_with("the node stopped accepting transactions: ")
            && message.contains("File too large"),
        "{message}"
    );
    let line = node.log_line("the store failed").await;
    assert!(
        line.contains("answers reads only") && line.contains("File too large"),
        "{line}"
    );

    // Every read is answered: with what was stored, or with an error
    // naming the failure (after a failed block write the engine's memory
    // may hold part of the block its files do not, so the store serves
    // nothing from it until it is reopened from disk).
    for answer in [
        client.last_block_info().await.map(drop),
        client.account_info(&address(7)).await.map(drop),
    ] {
        match answer {
            Ok(()) => {}
            Err(WsError::Api(error)) => assert!(
                error.message.contains("File too large")
                    || (error.message.contains("the write of block")
                        && error
                            .message
                            .contains("answers nothing more until reopened")),
                "{}",
                error.message
            ),
            Err(other) => panic!("a read must be answered, got {other:?}"),
        }
    }
    let mut again = client
        .push_transaction(&dev_transfer(address(7), 1, 1, 99_999).to_raw())
        .await
        .expect("sent");
    match again.next().await {
        Some(Err(WsError::Api(error))) => assert_eq!(error.message, message),
        other => panic!("a push after the failure is refused with the halt, got {other:?}"),
    }
    drop(client);

    // Stopped, it says it failed.
    let status = node.signal("TERM");
    assert!(
        !status.success(),
        "exits non-zero after a storage failure: {status:?}"
    );

    // Without the limit, the same directory opens: a chain of whole blocks
    // (the receiver's balance is its transfer count: no block is half
    // there), and it carries on.
    let node = Node::start_in(&dir, &[]).expect("reopens");
    let client = node.client().await;
    let top = client.last_block_info().await.expect("reads");
    assert!(
        top.top_block_number > 0,
        "blocks were stored before the failure"
    );
    let account = client.account_info(&address(7)).await.expect("reads");
    assert_eq!(
        Balance::from(account.transaction_hashes.len() as u64),
        account.balance
    );
    for depth in 0..=top.top_block_number {
        client
            .find_block(ledger_ws::protocol::BlockRef::Number(depth))
            .await
            .expect("every block reads");
    }
    pay(&client, address(7), 1, 1, 100_000).await;
}

/// A disk with less free space than the store keeps in reserve (here: a
/// reserve no disk has, so the test needs no full disk): the block is
/// refused before anything is written, so the node halts with its state
/// exactly as stored, reads stay true, and a restart with space carries on.
#[tokio::test(flavor = "multi_thread")]
async fn a_disk_below_the_reserve_halts_blocks_before_any_write_and_reads_stay_true() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("data");
    let mut node = Node::start_in(&dir, &[]).expect("starts");
    let client = node.client().await;
    pay(&client, address(9), 5, 1, 1).await;
    let top = client.last_block_info().await.expect("reads");
    drop(client);
    assert!(node.signal("TERM").success());

    // 1 EiB in MiB.
    let mut node = Node::start_in(&dir, &["--disk-reserve-mib", "1099511627776"])
        .expect("starts: reads need no space");
    let client = node.client().await;
    let mut pending = client
        .push_transaction(&dev_transfer(address(9), 5, 1, 2).to_raw())
        .await
        .expect("sent");
    assert_eq!(
        pending
            .next()
            .await
            .expect("an answer")
            .expect("admitted")
            .status_code,
        StatusCode::Pending
    );
    let line = node.log_line("the store failed").await;
    assert!(
        line.contains("storing a block failed")
            && line.contains("bytes free on its disk")
            && line.contains("nothing was written"),
        "{line}"
    );

    // Reads answer the stored chain, unchanged.
    assert_eq!(client.last_block_info().await.expect("reads"), top);
    let account = client.account_info(&address(9)).await.expect("reads");
    assert_eq!(account.balance, Balance::from(5));
    let refused = client
        .push_transaction(&dev_transfer(address(9), 5, 1, 3).to_raw())
        .await
        .expect("sent")
        .next()
        .await;
    match refused {
        Some(Err(WsError::Api(error))) => {
            assert!(
                error.message.contains("bytes free on its disk"),
                "{}",
                error.message
            )
        }
        other => panic!("a push after the halt is refused, got {other:?}"),
    }
    drop(client);
    assert!(
        !node.signal("TERM").success(),
        "exits non-zero after the halt"
    );

    // With the reserve met again, the same directory carries on.
    let node = Node::start_in(&dir, &[]).expect("reopens");
    let client = node.client().await;
    assert_eq!(client.last_block_info().await.expect("reads"), top);
    pay(&client, address(9), 5, 1, 4).await;
    let account = client.account_info(&address(9)).await.expect("reads");
    assert_eq!(account.balance, Balance::from(10));
}
