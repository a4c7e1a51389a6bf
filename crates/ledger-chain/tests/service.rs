//! The service thread on a clock that only moves when told: what is
//! pending stays pending until a block is due, and shutdown drains it.

use std::future::Future;
use std::sync::Arc;

use ledger_chain::{
    Chain, ChainError, ChainHandle, ChainService, Halt, ManualClock, ProducerConfig, ServiceThread,
};
use ledger_core::testing::{genesis_for, keys, FaultyStore, GatedStore, T0};
use ledger_core::{
    Address, Admission, ChainConfig, CoreError, Ledger, MemoryStore, SecretKey, StateRead,
    VerifiedTransaction,
};

fn transfer(key: &SecretKey, n: u32) -> VerifiedTransaction {
    ledger_core::testing::transfer(key, Address([5; 20]), n)
}

type Handle = ChainHandle<Arc<MemoryStore>>;

fn start(max_pending: usize) -> (Handle, ServiceThread, Vec<SecretKey>) {
    let keys = keys(2, 31);
    let config = ChainConfig {
        max_pending,
        ..ChainConfig::default()
    };
    let ledger =
        Ledger::open(Arc::new(MemoryStore::new()), genesis_for(&keys), config).expect("opens");
    let (handle, thread) = ChainService::spawn(
        ledger,
        ProducerConfig::new(Address([9; 20])),
        ManualClock::new(T0 + 100),
    )
    .expect("spawns");
    (handle, thread, keys)
}

/// A service on `store` (a test store around memory) for `keys`' chain,
/// on a frozen clock.
fn start_on<S>(store: Arc<S>, keys: &[SecretKey]) -> (ChainHandle<Arc<S>>, ServiceThread)
where
    S: ledger_core::StateCommit + Send + Sync + 'static,
{
    let ledger = Ledger::open(store, genesis_for(keys), ChainConfig::default()).expect("opens");
    ChainService::spawn(
        ledger,
        ProducerConfig::new(Address([9; 20])),
        ManualClock::new(T0 + 100),
    )
    .expect("spawns")
}

#[tokio::test]
async fn on_a_frozen_clock_the_mempool_fills_and_shutdown_drains_it() {
    let (chain, thread, keys) = start(2);
    let mut events = chain.subscribe();
    // Idle: the first push gets its block at once.
    assert_eq!(
        chain.admit(transfer(&keys[0], 0)).await.expect("admits"),
        Admission::Admitted
    );
    let first = events.recv().await.expect("a block");
    assert_eq!(first.block.transactions.len(), 1);
    assert_eq!(
        first.block.timestamp,
        T0 + 100,
        "stamped by the injected clock"
    );

    // The clock does not move: the next block is never due, so two pushes
    // fill the mempool and the third is refused, every time.
    for n in 1..=2 {
        let admission = chain.admit(transfer(&keys[0], n)).await.expect("admits");
        assert_eq!(admission, Admission::Admitted);
    }
    match chain.admit(transfer(&keys[0], 3)).await {
        Err(ChainError::Core(CoreError::MempoolFull { max: 2 })) => {}
        other => panic!("expected a full mempool, got {other:?}"),
    }
    assert!(chain
        .is_pending(transfer(&keys[0], 1).hash())
        .await
        .expect("asks"));

    chain.shutdown().await;
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("joins")
        .expect("no panic")
        .expect("no storage failure");
    let drained = events.recv().await.expect("the drained block");
    assert_eq!(drained.block.transactions.len(), 2);
    assert_eq!(
        chain.state().tip().expect("reads").map(|t| t.depth),
        Some(2)
    );
    // Stopped: requests are refused, never left hanging.
    assert!(matches!(
        chain.admit(transfer(&keys[0], 4)).await,
        Err(ChainError::ShuttingDown)
    ));
}

#[tokio::test]
async fn an_import_through_the_handle_is_announced() {
    let (chain, _thread, keys) = start(10);
    let mut events = chain.subscribe();
    let mut peer = Ledger::open(
        MemoryStore::new(),
        genesis_for(&keys),
        ChainConfig::default(),
    )
    .expect("opens");
    peer.admit(transfer(&keys[1], 0)).expect("admitted");
    let block = peer
        .produce_block(T0 + 1, Address([8; 20]))
        .expect("produces")
        .expect("a block")
        .block;
    let tip = chain
        .import_block(block.clone().into_inner())
        .await
        .expect("imports");
    assert_eq!(tip.hash, block.hash());
    assert_eq!(events.recv().await.expect("announced").tip, tip);
    match chain.import_block(block.into_inner()).await {
        Err(ChainError::Core(CoreError::InvalidBlock { .. })) => {}
        other => panic!("a second import must be refused, got {other:?}"),
    }
    // Blocks a node stores without a network's decision have no snapshot.
    assert!(matches!(
        chain.snapshot().await,
        Err(ChainError::NoSnapshot)
    ));
}

#[tokio::test]
async fn requests_queued_behind_a_shutdown_are_refused_never_left_hanging() {
    let (chain, thread, keys) = start(10_000);
    // A frozen clock keeps these pending, so the shutdown has a long
    // drain to do while later requests pile up behind it.
    let pending: Vec<_> = (0..3_000).map(|n| transfer(&keys[0], n)).collect();
    for tx in pending {
        chain.admit(tx).await.expect("admits");
    }
    let late: Vec<_> = (3_000..3_200).map(|n| transfer(&keys[0], n)).collect();
    chain.shutdown().await;
    // These land in the inbox behind the shutdown, or find it closed; the
    // service will never handle them, and each must hear so.
    let late = late.into_iter().map(|tx| chain.admit(tx));
    let answers = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        futures_util::future::join_all(late),
    )
    .await
    .expect("every late request is answered");
    for answer in answers {
        assert!(
            matches!(answer, Err(ChainError::ShuttingDown)),
            "{answer:?}"
        );
    }
    thread
        .join()
        .expect("no panic")
        .expect("no storage failure");
    assert_eq!(
        chain.state().tip().expect("reads").map(|t| t.depth),
        Some(2)
    );
}

#[tokio::test]
async fn a_failed_commit_halts_production_and_reads_go_on() {
    let keys = keys(2, 31);
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let (chain, thread) = start_on(store.clone(), &keys);
    store.fail_commits();
    // Admitted; its block is due at once (the chain was idle) and cannot
    // be stored, so the service halts right after answering.
    assert_eq!(
        chain.admit(transfer(&keys[0], 0)).await.expect("admits"),
        Admission::Admitted
    );
    // A request queued before the service polls its producer is still
    // handled first (the service drains its inbox, then produces), so a few
    // more may be admitted; the one after the failed commit is refused.
    let mut halted = None;
    for n in 1..1000 {
        match chain.admit(transfer(&keys[0], n)).await {
            Ok(Admission::Admitted) => continue,
            Err(error @ ChainError::Halted(_)) => {
                halted = Some(error);
                break;
            }
            other => panic!("expected the service to have halted, got {other:?}"),
        }
    }
    let message = halted.expect("the service halted").to_string();
    assert!(
        message.contains("storing a block failed") && message.contains("no storage space"),
        "{message}"
    );
    // Reads: the store as it was, and the service still answers questions.
    assert_eq!(
        chain.state().tip().expect("reads").map(|t| t.depth),
        Some(0)
    );
    assert!(chain
        .is_pending(transfer(&keys[0], 0).hash())
        .await
        .expect("answers"));
    // Shut down: the thread returns the failure.
    stop_halted(&chain, thread).await;
}

/// Shuts a halted service down: its thread returns the halt.
async fn stop_halted<S>(chain: &ChainHandle<S>, thread: ServiceThread) -> Arc<Halt> {
    chain.shutdown().await;
    let result = tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("joins")
        .expect("no panic");
    match result {
        Err(ChainError::Halted(halt)) => halt,
        other => panic!("expected the service to return its halt, got {other:?}"),
    }
}

/// The refusal every push gets once the store failed under the service:
/// the halt, naming the store's failure, never the store's raw error.
fn assert_names_the_halt(answer: &Result<Admission, ChainError>) {
    match answer {
        Err(error @ ChainError::Halted(_)) => {
            let message = error.to_string();
            assert!(
                message.starts_with("the node stopped accepting transactions: ")
                    && message.contains("no storage space"),
                "{message}"
            );
        }
        other => panic!("a push after the store failed must name the halt, got {other:?}"),
    }
}

/// A store that fails its reads as sled does once its own background
/// writer met a failed write (no block being stored at the time): the
/// push whose admission read fails is the first to know, and it is told
/// the halt, as is every push after it.
#[tokio::test]
async fn a_read_that_fails_while_no_block_is_stored_halts_the_service() {
    let keys = keys(2, 33);
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let (chain, thread) = start_on(store.clone(), &keys);
    let mut events = chain.subscribe();
    chain.admit(transfer(&keys[0], 0)).await.expect("admits");
    events.recv().await.expect("block 1 is stored");

    store.fail_reads();
    store.fail_commits();
    for n in 1..4 {
        assert_names_the_halt(&chain.admit(transfer(&keys[0], n)).await);
    }
    let halt = stop_halted(&chain, thread).await;
    assert!(matches!(*halt, Halt::Reading(_)), "{halt}");
}

/// The write of a block fails while pushes are admitted beside it, and
/// their reads fail too (sled's reads answer the failed write at once):
/// each such push waits for the block's outcome and is told the halt.
#[tokio::test]
async fn pushes_whose_reads_fail_while_a_block_is_stored_are_told_the_halt() {
    let keys = keys(2, 34);
    let store = Arc::new(GatedStore::new(FaultyStore::new(MemoryStore::new())));
    let (chain, thread) = start_on(store.clone(), &keys);
    store.close(true);
    // Block 1 is due at once (the chain was idle) and waits at the gate.
    chain.admit(transfer(&keys[0], 0)).await.expect("admits");
    let gated = store.clone();
    tokio::task::spawn_blocking(move || gated.wait_for_a_held_commit())
        .await
        .expect("block 1 reaches the gate");
    store.inner().fail_reads();
    store.inner().fail_commits();
    // Each push polled once is in the inbox, in this order.
    let mut held: Vec<_> = (1..=20)
        .map(|n| Box::pin(chain.admit(transfer(&keys[n % 2], n as u32))))
        .collect();
    let mut waiting = std::task::Context::from_waker(std::task::Waker::noop());
    for push in &mut held {
        assert!(push.as_mut().poll(&mut waiting).is_pending());
    }
    // The inbox is served in order: once this is answered, every push
    // above has been read (and failed) while block 1 is being stored.
    assert!(chain
        .is_pending(transfer(&keys[0], 0).hash())
        .await
        .expect("answers"));
    for push in &mut held {
        assert!(
            push.as_mut().poll(&mut waiting).is_pending(),
            "a push was answered before the block's outcome"
        );
    }
    store.close(false);
    for push in held {
        assert_names_the_halt(&push.await);
    }
    let halt = stop_halted(&chain, thread).await;
    assert!(matches!(*halt, Halt::Storing(_)), "{halt}");
}

/// The race the two tests above pin down, run many times with the store
/// failing at a different moment each time (blocks of four are stored on
/// their own thread while pushes keep coming): every push is admitted
/// until the failure and refused with the halt after it, never with the
/// store's raw error, and none is left unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_refused_after_a_failed_write_names_the_halt() {
    let keys = keys(4, 35);
    let config = ChainConfig {
        max_block_transactions: 4,
        ..ChainConfig::default()
    };
    for round in 0..100u32 {
        let store = Arc::new(FaultyStore::new(MemoryStore::new()));
        let ledger = Ledger::open(store.clone(), genesis_for(&keys), config).expect("opens");
        let (chain, thread) = ChainService::spawn(
            ledger,
            ProducerConfig::new(Address([9; 20])),
            ManualClock::new(T0 + 100),
        )
        .expect("spawns");
        // A fixed spread of failure points, the same every run, each after
        // at least one stored block.
        let fail_after = 1 + (round * 7) % 60;
        let pushers: Vec<_> = keys
            .iter()
            .cloned()
            .map(|key| {
                let chain = chain.clone();
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    for n in 0..40 {
                        answers.push(chain.admit(transfer(&key, n)).await);
                    }
                    answers
                })
            })
            .collect();
        let mut events = chain.subscribe();
        let mut stored = 0;
        while stored * 4 < fail_after {
            match events.recv().await {
                Ok(_) => stored += 1,
                Err(_) => break,
            }
        }
        store.fail_reads();
        store.fail_commits();
        let mut refused = 0;
        for pusher in pushers {
            for answer in pusher.await.expect("joins") {
                match answer {
                    Ok(Admission::Admitted) => {}
                    refusal => {
                        assert_names_the_halt(&refusal);
                        refused += 1;
                    }
                }
            }
        }
        // The next push finds the service halted, if no earlier one did.
        assert_names_the_halt(&chain.admit(transfer(&keys[0], 1_000)).await);
        assert!(refused < 160, "round {round}: nothing was admitted");
        stop_halted(&chain, thread).await;
    }
}

/// Driven by consensus, the service never starts a block: it builds a
/// proposal without committing it, checks another node's block without
/// committing it, and commits only what it is told was decided, with the
/// decision stored beside it. Shutdown leaves what is pending pending.
#[tokio::test]
async fn driven_by_consensus_it_builds_checks_and_commits_only_when_told() {
    let keys = keys(2, 32);
    let open = || {
        Ledger::open(
            Arc::new(MemoryStore::new()),
            genesis_for(&keys),
            ChainConfig::default(),
        )
        .expect("opens")
    };
    let mut config = ProducerConfig::new(Address([9; 20]));
    config.driven = true;
    let clock = ManualClock::new(T0 + 100);
    let (proposer, proposer_thread) =
        ChainService::spawn(open(), config, clock.clone()).expect("spawns");
    let (voter, voter_thread) = ChainService::spawn(open(), config, clock).expect("spawns");

    let mut pending = proposer.pending();
    assert_eq!(
        proposer
            .build_block(Address([9; 20]))
            .await
            .expect("builds"),
        None
    );
    let tx = transfer(&keys[0], 0);
    proposer.admit(tx.clone()).await.expect("admits");
    voter.admit(tx.clone()).await.expect("admits");
    pending
        .wait_for(|count| *count == 1)
        .await
        .expect("watches");

    let built = proposer
        .build_block(Address([9; 20]))
        .await
        .expect("builds")
        .expect("a block");
    assert_eq!(built.block.depth, 1);
    assert_eq!(
        built.block.timestamp,
        T0 + 100,
        "stamped by the injected clock"
    );
    // Nothing committed yet on either node.
    assert_eq!(
        proposer.state().tip().expect("reads").map(|t| t.depth),
        Some(0)
    );
    assert!(proposer.is_pending(tx.hash()).await.expect("asks"));

    let checked = voter
        .check_block(built.block.inner().clone())
        .await
        .expect("valid");
    assert_eq!(checked, built, "the voter executes it exactly as proposed");
    assert_eq!(
        voter.state().tip().expect("reads").map(|t| t.depth),
        Some(0)
    );

    let mut events = voter.subscribe();
    for (chain, mut changes) in [(&proposer, built), (&voter, checked)] {
        let decision = ledger_core::Decision {
            state: ledger_core::Hash([7; 32]),
            history: ledger_core::Hash([8; 32]),
            lattice: ledger_core::StateLattice::new(),
            certificate: vec![1, 2, 3],
        };
        changes.decision = Some(decision.clone());
        let tip = chain.commit_decided(changes).await.expect("commits");
        assert_eq!(tip.depth, 1);
        assert_eq!(
            chain.state().decision(1).expect("reads"),
            Some(decision.clone())
        );
        assert!(!chain.is_pending(tx.hash()).await.expect("asks"));
        // A decided chain has a snapshot, taken between blocks.
        let snapshot = chain.snapshot().await.expect("a snapshot");
        assert_eq!(snapshot.top().map(|top| top.depth), Some(1));
        assert_eq!(snapshot.decision, decision);
    }
    assert_eq!(events.recv().await.expect("announced").block.depth, 1);
    pending
        .wait_for(|count| *count == 0)
        .await
        .expect("watches");

    // A block on a parent that is no longer the tip is refused.
    let stale = voter.check_block(events_block(&proposer, 1)).await;
    assert!(stale.is_err(), "{stale:?}");

    // Pending at shutdown stays pending: no block is made alone.
    proposer.admit(transfer(&keys[1], 1)).await.expect("admits");
    proposer.shutdown().await;
    voter.shutdown().await;
    for thread in [proposer_thread, voter_thread] {
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("joins")
            .expect("the thread ends")
            .expect("no failure");
    }
    assert_eq!(
        proposer.state().tip().expect("reads").map(|t| t.depth),
        Some(1)
    );
}

fn events_block(chain: &Handle, depth: u64) -> ledger_core::Block {
    chain
        .state()
        .block_at(depth)
        .expect("reads")
        .expect("stored")
        .inner()
        .clone()
}

/// Blocks are stored on a thread of their own: while one is written, a
/// push is admitted at once; one that only the block being stored can
/// pay for waits for it rather than being refused; and nothing is
/// announced before the block is stored.
#[tokio::test]
async fn pushes_are_admitted_while_a_block_is_stored() {
    let keys = keys(2, 31);
    let fresh = ledger_core::testing::keys(1, 77).remove(0);
    let store = Arc::new(GatedStore::new(MemoryStore::new()));
    let (chain, thread) = start_on(store.clone(), &keys);
    let mut events = chain.subscribe();
    store.close(true);

    // Block 1 (due at once: the chain was idle) funds `fresh`, and waits
    // at the gate.
    let funding = ledger_core::testing::transfer(&keys[0], fresh.address(), 1);
    assert_eq!(
        chain.admit(funding.clone()).await.expect("admits"),
        Admission::Admitted
    );
    assert!(chain.is_pending(funding.hash()).await.expect("answers"));

    // Admitted while block 1 is being stored (bounded: with admission
    // behind the commit, it would wait for the gate forever).
    let other = transfer(&keys[1], 2);
    let admitted = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        chain.admit(other.clone()),
    )
    .await
    .expect("admitted while block 1 is stored");
    assert_eq!(admitted.expect("admits"), Admission::Admitted);
    // Only block 1 pays for this one: held until it is stored.
    let spend = ledger_core::testing::transfer(&fresh, Address([5; 20]), 3);
    let held = tokio::spawn({
        let chain = chain.clone();
        let spend = spend.clone();
        async move { chain.admit(spend).await }
    });
    // The inbox is served in order: once this is answered, so was the
    // push above (held, since it is not answered yet).
    assert!(chain.is_pending(other.hash()).await.expect("answers"));
    assert!(!held.is_finished(), "answered before block 1 was stored");
    assert_eq!(
        chain.state().tip().expect("reads").map(|t| t.depth),
        Some(0)
    );
    assert!(events.try_recv().is_err(), "announced before it was stored");

    store.close(false);
    assert_eq!(
        held.await.expect("joins").expect("admits"),
        Admission::Admitted
    );
    let announced = events.recv().await.expect("announced");
    assert_eq!(announced.block.depth, 1);
    assert_eq!(announced.block.transactions.len(), 1);

    // Shutdown drains the rest into block 2: both applied.
    chain.shutdown().await;
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("joins")
        .expect("no panic")
        .expect("no failure");
    for hash in [other.hash(), spend.hash()] {
        let record = chain.state().transaction(&hash).expect("reads");
        assert_eq!(
            record.map(|r| (r.block_depth, r.status.status_code)),
            Some((2, ledger_core::StatusCode::Success))
        );
    }
}

#[cfg(target_os = "linux")]
#[path = "../../../tests/support/threads.rs"]
mod threads;

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_service_threads_run_at_the_nice_value_asked_for() {
    let own = threads::nice_in(&std::fs::read_to_string("/proc/thread-self/stat").expect("own"));
    // Higher than the process's own, which needs no privilege, and a value
    // no other test's threads have.
    let asked = (own + 7).min(19);
    let keys = keys(1, 32);
    let ledger = Ledger::open(
        Arc::new(MemoryStore::new()),
        genesis_for(&keys),
        ChainConfig::default(),
    )
    .expect("opens");
    let mut config = ProducerConfig::new(Address([9; 20]));
    config.thread_nice = Some(asked);
    let (chain, thread) =
        ChainService::spawn(ledger, config, ManualClock::new(T0 + 100)).expect("spawns");
    // A stored block: both threads have started (the nice value is the
    // first thing each sets).
    let mut events = chain.subscribe();
    chain.admit(transfer(&keys[0], 0)).await.expect("admits");
    events.recv().await.expect("a block");
    let threads = threads::thread_nice_values("self");
    let at = |name: &str| {
        threads
            .iter()
            .any(|thread| *thread == (name.to_owned(), asked))
    };
    assert!(at("chain"), "the chain thread: {threads:?}");
    assert!(
        at("chain-store"),
        "the thread that stores blocks: {threads:?}"
    );
    chain.shutdown().await;
    thread.join().expect("no panic").expect("stops cleanly");
}
