//! The behaviour every storage implementation must show, as a suite any
//! `StateCommit` runs with [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```text
//! ledger_core::store_conformance_tests!(|| MyStore::temporary());
//! ```
//!
//! Only compiled with the `testing` feature (and in core's own tests).

use std::collections::{BTreeMap, VecDeque};

use rand::SeedableRng;

use crate::state::{Account, ChainTip, TransactionRecord};
use crate::{
    execute_genesis, Address, Balance, Block, BlockChanges, BlockEnv, ChainConfig, ContractCall,
    ContractEngine, ContractOutcome, CoreError, Genesis, Hash, Inconsistency, Ledger, MemoryStore,
    Sealed, SecretKey, StateCommit, StateRead, StateView, StatusCode, Transaction,
};

/// Genesis timestamp of the suite's chains.
pub const T0: u32 = 1_700_000_000;

/// Seeded keys, so every run of the suite sees the same chain.
pub fn keys(count: usize, seed: u64) -> Vec<SecretKey> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| SecretKey::generate_with(&mut rng))
        .collect()
}

/// A genesis funding each key with 1,000,000, reward 1000.
pub fn genesis_for(keys: &[SecretKey]) -> Genesis {
    Genesis {
        timestamp: T0,
        block_reward: Balance::from(1000),
        accounts: keys
            .iter()
            .map(|key| (key.address(), Balance::from(1_000_000)))
            .collect::<BTreeMap<_, _>>(),
        settings: Default::default(),
        validators: Vec::new(),
    }
}

/// The deterministic transfers of block `depth` of the suite's chains:
/// `count` transfers among `keys`; the second, if any, is unaffordable.
pub fn transfers_for(keys: &[SecretKey], depth: u64, count: usize) -> Vec<Transaction> {
    (0..count)
        .map(|i| {
            let from = &keys[(depth as usize + i) % keys.len()];
            let to = keys[(depth as usize + 2 * i + 1) % keys.len()].address();
            let amount = if i == 1 {
                10_000_000
            } else {
                1 + (depth % 97) + i as u64
            };
            Transaction::signed(
                from,
                to,
                Balance::from(amount),
                i as u64 % 5,
                T0 + depth as u32 * 1000 + i as u32,
                Vec::new(),
            )
        })
        .collect()
}

/// A verified transfer of 1 from `key` to `to`, nonce 0, made distinct by
/// `n` (its timestamp is `T0 + n`).
pub fn transfer(key: &SecretKey, to: Address, n: u32) -> crate::VerifiedTransaction {
    let tx = Transaction::signed(key, to, Balance::from(1), 0, T0 + n, Vec::new());
    // Signed here with a valid key: it always verifies.
    crate::VerifiedTransaction::from_raw(&tx.to_raw()).expect("a transfer signed here verifies")
}

/// Pushes block `depth`'s transfers and produces it.
pub fn produce<S: StateCommit>(
    ledger: &mut Ledger<S>,
    keys: &[SecretKey],
    miner: Address,
    count: usize,
) -> Result<BlockChanges, CoreError> {
    let depth = ledger.tip()?.depth + 1;
    for tx in transfers_for(keys, depth, count) {
        ledger.push(&tx.to_raw())?;
    }
    let time = T0 + depth as u32;
    ledger
        .produce_block(time, miner)?
        .ok_or(CoreError::Inconsistent(Inconsistency::NoBlockProduced))
}

/// A chain of `genesis_for(keys)` in memory, to produce the blocks a test
/// commits to `store`, whose genesis (with the same settings) is committed
/// to `store` first.
fn reference_beside<S: StateCommit>(store: &S, keys: &[SecretKey]) -> Ledger<MemoryStore> {
    let reference = Ledger::open(
        MemoryStore::new(),
        genesis_for(keys),
        ChainConfig::default(),
    )
    .expect("opens");
    let genesis =
        execute_genesis(genesis_for(keys).block(), reference.settings()).expect("genesis");
    store.commit(&genesis).expect("genesis");
    reference
}

/// A contract engine for tests: answers each execution with the next
/// outcome it was given (a halt once they run out) and keeps what it was
/// asked, so settlement can be tested without a real EVM.
#[derive(Debug, Default)]
pub struct ScriptedEngine {
    outcomes: VecDeque<ContractOutcome>,
    /// Every call it was asked to run: caller, target, value, data, gas limit.
    pub calls: Vec<(Address, crate::CallTarget, Balance, Vec<u8>, u64)>,
}

impl ScriptedEngine {
    /// An engine that answers with `outcomes`, in order.
    pub fn new(outcomes: impl IntoIterator<Item = ContractOutcome>) -> Self {
        ScriptedEngine {
            outcomes: outcomes.into_iter().collect(),
            calls: Vec::new(),
        }
    }

    /// The halt reason once the script has run out.
    pub const EXHAUSTED: &'static str = "the scripted engine has no more outcomes";
}

impl ContractEngine for ScriptedEngine {
    fn execute(
        &mut self,
        _env: &BlockEnv,
        call: &ContractCall<'_>,
        _state: &dyn StateView,
    ) -> Result<ContractOutcome, CoreError> {
        self.calls.push((
            call.caller,
            call.target,
            call.value,
            call.data.to_vec(),
            call.gas_limit,
        ));
        Ok(self
            .outcomes
            .pop_front()
            .unwrap_or_else(|| ContractOutcome::halt(Self::EXHAUSTED, 0)))
    }
}

/// A fresh store holds nothing.
pub fn fresh_store_is_empty<S: StateCommit>(store: S) {
    assert_eq!(store.genesis_hash().expect("reads"), None);
    assert_eq!(store.tip().expect("reads"), None);
    assert_eq!(store.block_hash_at(0).expect("reads"), None);
    assert_eq!(store.account(&Address::NULL).expect("reads"), None);
    assert!(store
        .account_transactions(&Address::NULL, 0, 10)
        .expect("reads")
        .is_empty());
}

/// Everything a chain writes reads back exactly as the in-memory reference
/// store holds it.
pub fn chain_reads_back_like_the_reference<S: StateCommit>(store: S) {
    let keys = keys(6, 1);
    let miner = keys[5].address();
    let reference = MemoryStore::new();
    let config = ChainConfig::default();
    let mut ledger = Ledger::open(store, genesis_for(&keys), config).expect("opens");
    let mut expected = Ledger::open(&reference, genesis_for(&keys), config).expect("opens");
    let mut produced = vec![ledger.block_at(0).expect("reads").expect("genesis")];
    for size in [1, 3, 8, 2] {
        let changes = produce(&mut ledger, &keys, miner, size).expect("produces");
        let twin = produce(&mut expected, &keys, miner, size).expect("produces");
        assert_eq!(changes, twin, "the same block on both stores");
        produced.push(changes.block);
    }
    let store = ledger.store();
    assert_eq!(
        store.genesis_hash().expect("reads"),
        reference.genesis_hash().expect("reads")
    );
    assert_eq!(store.tip().expect("reads"), reference.tip().expect("reads"));
    for block in &produced {
        assert_eq!(
            store.block_hash_at(block.depth).expect("reads"),
            Some(block.hash())
        );
        assert_eq!(
            store.block(&block.hash()).expect("reads").as_ref(),
            Some(block)
        );
        assert_eq!(
            store.block_at(block.depth).expect("reads").as_ref(),
            Some(block)
        );
        for (index, tx) in block.transactions.iter().enumerate() {
            let record = store
                .transaction(&tx.hash())
                .expect("reads")
                .expect("recorded");
            assert_eq!(record.block_depth, block.depth);
            assert_eq!(record.index as usize, index);
            assert_eq!(
                Some(record),
                reference.transaction(&tx.hash()).expect("reads")
            );
        }
    }
    assert_eq!(
        store.block_hash_at(produced.len() as u64).expect("reads"),
        None
    );
    assert_eq!(store.block(&crate::Hash([7; 32])).expect("reads"), None);
    let statuses: Vec<_> = produced[1..]
        .iter()
        .flat_map(|block| block.transactions.iter())
        .map(|tx| {
            store
                .transaction(&tx.hash())
                .expect("reads")
                .expect("recorded")
                .status
                .status_code
        })
        .collect();
    assert!(statuses.contains(&StatusCode::Success));
    let addresses: Vec<Address> = keys
        .iter()
        .map(SecretKey::address)
        .chain([Address::NULL])
        .collect();
    for address in &addresses {
        let account = store.account(address).expect("reads");
        assert_eq!(
            account,
            reference.account(address).expect("reads"),
            "{address}"
        );
        let count = account.map_or(0, |a| a.transaction_count);
        let all = store
            .account_transactions(address, 0, usize::MAX)
            .expect("reads");
        assert_eq!(all.len() as u64, count);
        assert_eq!(
            all,
            reference
                .account_transactions(address, 0, usize::MAX)
                .expect("reads")
        );
        // History pages, newest first, with where each transaction is.
        let history = store
            .account_history(address, u64::MAX, usize::MAX)
            .expect("reads");
        assert_eq!(
            history,
            reference
                .account_history(address, u64::MAX, usize::MAX)
                .expect("reads")
        );
        let newest_first: Vec<_> = history.iter().map(|entry| entry.hash).collect();
        assert!(newest_first.iter().eq(all.iter().rev()));
        for entry in &history {
            let record = store
                .transaction(&entry.hash)
                .expect("reads")
                .expect("recorded");
            assert_eq!(
                (entry.block_depth, entry.index),
                (record.block_depth, record.index)
            );
            let block = &produced[entry.block_depth as usize];
            let tx = &block.transactions[entry.index as usize];
            assert_eq!(
                entry.direction,
                crate::Direction::of(address, &tx.from, &tx.to)
            );
        }
        assert_eq!(
            store.account_history(address, count, 2).expect("reads"),
            history[..history.len().min(2)]
        );
        if count >= 2 {
            assert_eq!(
                store.account_history(address, 2, 5).expect("reads"),
                history[history.len() - 2..]
            );
        }
        assert!(store
            .account_history(address, 0, 5)
            .expect("reads")
            .is_empty());
        // Paging.
        if all.len() >= 3 {
            assert_eq!(
                store.account_transactions(address, 1, 2).expect("reads"),
                all[1..3]
            );
        }
        assert!(store
            .account_transactions(address, count, 5)
            .expect("reads")
            .is_empty());
        assert!(store
            .account_transactions(address, u64::MAX, 5)
            .expect("reads")
            .is_empty());
    }
}

/// A commit that does not extend the tip is refused and changes nothing.
pub fn commit_refuses_what_does_not_extend_the_tip<S: StateCommit>(store: S) {
    let keys = keys(3, 2);
    let genesis = execute_genesis(genesis_for(&keys).block(), &crate::ChainSettings::default())
        .expect("genesis");
    let reference = MemoryStore::new();
    let mut ledger =
        Ledger::open(&reference, genesis_for(&keys), ChainConfig::default()).expect("opens");
    let block1 = produce(&mut ledger, &keys, keys[0].address(), 2).expect("produces");

    assert!(
        store.commit(&block1).is_err(),
        "an empty store takes only genesis"
    );
    assert_eq!(store.tip().expect("reads"), None);
    store.commit(&genesis).expect("genesis");
    assert!(store.commit(&genesis).is_err(), "genesis twice");
    store.commit(&block1).expect("block 1");
    assert!(store.commit(&block1).is_err(), "block 1 twice");
    assert_eq!(store.tip().expect("reads"), Some(block1.tip()));
    let sender = block1.block.transactions[0].from;
    assert_eq!(
        store.account(&sender).expect("reads"),
        reference.account(&sender).expect("reads")
    );
}

/// Writers racing to commit different blocks at the same depth: exactly
/// one wins, and the store holds exactly its block and state. The tip
/// check and the write are one step, not two a writer can slip between.
pub fn concurrent_commits_have_one_winner<S: StateCommit + Sync>(store: S) {
    const WRITERS: usize = 8;
    let keys = keys(WRITERS, 4);
    let genesis = genesis_for(&keys);
    store
        .commit(
            &execute_genesis(genesis.block(), &crate::ChainSettings::default()).expect("genesis"),
        )
        .expect("genesis");
    // One candidate block 1 per writer, each with its own miner.
    let candidates: Vec<BlockChanges> = keys
        .iter()
        .map(|miner| {
            let mut ledger =
                Ledger::open(MemoryStore::new(), genesis.clone(), ChainConfig::default())
                    .expect("opens");
            produce(&mut ledger, &keys, miner.address(), 3).expect("produces")
        })
        .collect();
    let barrier = std::sync::Barrier::new(WRITERS);
    let results: Vec<bool> = std::thread::scope(|scope| {
        let writers: Vec<_> = candidates
            .iter()
            .map(|candidate| {
                let (store, barrier) = (&store, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    store.commit(candidate).is_ok()
                })
            })
            .collect();
        writers
            .into_iter()
            .map(|writer| writer.join().expect("no panic"))
            .collect()
    });
    let winners: Vec<usize> = (0..WRITERS).filter(|&i| results[i]).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one commit of depth 1 wins: {results:?}"
    );
    let winner = &candidates[winners[0]];
    assert_eq!(store.tip().expect("reads"), Some(winner.tip()));
    for (address, account) in &winner.accounts {
        assert_eq!(store.account(address).expect("reads"), Some(*account));
    }
}

/// A block whose list appends do not start at the stored list length is
/// refused and changes nothing: a list with a hole or an overwrite cannot
/// be stored.
pub fn commit_refuses_a_list_append_at_the_wrong_index<S: StateCommit>(store: S) {
    let keys = keys(3, 5);
    let mut ledger = reference_beside(&store, &keys);
    let block1 = produce(&mut ledger, &keys, keys[0].address(), 2).expect("produces");
    for shift in [1, u64::MAX] {
        let mut tampered = block1.clone();
        let append = &mut tampered.lists[0];
        append.first_index = append.first_index.wrapping_add(shift);
        let (address, first_index) = (append.address, append.first_index);
        let before = store.account(&address).expect("reads");
        match store.commit(&tampered) {
            Err(CoreError::Inconsistent(Inconsistency::ListIndex {
                address: refused,
                length: 0,
                first_index: at,
            })) if refused == address && at == first_index => {}
            other => panic!("expected the list index to be refused, got {other:?}"),
        }
        assert_eq!(store.tip().expect("reads").map(|tip| tip.depth), Some(0));
        assert_eq!(store.account(&address).expect("reads"), before);
    }
    store.commit(&block1).expect("the untampered block");
}

/// Code and contract storage written by a block read back; a zero value
/// deletes a slot.
pub fn code_and_storage_round_trip<S: StateCommit>(store: S) {
    let keys = keys(2, 3);
    let contract = Address([0xc0; 20]);
    let mut ledger = reference_beside(&store, &keys);
    let mut block1 = produce(&mut ledger, &keys, keys[0].address(), 1).expect("produces");
    block1.code.push((contract, vec![0x60, 0x00, 0xf3]));
    block1.storage.push((contract, [1; 32], [0xaa; 32]));
    block1.storage.push((contract, [2; 32], [0xbb; 32]));
    store.commit(&block1).expect("block 1");
    assert_eq!(
        store.code(&contract).expect("reads"),
        Some(vec![0x60, 0x00, 0xf3])
    );
    assert_eq!(store.code(&keys[0].address()).expect("reads"), None);
    assert_eq!(
        store.storage(&contract, &[1; 32]).expect("reads"),
        [0xaa; 32]
    );
    assert_eq!(store.storage(&contract, &[3; 32]).expect("reads"), [0; 32]);

    let mut block2 = produce(&mut ledger, &keys, keys[0].address(), 1).expect("produces");
    block2.storage.push((contract, [1; 32], [0; 32]));
    store.commit(&block2).expect("block 2");
    assert_eq!(store.storage(&contract, &[1; 32]).expect("reads"), [0; 32]);
    assert_eq!(
        store.storage(&contract, &[2; 32]).expect("reads"),
        [0xbb; 32]
    );
}

/// Logs committed with a block read back per transaction, in emission
/// order; a transaction without logs has none; the chain's settings read
/// back once committed, and an empty store has none.
pub fn logs_and_settings_round_trip<S: StateCommit>(store: S) {
    let keys = keys(2, 4);
    let reference = MemoryStore::new();
    let mut ledger =
        Ledger::open(&reference, genesis_for(&keys), ChainConfig::default()).expect("opens");
    assert_eq!(store.settings().expect("reads"), None);
    let settings = crate::ChainSettings {
        evm_fork: crate::EvmFork::Cancun,
        chain_id: 99,
        block_gas_limit: 1_000_000,
    };
    let genesis = execute_genesis(genesis_for(&keys).block(), &settings).expect("genesis");
    store.commit(&genesis).expect("genesis");
    assert_eq!(store.settings().expect("reads"), Some(settings));

    let mut block1 = produce(&mut ledger, &keys, keys[0].address(), 1).expect("produces");
    let (with_logs, without) = (block1.transactions[0].0, genesis.transactions[0].0);
    let logs = vec![
        crate::Log {
            address: Address([0xc0; 20]),
            topics: vec![[1; 32], [2; 32], [3; 32], [4; 32]],
            data: vec![5; 100],
        },
        crate::Log {
            address: Address([0xc1; 20]),
            topics: vec![],
            data: vec![],
        },
    ];
    block1.logs.push((with_logs, logs.clone()));
    block1.creators.push((Address([0xc0; 20]), with_logs));
    store.commit(&block1).expect("block 1");
    assert_eq!(
        store.creator(&Address([0xc0; 20])).expect("reads"),
        Some(with_logs)
    );
    assert_eq!(store.creator(&Address([0xc1; 20])).expect("reads"), None);
    assert_eq!(store.logs(&with_logs).expect("reads"), logs);
    assert_eq!(store.logs(&without).expect("reads"), vec![]);
    assert_eq!(store.logs(&Hash([9; 32])).expect("reads"), vec![]);
    assert_eq!(store.settings().expect("reads"), Some(settings));
}

/// What a network decided about a block reads back by depth, certificate
/// byte for byte (empty and large alike); a block stored without one, as a
/// node alone stores every block, has none.
pub fn decisions_round_trip<S: StateCommit>(store: S) {
    let keys = keys(2, 5);
    let mut reference = reference_beside(&store, &keys);
    assert_eq!(store.decision(0).expect("reads"), None);

    for (depth, certificate) in [(1, vec![]), (2, vec![0xce; 70_000])] {
        let mut block = produce(&mut reference, &keys, keys[0].address(), 3).expect("produces");
        let decision = crate::Decision {
            state: Hash([depth as u8; 32]),
            history: Hash([depth as u8 + 1; 32]),
            lattice: crate::StateLattice::new(),
            certificate,
        };
        block.decision = Some(decision.clone());
        store.commit(&block).expect("commits");
        assert_eq!(store.decision(depth).expect("reads"), Some(decision));
    }
    assert_eq!(store.decision(3).expect("reads"), None);
}

/// Gives `block` the decision a network would store with it: moves
/// `history` and `lattice` (those of the state `before` holds) past it.
pub fn decide<S: StateRead + ?Sized>(
    before: &S,
    history: &mut Hash,
    lattice: &mut crate::StateLattice,
    block: &mut BlockChanges,
    certificate: Vec<u8>,
) {
    lattice.apply(before, block).expect("applies");
    *history = crate::history_commitment(history, block);
    block.decision = Some(crate::Decision {
        state: crate::state_commitment(history, lattice),
        history: *history,
        lattice: lattice.clone(),
        certificate,
    });
}

/// The lattice a store's blocks move block by block is the lattice of
/// everything its state holds (the fast path against the reference); the
/// store's snapshot reads back, verifies, and installs whole into an
/// empty store of the same kind, which then answers every read alike
/// and goes on committing blocks; an installed store takes no second
/// snapshot.
pub fn snapshots_install_whole<S: StateCommit>(source: S, target: S) {
    use crate::{history_commitment, Snapshot, StateLattice};
    let keys = keys(3, 6);
    let genesis = genesis_for(&keys);
    let mut ledger = reference_beside(&source, &keys);
    let first = execute_genesis(genesis.block(), ledger.settings()).expect("genesis");
    let mut lattice = StateLattice::new();
    lattice.apply(&MemoryStore::new(), &first).expect("applies");
    assert_eq!(
        lattice,
        StateLattice::of(&source.state_entries().expect("reads")),
        "the genesis's lattice"
    );
    let mut history = history_commitment(&Hash::ZERO, &first);
    let contract = Address([0xc0; 20]);
    let mut hashes = Vec::new();
    for depth in 1..=4u8 {
        let mut block = produce(&mut ledger, &keys, keys[0].address(), 3).expect("produces");
        let first_tx = block.transactions[0].0;
        hashes.extend(block.transactions.iter().map(|(hash, _)| *hash));
        match depth {
            2 => {
                block.code.push((contract, vec![0x60, 0x00, 0xf3]));
                block.storage.push((contract, [1; 32], [0xaa; 32]));
                block.storage.push((contract, [2; 32], [0xbb; 32]));
                block.creators.push((contract, first_tx));
                block.logs.push((
                    first_tx,
                    vec![crate::Log {
                        address: contract,
                        topics: vec![[3; 32]],
                        data: vec![4, 5],
                    }],
                ));
            }
            3 => {
                block.storage.push((contract, [1; 32], [0xcc; 32]));
                block.storage.push((contract, [2; 32], [0; 32]));
            }
            _ => {}
        }
        decide(
            &source,
            &mut history,
            &mut lattice,
            &mut block,
            vec![depth; 3],
        );
        source.commit(&block).expect("commits");
        assert_eq!(
            lattice,
            StateLattice::of(&source.state_entries().expect("reads")),
            "the lattice moved by block {depth} is the state's"
        );
    }

    let snapshot = Snapshot::of(&source).expect("a snapshot");
    assert_eq!(
        Snapshot::decode(&snapshot.encode()).expect("decodes"),
        snapshot
    );
    snapshot.verify(&genesis.block().hash()).expect("verifies");
    target.install(&snapshot).expect("installs");

    assert_eq!(
        target.genesis_hash().expect("reads"),
        source.genesis_hash().expect("reads")
    );
    assert_eq!(target.tip().expect("reads"), source.tip().expect("reads"));
    for depth in 0..=4 {
        assert_eq!(
            target.block_at(depth).expect("reads"),
            source.block_at(depth).expect("reads")
        );
    }
    assert_eq!(
        target.decision(4).expect("reads"),
        source.decision(4).expect("reads")
    );
    assert_eq!(
        target.decision(3).expect("reads"),
        None,
        "only the top's decision travels"
    );
    assert_eq!(
        target.settings().expect("reads"),
        source.settings().expect("reads")
    );
    let same_accounts = || {
        for key in &keys {
            let address = key.address();
            assert_eq!(
                target.account(&address).expect("reads"),
                source.account(&address).expect("reads")
            );
            assert_eq!(
                target
                    .account_history(&address, u64::MAX, 100)
                    .expect("reads"),
                source
                    .account_history(&address, u64::MAX, 100)
                    .expect("reads")
            );
        }
    };
    same_accounts();
    for hash in &hashes {
        assert_eq!(
            target.transaction(hash).expect("reads"),
            source.transaction(hash).expect("reads")
        );
        assert_eq!(
            target.logs(hash).expect("reads"),
            source.logs(hash).expect("reads")
        );
    }
    assert_eq!(
        target.code(&contract).expect("reads"),
        source.code(&contract).expect("reads")
    );
    assert_eq!(
        target.creator(&contract).expect("reads"),
        source.creator(&contract).expect("reads")
    );
    assert_eq!(
        target.storage(&contract, &[1; 32]).expect("reads"),
        [0xcc; 32]
    );
    assert_eq!(target.storage(&contract, &[2; 32]).expect("reads"), [0; 32]);
    assert_eq!(
        StateLattice::of(&target.state_entries().expect("reads")),
        lattice
    );

    assert!(matches!(
        target.install(&snapshot),
        Err(CoreError::Inconsistent(Inconsistency::NotEmpty))
    ));
    let next = produce(&mut ledger, &keys, keys[0].address(), 2).expect("produces");
    target
        .commit(&next)
        .expect("an installed store goes on committing");
    source.commit(&next).expect("commits");
    same_accounts();
}

/// The methods of [`StateCommit`] besides `commit`, forwarded to
/// `self.inner`: for the test stores below, which differ in `commit` only.
macro_rules! forward_commit_extras {
    () => {
        fn bytes_written(&self) -> u64 {
            self.inner.bytes_written()
        }

        fn state_entries(&self) -> Result<Vec<crate::StateEntry>, CoreError> {
            self.inner.state_entries()
        }

        fn install(&self, snapshot: &crate::Snapshot) -> Result<(), CoreError> {
            self.inner.install(snapshot)
        }
    };
}

/// A store whose commits fail once [`FaultyStore::fail_commits`] is
/// called, as a full disk would make them, and whose reads fail too once
/// [`FaultyStore::fail_reads`] is: for tests of what runs above a store
/// when it can no longer write.
pub struct FaultyStore<S> {
    inner: S,
    failing_commits: std::sync::atomic::AtomicBool,
    failing_reads: std::sync::atomic::AtomicBool,
}

impl<S> FaultyStore<S> {
    /// `inner`, committing and reading normally until told otherwise.
    pub fn new(inner: S) -> FaultyStore<S> {
        FaultyStore {
            inner,
            failing_commits: std::sync::atomic::AtomicBool::new(false),
            failing_reads: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// From now on every commit fails with "no space left on device" and
    /// writes nothing.
    pub fn fail_commits(&self) {
        self.failing_commits
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on every read fails with "no space left on device" too:
    /// what sled does once its background writer has met a failed write
    /// (any later use of its log answers that failure), whether or not a
    /// block is being committed.
    pub fn fail_reads(&self) {
        self.failing_reads
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn full() -> CoreError {
        CoreError::storage(std::io::Error::from(std::io::ErrorKind::StorageFull))
    }

    /// `inner`, unless reads fail.
    fn readable(&self) -> Result<&S, CoreError> {
        if self.failing_reads.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Self::full());
        }
        Ok(&self.inner)
    }
}

impl<S: StateRead> StateRead for FaultyStore<S> {
    crate::state::forward_reads!(self, self.readable()?);
}

impl<S: StateCommit> StateCommit for FaultyStore<S> {
    fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError> {
        if self
            .failing_commits
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Self::full());
        }
        self.inner.commit(changes)
    }

    forward_commit_extras!();
}

/// A store whose commits wait while its gate is closed, as a slow disk
/// would hold them: for tests of what runs beside a commit. Reads never
/// wait.
pub struct GatedStore<S> {
    inner: S,
    gate: std::sync::Mutex<Gate>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct Gate {
    closed: bool,
    /// Commits waiting at the gate.
    held: usize,
}

impl<S> GatedStore<S> {
    /// `inner`, its gate open.
    pub fn new(inner: S) -> GatedStore<S> {
        GatedStore {
            inner,
            gate: std::sync::Mutex::default(),
            changed: std::sync::Condvar::new(),
        }
    }

    /// The store behind the gate.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Closes (`true`) or opens the gate.
    pub fn close(&self, closed: bool) {
        self.gate().closed = closed;
        self.changed.notify_all();
    }

    /// Blocks until a commit waits at the closed gate.
    pub fn wait_for_a_held_commit(&self) {
        let mut gate = self.gate();
        while gate.held == 0 {
            gate = self
                .changed
                .wait(gate)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<S: StateRead> StateRead for GatedStore<S> {
    crate::state::forward_reads!(self, self.inner);
}

impl<S: StateCommit> StateCommit for GatedStore<S> {
    fn commit(&self, changes: &BlockChanges) -> Result<(), CoreError> {
        let mut gate = self.gate();
        gate.held += 1;
        self.changed.notify_all();
        while gate.closed {
            gate = self
                .changed
                .wait(gate)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        gate.held -= 1;
        drop(gate);
        self.inner.commit(changes)
    }

    forward_commit_extras!();
}

/// Runs every function of the suite as its own `#[test]`, on stores made
/// by `$make` (an expression callable with no arguments).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        #[test]
        fn store_fresh_store_is_empty() {
            $crate::testing::fresh_store_is_empty(($make)());
        }

        #[test]
        fn store_chain_reads_back_like_the_reference() {
            $crate::testing::chain_reads_back_like_the_reference(($make)());
        }

        #[test]
        fn store_commit_refuses_what_does_not_extend_the_tip() {
            $crate::testing::commit_refuses_what_does_not_extend_the_tip(($make)());
        }

        #[test]
        fn store_concurrent_commits_have_one_winner() {
            $crate::testing::concurrent_commits_have_one_winner(($make)());
        }

        #[test]
        fn store_commit_refuses_a_list_append_at_the_wrong_index() {
            $crate::testing::commit_refuses_a_list_append_at_the_wrong_index(($make)());
        }

        #[test]
        fn store_code_and_storage_round_trip() {
            $crate::testing::code_and_storage_round_trip(($make)());
        }

        #[test]
        fn store_logs_and_settings_round_trip() {
            $crate::testing::logs_and_settings_round_trip(($make)());
        }

        #[test]
        fn store_decisions_round_trip() {
            $crate::testing::decisions_round_trip(($make)());
        }

        #[test]
        fn store_snapshots_install_whole() {
            $crate::testing::snapshots_install_whole(($make)(), ($make)());
        }
    };
}

#[cfg(test)]
mod memory_store {
    crate::store_conformance_tests!(crate::MemoryStore::new);
}
