//! Reopening a store: everything acknowledged is there, and a store that
//! is not the configured chain, or not a ledger store, is refused.

use ledger_core::testing::{genesis_for, keys, produce};
use ledger_core::{Address, ChainConfig, CoreError, Genesis, Ledger, StateRead, TransactionRecord};
use ledger_store::{Damage, Incompatibility, SledStore, StoreError, FORMAT_VERSION};

struct Snapshot {
    tip: ledger_core::ChainTip,
    accounts: Vec<(Address, ledger_core::Account)>,
    records: Vec<TransactionRecord>,
    lists: Vec<Vec<ledger_core::Hash>>,
}

fn snapshot(store: &SledStore) -> Snapshot {
    let tip = store.tip().expect("reads").expect("tip");
    let accounts = store.accounts().expect("reads");
    let mut records = Vec::new();
    for depth in 0..=tip.depth {
        let block = store.block_at(depth).expect("reads").expect("block");
        for tx in &block.transactions {
            records.push(
                store
                    .transaction(&tx.hash())
                    .expect("reads")
                    .expect("record"),
            );
        }
    }
    let lists = accounts
        .iter()
        .map(|(address, _)| {
            store
                .account_transactions(address, 0, usize::MAX)
                .expect("reads")
        })
        .collect();
    Snapshot {
        tip,
        accounts,
        records,
        lists,
    }
}

fn chain(dir: &std::path::Path, blocks: usize) -> (Genesis, Snapshot) {
    let keys = keys(5, 11);
    let genesis = genesis_for(&keys);
    let store = SledStore::open(dir).expect("opens");
    let mut ledger = Ledger::open(store, genesis.clone(), ChainConfig::default()).expect("ledger");
    for n in 0..blocks {
        produce(&mut ledger, &keys, keys[n % 5].address(), 1 + n % 7).expect("produces");
    }
    let snap = snapshot(ledger.store());
    (genesis, snap)
}

/// Retries `open` while the store in `dir` is still locked by a database
/// this process just dropped: sled's background thread lets go of the lock
/// a moment after the handle is gone, and there is nothing to wait on but
/// the lock itself.
fn when_unlocked<T, E>(dir: &std::path::Path, open: impl Fn() -> Result<T, E>) -> Result<T, E> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match open() {
            Err(_) if ledger_store::is_locked(dir) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// Opens the store in `dir` once nothing else in this process holds it.
fn reopen(dir: &std::path::Path) -> Result<SledStore, StoreError> {
    when_unlocked(dir, || SledStore::open(dir))
}

/// Changes the raw sled database in `dir` behind the store's back.
fn tamper(dir: &std::path::Path, change: impl FnOnce(&sled::Db)) {
    let db = when_unlocked(dir, || sled::open(dir)).expect("raw open");
    change(&db);
    db.flush().expect("flush");
}

#[test]
fn reopening_gives_the_same_chain_and_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (genesis, before) = chain(dir.path(), 12);
    assert_eq!(before.tip.depth, 12);

    let store = reopen(dir.path()).expect("reopens");
    let after = snapshot(&store);
    assert_eq!(after.tip, before.tip);
    assert_eq!(after.accounts, before.accounts);
    assert_eq!(after.records, before.records);
    assert_eq!(after.lists, before.lists);

    // The ledger carries on from the stored tip.
    let keys = keys(5, 11);
    let mut ledger = Ledger::open(store, genesis, ChainConfig::default()).expect("same genesis");
    let next = produce(&mut ledger, &keys, keys[0].address(), 3).expect("produces");
    assert_eq!(next.block.depth, 13);
    assert_eq!(next.block.previous_block_hash, before.tip.hash);
}

#[test]
fn another_genesis_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut genesis, before) = chain(dir.path(), 2);
    genesis.timestamp += 1;
    let store = reopen(dir.path()).expect("opens");
    let error = Ledger::open(store, genesis, ChainConfig::default())
        .err()
        .expect("refused");
    assert!(
        matches!(error, CoreError::GenesisMismatch { .. }),
        "{error}"
    );
    let store = reopen(dir.path()).expect("opens");
    assert_eq!(
        store.tip().expect("reads"),
        Some(before.tip),
        "nothing was written"
    );
}

#[test]
fn a_store_is_opened_by_one_process_at_a_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = SledStore::open(dir.path()).expect("opens");
    let error = SledStore::open(dir.path())
        .err()
        .expect("the directory is locked");
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string()),
        "{error}"
    );
}

#[test]
fn another_format_version_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    chain(dir.path(), 1);
    tamper(dir.path(), |db| {
        db.insert(b"mformat", &(FORMAT_VERSION + 1).to_be_bytes()[..])
            .expect("write");
    });
    let error = reopen(dir.path()).err().expect("refused");
    assert!(
        matches!(
            error,
            StoreError::Incompatible {
                found: Incompatibility::Version { found },
                ..
            } if found == FORMAT_VERSION + 1
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn a_directory_of_other_data_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    tamper(dir.path(), |db| {
        db.insert(b"something", b"else").expect("write");
    });
    let error = reopen(dir.path()).err().expect("refused");
    assert!(
        matches!(
            error,
            StoreError::Incompatible {
                found: Incompatibility::NotALedgerStore,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_damaged_tip_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, before) = chain(dir.path(), 3);
    tamper(dir.path(), |db| {
        // The index above the tip says a block 4 exists: a torn write that
        // the atomic batch makes impossible, so a damaged store.
        let mut key = vec![b'd'];
        key.extend_from_slice(&4u64.to_be_bytes());
        db.insert(key, &before.tip.hash.0[..]).expect("write");
    });
    let error = reopen(dir.path()).err().expect("refused");
    assert!(
        matches!(
            &error,
            StoreError::Damaged {
                damage: Damage::AboveTip { block, tip_depth: 3 },
                ..
            } if *block == before.tip.hash
        ),
        "{error}"
    );
}

#[test]
fn a_block_that_no_longer_hashes_to_its_key_is_damage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, before) = chain(dir.path(), 2);
    tamper(dir.path(), |db| {
        let mut key = vec![b'k'];
        key.extend_from_slice(&before.tip.hash.0);
        let mut bytes = db.get(&key).expect("read").expect("block").to_vec();
        bytes[9] ^= 1; // flip a bit of the nonce
        db.insert(key, bytes).expect("write");
    });
    let error = reopen(dir.path()).err().expect("refused");
    assert!(
        matches!(
            &error,
            StoreError::Damaged {
                damage: Damage::BlockHash { stored_under, .. },
                ..
            } if *stored_under == before.tip.hash
        ),
        "{error}"
    );
}

#[test]
fn a_store_in_use_is_refused_as_locked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let held = reopen(dir.path()).expect("opens");
    assert!(ledger_store::is_locked(dir.path()));
    match SledStore::open(dir.path()) {
        Err(StoreError::Locked { path }) => assert_eq!(path, dir.path()),
        other => panic!("expected the store to be locked, got {:?}", other.err()),
    }
    drop(held);
}
