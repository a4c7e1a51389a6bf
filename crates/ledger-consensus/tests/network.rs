//! Four validators in one process, each with its own chain service and
//! store, talking Malachite over loopback TCP: they decide the same
//! blocks, store the same decisions, and go on deciding with one of them
//! gone (f = 1 of 3f + 1 = 4).
//!
//! Real sockets and real consensus timeouts: the test waits for block
//! events with a bound, never sleeps.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ledger_chain::{Chain, ChainHandle, ChainService, ProducerConfig, SystemClock};
use ledger_consensus::malachite::core_types::LinearTimeouts;
use ledger_consensus::testing::{isolate, Link};
use ledger_consensus::{
    start_node, verify_decision, AppConfig, CertificateError, NetworkConfig, Role,
    RunningValidator, ValidatorEntry, ValidatorKey, ValidatorsFile,
};
use ledger_core::testing::{genesis_for, keys};
use ledger_core::{
    Address, Balance, ChainConfig, Decision, Hash, Ledger, MemoryStore, SecretKey, StateCommit,
    StateLattice, StateRead, VerifiedTransaction,
};

type Handle = ChainHandle<Arc<MemoryStore>>;

struct Node {
    chain: Handle,
    validator: RunningValidator,
}

fn timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(1500),
        prevote: Duration::from_millis(500),
        precommit: Duration::from_millis(500),
        ..LinearTimeouts::default()
    }
}

/// Starts four validators; validator `from` dials validator `to`, which
/// listens on `listen`, at `route(from, to, listen)`.
async fn start_network(
    dir: &std::path::Path,
    users: &[SecretKey],
    route: impl Fn(usize, usize, SocketAddr) -> SocketAddr,
) -> (Vec<Node>, ValidatorsFile, Vec<ValidatorKey>) {
    let keys: Vec<ValidatorKey> = (1..=4u8)
        .map(|i| ValidatorKey::from_bytes([i; 32]))
        .collect();
    let file = ValidatorsFile::from_entries(
        keys.iter()
            .map(|key| ValidatorEntry {
                public_key: hex::encode(key.public_key().as_bytes()),
                power: 1,
                p2p: None,
                api: None,
            })
            .collect(),
    )
    .expect("valid");
    let addresses = ledger_consensus::loopback_addresses(keys.len()).expect("free ports");
    let genesis = genesis_for(users);
    let mut nodes = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let ledger = Ledger::open(
            Arc::new(MemoryStore::new()),
            genesis.clone(),
            ChainConfig::default(),
        )
        .expect("opens");
        let mut config = ProducerConfig::new(Address([0xc0 + index as u8; 20]));
        config.driven = true;
        let (chain, _thread) =
            ChainService::spawn(ledger, config, SystemClock::new()).expect("spawns");
        let network = NetworkConfig {
            moniker: format!("validator-{index}"),
            listen: addresses[index],
            peers: addresses
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(other, address)| route(index, other, *address))
                .collect(),
            wal: dir.join(format!("wal-{index}")),
        };
        let app = AppConfig {
            coinbase: Address([0xc0 + index as u8; 20]),
            timeouts: timeouts(),
        };
        let validator = start_node(
            chain.clone(),
            &genesis,
            Role::Validator(key.clone()),
            file.set().clone(),
            app,
            network,
        )
        .await
        .expect("starts");
        nodes.push(Node { chain, validator });
    }
    (nodes, file, keys)
}

fn transfer(key: &SecretKey, n: u32) -> VerifiedTransaction {
    ledger_core::testing::transfer(key, Address([5; 20]), n)
}

/// Pushes `txs` to every node of `nodes` (until mempool gossip exists, a
/// client that wants any proposer to see a transfer pushes it to all),
/// waits until each has applied them, and checks they hold the same chain.
async fn decide_everywhere(nodes: &[&Node], file: &ValidatorsFile, txs: &[VerifiedTransaction]) {
    for node in nodes {
        for tx in txs {
            node.chain.admit(tx.clone()).await.expect("admits");
        }
    }
    let hashes: Vec<_> = txs.iter().map(|tx| tx.hash()).collect();
    for node in nodes {
        until_applied(&node.chain, &hashes).await;
    }
    let tip = nodes[0].chain.state().tip().expect("reads").expect("a tip");
    same_chain(nodes, file, tip.depth);
}

/// Waits until `chain` has applied every transaction of `hashes`.
async fn until_applied(chain: &Handle, hashes: &[ledger_core::Hash]) {
    let mut events = chain.subscribe();
    let applied = |chain: &Handle| {
        hashes
            .iter()
            .all(|hash| chain.state().transaction(hash).expect("reads").is_some())
    };
    tokio::time::timeout(Duration::from_secs(60), async {
        while !applied(chain) {
            let _ = events.recv().await;
        }
    })
    .await
    .expect("decided within a minute");
}

/// Every node holds the same blocks and decisions up to `depth`, each
/// certificate carries precommits of more than two thirds of the power,
/// each signed by its validator, and each node's lattice at its top is
/// the one of the whole state it holds.
fn same_chain(nodes: &[&Node], file: &ValidatorsFile, depth: u64) {
    let first = nodes[0].chain.state();
    for d in 1..=depth {
        let block = first.block_hash_at(d).expect("reads").expect("a block");
        let decision = first.decision(d).expect("reads").expect("a decision");
        for node in &nodes[1..] {
            let state = node.chain.state();
            assert_eq!(
                state.block_hash_at(d).expect("reads"),
                Some(block),
                "block {d}"
            );
            assert_eq!(
                state.decision(d).expect("reads").map(|x| x.state),
                Some(decision.state),
                "state after block {d}"
            );
        }
        let block = first.block_at(d).expect("reads").expect("a block");
        verify_decision(file.set(), &block, &decision).expect("decided by the validators");
    }
    for node in nodes {
        let state = node.chain.state();
        let top = state.tip().expect("reads").expect("a tip").depth;
        let decision = state.decision(top).expect("reads").expect("a decision");
        assert_eq!(
            decision.lattice,
            StateLattice::of(&state.state_entries().expect("reads")),
            "the lattice moved block by block is the whole state's"
        );
    }
}

/// A decision is proven by its certificate alone, and only for its own
/// block, state and validators.
fn certificate_refusals(nodes: &[&Node], file: &ValidatorsFile) {
    let state = nodes[0].chain.state();
    let block = state.block_at(1).expect("reads").expect("block 1");
    let decision = state.decision(1).expect("reads").expect("a decision");
    verify_decision(file.set(), &block, &decision).expect("proven");

    let other_state = Decision {
        state: Hash([1; 32]),
        ..decision.clone()
    };
    assert!(matches!(
        verify_decision(file.set(), &block, &other_state),
        Err(CertificateError::Value { .. })
    ));
    let block2 = state.block_at(2).expect("reads");
    if let Some(block2) = block2 {
        assert!(matches!(
            verify_decision(file.set(), &block2, &decision),
            Err(CertificateError::Height {
                certified: 1,
                depth: 2
            })
        ));
    }
    let mut cut = decision.clone();
    cut.certificate.pop();
    assert!(matches!(
        verify_decision(file.set(), &block, &cut),
        Err(CertificateError::Decode(_))
    ));
    // Strangers' set: the signers are none of its validators.
    let strangers: Vec<ValidatorEntry> = (0..4)
        .map(|n| ValidatorEntry {
            public_key: hex::encode(
                ValidatorKey::from_bytes([200 + n; 32])
                    .public_key()
                    .as_bytes(),
            ),
            ..file.entries()[usize::from(n)].clone()
        })
        .collect();
    let strangers = ValidatorsFile::from_entries(strangers).expect("a set");
    assert!(matches!(
        verify_decision(strangers.set(), &block, &decision),
        Err(CertificateError::UnknownSigner { .. })
    ));
    // The same validators beside a stranger holding most of the power.
    let mut outvoted = file.entries().to_vec();
    outvoted.push(ValidatorEntry {
        public_key: hex::encode(ValidatorKey::from_bytes([250; 32]).public_key().as_bytes()),
        power: 100,
        ..file.entries()[0].clone()
    });
    let outvoted = ValidatorsFile::from_entries(outvoted).expect("a set");
    assert!(matches!(
        verify_decision(outvoted.set(), &block, &decision),
        Err(CertificateError::Power { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_decide_the_same_blocks_and_survive_losing_one() {
    let dir = tempfile::tempdir().expect("a directory");
    let users = keys(4, 77);
    let (nodes, file, _keys) = start_network(dir.path(), &users, |_, _, direct| direct).await;

    let all: Vec<&Node> = nodes.iter().collect();
    let first: Vec<_> = (0..3).map(|n| transfer(&users[n], n as u32)).collect();
    decide_everywhere(&all, &file, &first).await;
    certificate_refusals(&all, &file);

    // One validator gone: three of four still hold more than two thirds.
    let (gone, rest) = nodes.split_first().expect("four");
    gone.validator.engine.actor.stop(None);
    gone.validator.app.abort();
    let rest: Vec<&Node> = rest.iter().collect();
    decide_everywhere(&rest, &file, &[transfer(&users[3], 9)]).await;
    let balance = |node: &Node| {
        node.chain
            .state()
            .account(&Address([5; 20]))
            .expect("reads")
            .map(|account| account.balance)
    };
    assert_eq!(balance(rest[0]), Some(Balance::from(4)));
    assert!(rest.iter().all(|node| balance(node) == balance(rest[0])));
}

/// Waits until `chain`'s top block is at least `depth`.
async fn until_depth(chain: &Handle, depth: u64) {
    let mut events = chain.subscribe();
    let depth_of = |chain: &Handle| chain.state().tip().expect("reads").map_or(0, |t| t.depth);
    tokio::time::timeout(Duration::from_secs(60), async {
        while depth_of(chain) < depth {
            let _ = events.recv().await;
        }
    })
    .await
    .expect("caught up within a minute");
}

/// A validator cut off from the other three by a partition (not a crash)
/// decides nothing on its own while they go on; once the partition heals
/// it catches up on the blocks they decided, with no other block at any
/// height, and a transaction only it had is then decided too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_validator_does_not_split_the_chain_and_catches_up_after_healing() {
    let dir = tempfile::tempdir().expect("a directory");
    let users = keys(4, 78);
    // Every path from one validator to another goes through its own link.
    let links = std::sync::Mutex::new(Vec::new());
    let (nodes, file, _keys) = start_network(dir.path(), &users, |from, to, target| {
        let (link, address) = Link::new(from, to, target).expect("a proxy");
        links.lock().expect("links").push(link);
        address
    })
    .await;
    let links = links.into_inner().expect("links");
    let all: Vec<&Node> = nodes.iter().collect();
    decide_everywhere(&all, &file, &[transfer(&users[0], 1)]).await;

    let isolated = 3;
    let partition = |cut: bool| isolate(&links, isolated, cut);
    partition(true);
    let before = nodes[isolated].chain.state().tip().expect("reads");
    let lonely = transfer(&users[3], 2);
    nodes[isolated]
        .chain
        .admit(lonely.clone())
        .await
        .expect("admits");
    let rest: Vec<&Node> = nodes.iter().take(isolated).collect();
    decide_everywhere(&rest, &file, &[transfer(&users[1], 3)]).await;
    decide_everywhere(&rest, &file, &[transfer(&users[2], 4)]).await;
    assert_eq!(
        nodes[isolated].chain.state().tip().expect("reads"),
        before,
        "a quarter of the voting power decided alone"
    );

    partition(false);
    for node in &all {
        until_applied(&node.chain, &[lonely.hash()]).await;
    }
    let tip = nodes[0].chain.state().tip().expect("reads").expect("a tip");
    for node in &all {
        until_depth(&node.chain, tip.depth).await;
    }
    same_chain(&all, &file, tip.depth);
}
