//! Behaviour of admission, execution, production and validation through
//! [`Ledger`] on the in-memory store.

use std::collections::BTreeMap;

use ledger_core::{
    encode_base64, AccountKind, ActionType, Address, Admission, Balance, Block, BlockError,
    ChainConfig, CoreError, Genesis, Ledger, MemoryStore, NoContracts, RawTransaction, Sealable,
    SecretKey, Signature, SignatureError, StateRead, StatusCode, Transaction, VerifiedTransaction,
};

const T0: u32 = 1_700_000_000;

struct Fixture {
    ledger: Ledger<MemoryStore>,
    alice: SecretKey,
    bob: SecretKey,
    miner: Address,
}

fn keys(seed: u64) -> (SecretKey, SecretKey, SecretKey) {
    let [a, b, c] = <[SecretKey; 3]>::try_from(ledger_core::testing::keys(3, seed))
        .unwrap_or_else(|_| unreachable!("three keys asked for"));
    (a, b, c)
}

/// A chain at `T0` funding `alice` with 1,000,000.
fn genesis_funding(alice: &SecretKey) -> Genesis {
    Genesis {
        timestamp: T0,
        block_reward: Balance::from(1000),
        accounts: BTreeMap::from([(alice.address(), Balance::from(1_000_000))]),
        settings: Default::default(),
        validators: Vec::new(),
    }
}

fn fixture_with(config: ChainConfig) -> Fixture {
    let (alice, bob, miner) = keys(7);
    let ledger = Ledger::open(MemoryStore::new(), genesis_funding(&alice), config).expect("opens");
    Fixture {
        ledger,
        alice,
        bob,
        miner: miner.address(),
    }
}

fn fixture() -> Fixture {
    fixture_with(ChainConfig::default())
}

fn transfer(from: &SecretKey, to: Address, amount: u64, fee: u64, nonce: u32) -> Transaction {
    Transaction::signed(from, to, Balance::from(amount), fee, T0 + nonce, Vec::new())
}

fn balance(ledger: &Ledger<MemoryStore>, address: &Address) -> Balance {
    ledger
        .store()
        .account_or_default(address)
        .expect("reads")
        .balance
}

#[test]
fn push_then_block_moves_amount_and_fee_and_records_success() {
    let mut f = fixture();
    let tx = transfer(&f.alice, f.bob.address(), 100, 5, 1);
    let status = f.ledger.push(&tx.to_raw()).expect("push");
    assert_eq!(status.status_code, StatusCode::Pending);

    let changes = f
        .ledger
        .produce_block(T0 + 10, f.miner)
        .expect("produce")
        .expect("a block");
    assert_eq!(changes.block.depth, 1);
    assert_eq!(changes.block.timestamp, T0 + 10);
    assert!(f.ledger.mempool().is_empty());

    assert_eq!(
        balance(&f.ledger, &f.alice.address()),
        Balance::from(1_000_000 - 105)
    );
    assert_eq!(balance(&f.ledger, &f.bob.address()), Balance::from(100));
    assert_eq!(balance(&f.ledger, &f.miner), Balance::from(1000 + 5));

    let hash = tx.seal().hash();
    let record = f
        .ledger
        .store()
        .transaction(&hash)
        .expect("reads")
        .expect("recorded");
    assert_eq!(record.block_depth, 1);
    assert_eq!(record.status.status_code, StatusCode::Success);
    assert_eq!(record.status.action_type, ActionType::Transfer);
    assert_eq!(record.status.fee_left, 0);
    assert_eq!(record.status.message, "");

    let alice = f
        .ledger
        .store()
        .account_or_default(&f.alice.address())
        .expect("reads");
    assert_eq!(alice.nonce, 1);
    let bob = f
        .ledger
        .store()
        .account_or_default(&f.bob.address())
        .expect("reads");
    assert_eq!(bob.nonce, 0, "receiving does not count");
    for who in [f.alice.address(), f.bob.address()] {
        let list = f
            .ledger
            .store()
            .account_transactions(&who, 0, 10)
            .expect("reads");
        assert_eq!(list, vec![hash], "sender and receiver list the transaction");
    }
}

#[test]
fn nothing_pending_produces_no_block() {
    let mut f = fixture();
    assert!(f
        .ledger
        .produce_block(T0 + 1, f.miner)
        .expect("produce")
        .is_none());
    assert_eq!(f.ledger.tip().expect("tip").depth, 0);
}

#[test]
fn block_time_never_goes_back() {
    let mut f = fixture();
    f.ledger
        .push(&transfer(&f.alice, f.bob.address(), 1, 1, 1).to_raw())
        .expect("push");
    let changes = f
        .ledger
        .produce_block(T0 - 100, f.miner)
        .expect("produce")
        .expect("block");
    assert_eq!(
        changes.block.timestamp, T0,
        "the parent's time when the clock is behind"
    );
}

#[test]
fn admission_counts_pending_spend_of_the_sender() {
    let mut f = fixture();
    let first = transfer(&f.alice, f.bob.address(), 600_000, 0, 1);
    let second = transfer(&f.alice, f.bob.address(), 400_000, 1, 2);
    let third = transfer(&f.alice, f.bob.address(), 400_000, 0, 3);
    assert_eq!(
        f.ledger.push(&first.to_raw()).expect("push").status_code,
        StatusCode::Pending
    );
    let refused = f.ledger.push(&second.to_raw()).expect("push");
    assert_eq!(refused.status_code, StatusCode::NotEnoughBalance);
    assert!(
        refused.message.contains("600000 pending"),
        "{}",
        refused.message
    );
    assert_eq!(
        f.ledger.push(&third.to_raw()).expect("push").status_code,
        StatusCode::Pending
    );
    assert_eq!(
        f.ledger.mempool().pending_spend(&f.alice.address()),
        Balance::from(1_000_000)
    );
}

#[test]
fn the_same_hash_is_pending_once_and_applied_once() {
    let mut f = fixture();
    let tx = transfer(&f.alice, f.bob.address(), 10, 1, 1);
    let verified = VerifiedTransaction::from_raw(&tx.to_raw()).expect("valid");
    assert_eq!(
        f.ledger.admit(verified.clone()).expect("admit"),
        Admission::Admitted
    );
    assert_eq!(
        f.ledger.admit(verified.clone()).expect("admit"),
        Admission::AlreadyPending
    );
    assert_eq!(f.ledger.mempool().len(), 1);
    f.ledger
        .produce_block(T0 + 1, f.miner)
        .expect("produce")
        .expect("block");

    let again = f.ledger.admit(verified).expect("admit");
    let Admission::AlreadyApplied(status) = again else {
        panic!("expected the stored status, got {again:?}");
    };
    assert_eq!(status.status_code, StatusCode::Success);
    assert!(f.ledger.mempool().is_empty());
    assert!(f
        .ledger
        .produce_block(T0 + 2, f.miner)
        .expect("produce")
        .is_none());
    assert_eq!(balance(&f.ledger, &f.bob.address()), Balance::from(10));
}

#[test]
fn a_block_written_behind_a_ledger_s_back_is_not_applied_twice() {
    // A ledger builds from its mempool without looking the transactions
    // up again while the store's tip is the one it left; when something
    // else wrote a block meanwhile, it looks again.
    let (alice, bob, miner) = keys(7);
    let genesis = genesis_funding(&alice);
    let store = std::sync::Arc::new(MemoryStore::new());
    let config = ChainConfig::default();
    let mut ours = Ledger::open(store.clone(), genesis.clone(), config).expect("opens");
    let mut theirs = Ledger::open(store.clone(), genesis, config).expect("opens");
    let tx = transfer(&alice, bob.address(), 10, 1, 1);
    assert_eq!(
        ours.push(&tx.to_raw()).expect("pushes").status_code,
        StatusCode::Pending
    );
    assert_eq!(
        theirs.push(&tx.to_raw()).expect("pushes").status_code,
        StatusCode::Pending
    );
    theirs
        .produce_block(T0 + 1, miner.address())
        .expect("produces")
        .expect("a block");
    assert_eq!(ours.mempool().len(), 1, "ours still holds it pending");
    assert!(
        ours.build_block(T0 + 2, miner.address())
            .expect("builds")
            .is_none(),
        "already applied, so nothing is left to build"
    );
    assert_eq!(
        store
            .account_or_default(&bob.address())
            .expect("reads")
            .balance,
        Balance::from(10)
    );
}

#[test]
fn the_second_of_an_ambiguous_pair_is_the_first() {
    // Two field sets with one preimage are one transaction: only the first
    // seen is applied.
    let mut f = fixture();
    let a = RawTransaction {
        from: f.alice.address().to_string(),
        to: f.bob.address().to_string(),
        amount: "1".into(),
        fee: "23".into(),
        timestamp: T0,
        data: String::new(),
        sign: String::new(),
    };
    let mut tx = Transaction::from_raw(&RawTransaction {
        sign: encode_base64(&[1; 65]),
        ..a.clone()
    })
    .expect("parses")
    .into_inner();
    tx.sign(&f.alice);
    let a = RawTransaction {
        sign: tx.to_raw().sign,
        ..a
    };
    let b = RawTransaction {
        amount: "12".into(),
        fee: "3".into(),
        ..a.clone()
    };
    assert_eq!(
        f.ledger.push(&a).expect("push").status_code,
        StatusCode::Pending
    );
    assert_eq!(
        f.ledger.push(&b).expect("push").status_code,
        StatusCode::Pending
    );
    assert_eq!(f.ledger.mempool().len(), 1);
    f.ledger
        .produce_block(T0 + 1, f.miner)
        .expect("produce")
        .expect("block");
    assert_eq!(
        balance(&f.ledger, &f.bob.address()),
        Balance::from(1),
        "a's amount, not b's"
    );
}

#[test]
fn mempool_is_bounded() {
    let mut f = fixture_with(ChainConfig {
        max_block_transactions: 10,
        max_pending: 3,
        ..ChainConfig::default()
    });
    for nonce in 0..3 {
        let tx = transfer(&f.alice, f.bob.address(), 1, 0, nonce);
        f.ledger.push(&tx.to_raw()).expect("admitted");
    }
    let overflow = transfer(&f.alice, f.bob.address(), 1, 0, 3);
    let error = f.ledger.push(&overflow.to_raw()).expect_err("full");
    assert!(
        matches!(error, CoreError::MempoolFull { max: 3 }),
        "{error}"
    );
    assert!(error.to_string().contains("3 transactions are pending"));
    f.ledger.produce_block(T0 + 1, f.miner).expect("produce");
    assert_eq!(
        f.ledger.push(&overflow.to_raw()).expect("push").status_code,
        StatusCode::Pending
    );
}

#[test]
fn blocks_take_the_oldest_pending_up_to_the_maximum() {
    let mut f = fixture_with(ChainConfig {
        max_block_transactions: 2,
        max_pending: 100,
        ..ChainConfig::default()
    });
    let txs: Vec<_> = (0..5)
        .map(|n| transfer(&f.alice, f.bob.address(), 1, 0, n))
        .collect();
    for tx in &txs {
        f.ledger.push(&tx.to_raw()).expect("push");
    }
    let hashes: Vec<_> = txs.iter().map(|tx| tx.clone().seal().hash()).collect();
    let mut included = Vec::new();
    while let Some(changes) = f.ledger.produce_block(T0 + 1, f.miner).expect("produce") {
        assert!(changes.block.transactions.len() <= 2);
        included.extend(changes.block.transactions.iter().map(|tx| tx.hash()));
    }
    assert_eq!(included, hashes, "arrival order");
    assert_eq!(f.ledger.tip().expect("tip").depth, 3);
}

#[test]
fn execution_checks_balance_again_and_still_counts_the_nonce() {
    // Admitted against one state, executed against another: bob's spend was
    // admitted while he had the funds from a pending transfer... which is
    // impossible via admission, so build the block directly.
    let mut f = fixture();
    let poor = transfer(&f.bob, f.alice.address(), 50, 1, 1);
    let block = Block {
        depth: 1,
        nonce: 0,
        timestamp: T0 + 1,
        previous_block_hash: f.ledger.tip().expect("tip").hash,
        coinbase: f.miner,
        transactions: vec![poor.clone().seal()],
    };
    let changes = f.ledger.import_block(block).expect("valid block");
    let (_, record) = &changes.transactions[0];
    assert_eq!(record.status.status_code, StatusCode::NotEnoughBalance);
    assert_eq!(record.status.action_type, ActionType::Transfer);
    assert!(
        record.status.message.contains("does not cover"),
        "{}",
        record.status.message
    );
    let bob = f
        .ledger
        .store()
        .account_or_default(&f.bob.address())
        .expect("reads");
    assert_eq!(bob.balance, Balance::ZERO);
    assert_eq!(
        bob.nonce, 1,
        "the nonce counts applied transactions whatever their outcome"
    );
    assert_eq!(
        balance(&f.ledger, &f.miner),
        Balance::from(1000),
        "only the reward"
    );
}

#[test]
fn contract_creation_fails_without_an_engine_and_moves_nothing() {
    let mut f = fixture();
    let create = Transaction::signed(
        &f.alice,
        Address::NULL,
        Balance::from(10),
        50_000,
        T0 + 1,
        vec![0x60, 0x80, 0x60, 0x40, 0x52],
    );
    assert_eq!(
        f.ledger.push(&create.to_raw()).expect("push").status_code,
        StatusCode::Pending
    );
    let changes = f
        .ledger
        .produce_block(T0 + 2, f.miner)
        .expect("produce")
        .expect("block");
    let (_, record) = &changes.transactions[0];
    assert_eq!(record.status.status_code, StatusCode::Failed);
    assert_eq!(record.status.action_type, ActionType::ContractCreation);
    assert_eq!(record.status.message, NoContracts::REASON);
    assert_eq!(record.status.fee_left, 50_000, "no gas was used");
    assert_eq!(
        balance(&f.ledger, &f.alice.address()),
        Balance::from(1_000_000)
    );
    assert_eq!(balance(&f.ledger, &f.miner), Balance::from(1000));
    let alice = f
        .ledger
        .store()
        .account_or_default(&f.alice.address())
        .expect("reads");
    assert_eq!(alice.nonce, 1);
    assert_eq!(alice.kind, AccountKind::Client);
}

#[test]
fn transfer_to_self_costs_only_the_fee() {
    let mut f = fixture();
    let tx = transfer(&f.alice, f.alice.address(), 500, 7, 1);
    f.ledger.push(&tx.to_raw()).expect("push");
    f.ledger
        .produce_block(T0 + 1, f.miner)
        .expect("produce")
        .expect("block");
    assert_eq!(
        balance(&f.ledger, &f.alice.address()),
        Balance::from(1_000_000 - 7)
    );
    let list = f
        .ledger
        .store()
        .account_transactions(&f.alice.address(), 0, 10)
        .expect("reads");
    assert_eq!(list.len(), 1, "listed once");
}

#[test]
fn coinbase_paying_itself_keeps_the_supply() {
    let mut f = fixture();
    let tx = transfer(&f.alice, f.bob.address(), 10, 3, 1);
    f.ledger.push(&tx.to_raw()).expect("push");
    f.ledger
        .produce_block(T0 + 1, f.alice.address())
        .expect("produce")
        .expect("block");
    assert_eq!(
        balance(&f.ledger, &f.alice.address()),
        Balance::from(1_000_000 - 10 + 1000)
    );
}

/// `tx` with its amount changed after signing.
fn forged_tx(tx: &Transaction) -> Transaction {
    let mut forged = tx.clone();
    forged.amount = Balance::from(999);
    forged
}

fn next_block(f: &Fixture, txs: Vec<Transaction>) -> Block {
    let tip = f.ledger.tip().expect("tip");
    Block {
        depth: tip.depth + 1,
        nonce: 0,
        timestamp: tip.timestamp,
        previous_block_hash: tip.hash,
        coinbase: f.miner,
        transactions: txs.into_iter().map(Sealable::seal).collect(),
    }
}

#[test]
fn imported_blocks_must_follow_the_rules() {
    let mut f = fixture();
    let good = transfer(&f.alice, f.bob.address(), 1, 1, 1);
    let reason = |f: &mut Fixture, block: Block| match f.ledger.import_block(block) {
        Err(CoreError::InvalidBlock { reason, .. }) => reason,
        other => panic!("expected an invalid block, got {other:?}"),
    };

    let mut block = next_block(&f, vec![good.clone()]);
    block.depth = 5;
    assert!(matches!(
        reason(&mut f, block),
        BlockError::Depth { expected: 1 }
    ));

    let mut block = next_block(&f, vec![good.clone()]);
    block.previous_block_hash = ledger_core::Hash([9; 32]);
    let genesis = f.ledger.tip().expect("tip").hash;
    assert!(matches!(
        reason(&mut f, block),
        BlockError::Parent { previous, top, top_depth: 0 }
            if previous == ledger_core::Hash([9; 32]) && top == genesis
    ));

    let mut block = next_block(&f, vec![good.clone()]);
    block.timestamp = T0 - 1;
    assert!(matches!(
        reason(&mut f, block),
        BlockError::Timestamp { timestamp, parent: T0 } if timestamp == T0 - 1
    ));

    let empty = next_block(&f, vec![]);
    assert!(matches!(reason(&mut f, empty), BlockError::Empty));

    let forged = next_block(&f, vec![forged_tx(&good)]);
    assert!(matches!(
        reason(&mut f, forged),
        BlockError::Transaction { index: 0, source }
            if matches!(*source, CoreError::BadSignature {
                reason: SignatureError::WrongSigner { .. } | SignatureError::Unrecoverable(_),
                ..
            })
    ));

    let mut unsigned = good.clone();
    unsigned.sign = Signature::NONE;
    let unsigned = next_block(&f, vec![unsigned]);
    assert!(matches!(
        reason(&mut f, unsigned),
        BlockError::Transaction { index: 0, source }
            if matches!(*source, CoreError::BadSignature { .. })
    ));

    // Several bad signatures: the first in block order is the one named,
    // however the checks were spread over threads.
    let mut second_forged = good.clone();
    second_forged.fee = 7;
    let mut many = vec![good.clone(); 40];
    many[17] = forged_tx(&good);
    many[31] = second_forged;
    let many = next_block(&f, many);
    assert!(matches!(
        reason(&mut f, many),
        BlockError::Transaction { index: 17, .. }
    ));

    let twice = next_block(&f, vec![good.clone(), good.clone()]);
    assert!(matches!(
        reason(&mut f, twice),
        BlockError::AppliedTwice { hash } if hash == good.hash()
    ));

    assert_eq!(f.ledger.tip().expect("tip").depth, 0, "nothing was applied");
    f.ledger
        .import_block(next_block(&f, vec![good.clone()]))
        .expect("the good block");
    let good_hash = good.hash();
    let replay = next_block(&f, vec![good]);
    assert!(matches!(
        reason(&mut f, replay),
        BlockError::AppliedTwice { hash } if hash == good_hash
    ));
    assert_eq!(balance(&f.ledger, &f.bob.address()), Balance::from(1));
}

/// A pending transaction was verified on admission, so a block carrying
/// exactly its bytes is not verified again; one with the same hash (which
/// leaves the signature out) but another signature is, and is refused.
#[test]
fn a_pending_transaction_is_trusted_only_with_its_own_signature() {
    let mut f = fixture();
    let good = transfer(&f.alice, f.bob.address(), 1, 1, 1);
    f.ledger.push(&good.to_raw()).expect("admits");
    let mut forged = good.clone();
    forged.sign(&f.bob);
    assert_eq!(
        forged.hash(),
        good.hash(),
        "the hash leaves the signature out"
    );
    match f.ledger.check_block(next_block(&f, vec![forged])) {
        Err(CoreError::InvalidBlock {
            reason: BlockError::Transaction { index: 0, .. },
            ..
        }) => {}
        other => panic!("expected the forged signature refused, got {other:?}"),
    }
    let changes = f
        .ledger
        .check_block(next_block(&f, vec![good]))
        .expect("the pending transaction's own bytes");
    assert_eq!(changes.transactions.len(), 1);
}

#[test]
fn a_store_of_another_chain_is_refused() {
    let genesis = fixture().ledger.genesis().clone();
    let mut other = genesis.clone();
    other.timestamp += 1;
    let memory = MemoryStore::new();
    Ledger::open(&memory, genesis.clone(), ChainConfig::default()).expect("fresh store");
    let error = Ledger::open(&memory, other, ChainConfig::default())
        .err()
        .expect("mismatch refused");
    assert!(
        matches!(error, CoreError::GenesisMismatch { .. }),
        "{error}"
    );
    Ledger::open(&memory, genesis, ChainConfig::default()).expect("the same genesis reopens");
}

#[test]
fn genesis_files_are_checked() {
    let cases = [
        (
            r#"{"timestamp": 1, "block_reward": "1", "accounts": {}}"#,
            "no account",
        ),
        (
            r#"{"timestamp": 1, "block_reward": "1", "accounts": {"11111111111111111111": "5"}}"#,
            "null address",
        ),
        (
            r#"{"timestamp": 1, "block_reward": "1", "accounts": {"4Mq1maZ6wuaYe88oLzi5aN9zK771": "5", "4Mq1maZ6wuaYe88oLzi5aN9zK771": "6"}}"#,
            "allocated twice",
        ),
        (
            r#"{"timestamp": 1, "block_reward": "-1", "accounts": {}}"#,
            "sign",
        ),
        (
            r#"{"timestamp": -1, "block_reward": "1", "accounts": {}}"#,
            "timestamp",
        ),
        (
            r#"{"timestamp": 1, "block_reward": "1", "accounts": {"xyz0": "1"}}"#,
            "xyz0",
        ),
        (
            r#"{"timestamp": 1, "block_reward": "1", "accounts": {}, "extra": 1}"#,
            "extra",
        ),
    ];
    for (json, expected) in cases {
        let error = Genesis::from_json(json).expect_err(json).to_string();
        assert!(error.contains(expected), "{json}: {error}");
    }
}

#[test]
fn the_dev_genesis_funds_the_documented_key() {
    let genesis = Genesis::dev();
    let key = SecretKey::from_hex(ledger_core::DEV_SECRET_KEY_HEX).expect("key");
    assert!(genesis.accounts.contains_key(&key.address()));
    assert!(genesis.check().is_ok());
}

#[test]
fn secret_keys_never_print_and_round_trip_through_files() {
    let (key, _, _) = keys(3);
    let hex = key.to_hex();
    let shown = format!("{key:?}");
    assert!(!shown.contains(&hex), "{shown}");
    assert!(shown.contains(&key.address().to_string()));

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.key");
    key.save(&path).expect("saves");
    assert!(key.save(&path).is_err(), "never overwrites a key");
    assert_eq!(SecretKey::load(&path).expect("loads"), key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    for bad in ["", "zz", &"0".repeat(64), &"f".repeat(64), &"g".repeat(64)] {
        let error = SecretKey::from_hex(bad).expect_err(bad).to_string();
        assert!(
            !error.contains(bad) || bad.is_empty(),
            "the key text is never echoed"
        );
    }
}

#[test]
fn mempool_is_bounded_in_bytes_too() {
    // Fee-free transfers with large payloads cost a sender nothing, so the
    // count bound alone would let them fill memory.
    let mut f = fixture_with(ChainConfig {
        max_pending_bytes: 2 * (10_000 + 256),
        ..ChainConfig::default()
    });
    let big = |n: u32| {
        Transaction::signed(
            &f.bob,
            f.alice.address(),
            Balance::ZERO,
            0,
            T0 + n,
            vec![7; 10_000],
        )
    };
    for n in 0..2 {
        let status = f.ledger.push(&big(n).to_raw()).expect("admitted");
        assert_eq!(
            status.status_code,
            StatusCode::Pending,
            "{}",
            status.message
        );
    }
    let error = f.ledger.push(&big(2).to_raw()).expect_err("full");
    assert!(
        matches!(error, CoreError::MempoolBytesFull { max_bytes: 20_512 }),
        "{error}"
    );
    assert!(error.to_string().starts_with("mempool is full"));
    f.ledger
        .produce_block(T0 + 1, f.miner)
        .expect("produce")
        .expect("block");
    let status = f.ledger.push(&big(2).to_raw()).expect("room again");
    assert_eq!(status.status_code, StatusCode::Pending);
}

#[test]
fn a_chain_keeps_the_contract_settings_it_was_created_with() {
    use ledger_core::{ChainSettings, EvmFork, GenesisSettings};
    let store = MemoryStore::new();
    let cancun = Genesis {
        settings: GenesisSettings {
            evm_fork: Some(EvmFork::Cancun),
            chain_id: 7,
            block_gas_limit: 1_000_000,
        },
        ..Genesis::dev()
    };
    let stored = ChainSettings {
        evm_fork: EvmFork::Cancun,
        chain_id: 7,
        block_gas_limit: 1_000_000,
    };
    let ledger = Ledger::open(&store, cancun.clone(), ChainConfig::default()).expect("creates");
    assert_eq!(*ledger.settings(), stored);
    assert_eq!(store.settings().expect("reads"), Some(stored));

    // A genesis naming no fork opens it with the fork it stored, not the newest.
    let unnamed = Genesis {
        settings: GenesisSettings {
            evm_fork: None,
            ..cancun.settings
        },
        ..cancun.clone()
    };
    let ledger = Ledger::open(&store, unnamed, ChainConfig::default()).expect("reopens");
    assert_eq!(ledger.settings().evm_fork, EvmFork::Cancun);

    // Another fork, chain id or gas limit is another chain.
    for settings in [
        GenesisSettings {
            evm_fork: Some(EvmFork::Osaka),
            ..cancun.settings
        },
        GenesisSettings {
            chain_id: 8,
            ..cancun.settings
        },
        GenesisSettings {
            block_gas_limit: 2_000_000,
            ..cancun.settings
        },
    ] {
        let other = Genesis {
            settings,
            ..cancun.clone()
        };
        match Ledger::open(&store, other, ChainConfig::default()) {
            Err(CoreError::SettingsMismatch {
                stored: found,
                configured,
            }) => {
                assert_eq!((found, configured), (stored, settings));
            }
            other => panic!("expected a settings mismatch: {:?}", other.err()),
        }
    }
}

#[test]
fn a_chain_created_before_settings_were_stored_stores_them_with_its_next_block() {
    use ledger_core::{execute_genesis, BlockChanges, ChainSettings, StateCommit};
    let store = MemoryStore::new();
    let genesis = Genesis::dev();
    // What an older node wrote: the genesis block without settings.
    let mut old: BlockChanges =
        execute_genesis(genesis.block(), &ChainSettings::default()).expect("genesis");
    old.settings = None;
    store.commit(&old).expect("commits");
    assert_eq!(store.settings().expect("reads"), None);

    let mut ledger = Ledger::open(&store, genesis, ChainConfig::default()).expect("opens");
    let key = Genesis::dev_key();
    let tx = Transaction::signed(&key, Address([3; 20]), Balance::from(1), 1, T0, vec![]);
    ledger.push(&tx.to_raw()).expect("pushes");
    ledger
        .produce_block(T0 + 1, Address([9; 20]))
        .expect("produces");
    assert_eq!(
        store.settings().expect("reads"),
        Some(ChainSettings::default())
    );
}
