//! Reopening a store: everything acknowledged is there, and a store that
//! is not the configured chain, or not a ledger store, is refused.

use ledger_core::testing::{genesis_for, keys, produce};
use ledger_core::{Address, ChainConfig, CoreError, Genesis, Ledger, StateRead, TransactionRecord};
use ledger_store::{Damage, Engine, Incompatibility, Store, StoreError, FORMAT_VERSION};

struct Snapshot {
    tip: ledger_core::ChainTip,
    accounts: Vec<(Address, ledger_core::Account)>,
    records: Vec<TransactionRecord>,
    lists: Vec<Vec<ledger_core::Hash>>,
}

fn snapshot(store: &Store) -> Snapshot {
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

fn chain(engine: Engine, dir: &std::path::Path, blocks: usize) -> (Genesis, Snapshot) {
    let keys = keys(5, 11);
    let genesis = genesis_for(&keys);
    let store = Store::open(dir, engine).expect("opens");
    let mut ledger = Ledger::open(store, genesis.clone(), ChainConfig::default()).expect("ledger");
    for n in 0..blocks {
        produce(&mut ledger, &keys, keys[n % 5].address(), 1 + n % 7).expect("produces");
    }
    let snap = snapshot(ledger.store());
    (genesis, snap)
}

/// Retries `open` while the store in `dir` is still locked by a database
/// this process just dropped: the engines' background threads let go of
/// the lock a moment after the handle is gone, and there is nothing to
/// wait on but the lock itself.
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
fn reopen(engine: Engine, dir: &std::path::Path) -> Result<Store, StoreError> {
    when_unlocked(dir, || Store::open(dir, engine))
}

/// The raw engine under a store, to change it behind the store's back.
/// Tables are named as the store's layout names them (`ledger_store` docs).
enum Raw {
    Sled(::sled::Db),
    Fjall(::fjall::Database),
}

impl Raw {
    fn open(engine: Engine, dir: &std::path::Path) -> Raw {
        match engine {
            Engine::Sled => Raw::Sled(when_unlocked(dir, || ::sled::open(dir)).expect("raw open")),
            Engine::Fjall => Raw::Fjall(
                when_unlocked(dir, || ::fjall::Database::builder(dir).open()).expect("raw open"),
            ),
            other => panic!("no raw access to {other}"),
        }
    }

    fn sled_key(prefix: u8, key: &[u8]) -> Vec<u8> {
        [&[prefix][..], key].concat()
    }

    fn keyspace(db: &::fjall::Database, table: &str) -> ::fjall::Keyspace {
        db.keyspace(table, ::fjall::KeyspaceCreateOptions::default)
            .expect("keyspace")
    }

    fn get(&self, (table, prefix): (&str, u8), key: &[u8]) -> Option<Vec<u8>> {
        match self {
            Raw::Sled(db) => db
                .get(Raw::sled_key(prefix, key))
                .expect("read")
                .map(|v| v.to_vec()),
            Raw::Fjall(db) => Raw::keyspace(db, table)
                .get(key)
                .expect("read")
                .map(|v| v.to_vec()),
        }
    }

    fn insert(&self, (table, prefix): (&str, u8), key: &[u8], value: &[u8]) {
        match self {
            Raw::Sled(db) => {
                db.insert(Raw::sled_key(prefix, key), value).expect("write");
                db.flush().expect("flush");
            }
            Raw::Fjall(db) => {
                Raw::keyspace(db, table).insert(key, value).expect("write");
                db.persist(::fjall::PersistMode::SyncAll).expect("persist");
            }
        }
    }
}

const META: (&str, u8) = ("meta", b'm');
const BLOCK_INDEX: (&str, u8) = ("block_index", b'd');
const BLOCKS: (&str, u8) = ("blocks", b'k');

fn reopening_gives_the_same_chain_and_state(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (genesis, before) = chain(engine, dir.path(), 12);
    assert_eq!(before.tip.depth, 12);

    let store = reopen(engine, dir.path()).expect("reopens");
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

fn another_genesis_is_refused(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut genesis, before) = chain(engine, dir.path(), 2);
    genesis.timestamp += 1;
    let store = reopen(engine, dir.path()).expect("opens");
    let error = Ledger::open(store, genesis, ChainConfig::default())
        .err()
        .expect("refused");
    assert!(
        matches!(error, CoreError::GenesisMismatch { .. }),
        "{error}"
    );
    let store = reopen(engine, dir.path()).expect("opens");
    assert_eq!(
        store.tip().expect("reads"),
        Some(before.tip),
        "nothing was written"
    );
}

fn a_store_in_use_is_refused_as_locked(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let held = reopen(engine, dir.path()).expect("opens");
    assert!(ledger_store::is_locked(dir.path()));
    match Store::open(dir.path(), engine) {
        Err(error @ StoreError::Locked { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&dir.path().display().to_string()),
                "{message}"
            );
        }
        other => panic!("expected the store to be locked, got {:?}", other.err()),
    }
    drop(held);
}

fn another_engines_store_is_refused(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, before) = chain(engine, dir.path(), 2);
    let other = Engine::ALL
        .into_iter()
        .find(|other| *other != engine)
        .expect("two engines");
    let error = reopen(other, dir.path()).err().expect("refused");
    assert!(
        matches!(
            error,
            StoreError::OtherEngine { found, requested, .. } if found == engine && requested == other
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("is a {engine} store")),
        "{message}"
    );
    // The refused engine wrote nothing there.
    let store = reopen(engine, dir.path()).expect("opens with its engine");
    assert_eq!(store.tip().expect("reads"), Some(before.tip));
}

fn another_format_version_is_refused(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    chain(engine, dir.path(), 1);
    Raw::open(engine, dir.path()).insert(META, b"format", &(FORMAT_VERSION + 1).to_be_bytes());
    let error = reopen(engine, dir.path()).err().expect("refused");
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

fn a_record_of_another_engine_is_damage(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    chain(engine, dir.path(), 1);
    Raw::open(engine, dir.path()).insert(META, b"engine", b"rocksdb");
    let error = reopen(engine, dir.path()).err().expect("refused");
    assert!(
        matches!(
            &error,
            StoreError::Damaged {
                damage: Damage::Engine { recorded, engine: reading },
                ..
            } if recorded == "rocksdb" && *reading == engine
        ),
        "{error}"
    );
}

fn a_directory_of_other_data_is_refused(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    Raw::open(engine, dir.path()).insert(BLOCKS, b"something", b"else");
    let error = reopen(engine, dir.path()).err().expect("refused");
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

fn a_damaged_tip_is_refused(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, before) = chain(engine, dir.path(), 3);
    // The index above the tip says a block 4 exists: a torn write that
    // the atomic batch makes impossible, so a damaged store.
    Raw::open(engine, dir.path()).insert(BLOCK_INDEX, &4u64.to_be_bytes(), &before.tip.hash.0);
    let error = reopen(engine, dir.path()).err().expect("refused");
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

fn a_block_that_no_longer_hashes_to_its_key_is_damage(engine: Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, before) = chain(engine, dir.path(), 2);
    let raw = Raw::open(engine, dir.path());
    let mut bytes = raw.get(BLOCKS, &before.tip.hash.0).expect("block");
    bytes[9] ^= 1; // flip a bit of the nonce
    raw.insert(BLOCKS, &before.tip.hash.0, &bytes);
    drop(raw);
    let error = reopen(engine, dir.path()).err().expect("refused");
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

/// Every test above, once per engine, in a module named after it.
macro_rules! on_every_engine {
    ($($test:ident),* $(,)?) => {
        mod on_sled {
            $( #[test] fn $test() { super::$test(ledger_store::Engine::Sled) } )*
        }
        mod on_fjall {
            $( #[test] fn $test() { super::$test(ledger_store::Engine::Fjall) } )*
        }
    };
}

on_every_engine!(
    reopening_gives_the_same_chain_and_state,
    another_genesis_is_refused,
    a_store_in_use_is_refused_as_locked,
    another_engines_store_is_refused,
    another_format_version_is_refused,
    a_record_of_another_engine_is_damage,
    a_directory_of_other_data_is_refused,
    a_damaged_tip_is_refused,
    a_block_that_no_longer_hashes_to_its_key_is_damage,
);

#[test]
fn a_sled_store_of_format_1_without_an_engine_record_opens() {
    // Stores written before fjall existed record no engine; they are sled's.
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, before) = chain(Engine::Sled, dir.path(), 2);
    let raw = when_unlocked(dir.path(), || ::sled::open(dir.path())).expect("raw open");
    raw.remove(b"mengine")
        .expect("write")
        .expect("the engine was recorded");
    raw.flush().expect("flush");
    drop(raw);
    let store = reopen(Engine::Sled, dir.path()).expect("opens");
    assert_eq!(store.tip().expect("reads"), Some(before.tip));
}
