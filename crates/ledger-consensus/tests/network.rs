//! Four validators in one process, each with its own chain service and
//! store, talking Malachite over loopback TCP: they decide the same
//! blocks, store the same decisions, and go on deciding with one of them
//! gone (f = 1 of 3f + 1 = 4).
//!
//! Real sockets and real consensus timeouts: the test waits for block
//! events with a bound, never sleeps.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ledger_chain::{Chain, ChainHandle, ChainService, ProducerConfig, SystemClock};
use ledger_consensus::malachite::app_channel::app::types::codec::Codec;
use ledger_consensus::malachite::core_types::{
    CommitCertificate, LinearTimeouts, NilOrVal, Validator as _, ValidatorSet as _, VoteType,
};
use ledger_consensus::signing::vote_bytes;
use ledger_consensus::{
    start_validator, AppConfig, Height, LedgerCodec, LedgerContext, NetworkConfig,
    RunningValidator, ValidatorEntry, ValidatorKey, ValidatorsFile, Vote,
};
use ledger_core::testing::{genesis_for, keys};
use ledger_core::{
    Address, Balance, ChainConfig, Ledger, MemoryStore, SecretKey, StateRead, VerifiedTransaction,
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

async fn start_network(
    dir: &std::path::Path,
    users: &[SecretKey],
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
                .map(|(_, address)| *address)
                .collect(),
            wal: dir.join(format!("wal-{index}")),
        };
        let app = AppConfig {
            coinbase: Address([0xc0 + index as u8; 20]),
            timeouts: timeouts(),
        };
        let validator = start_validator(
            chain.clone(),
            &genesis,
            key.clone(),
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

/// Every node holds the same blocks and decisions up to `depth`, and each
/// certificate carries precommits of more than two thirds of the power,
/// each signed by its validator.
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
        let certificate: CommitCertificate<LedgerContext> = LedgerCodec
            .decode(Bytes::from(decision.certificate))
            .expect("a certificate");
        assert_eq!(certificate.height, Height(d));
        let mut signers = HashSet::new();
        for signature in &certificate.commit_signatures {
            let validator = file
                .set()
                .get_by_address(&signature.address)
                .expect("a validator");
            let vote = Vote::new(
                VoteType::Precommit,
                certificate.height,
                certificate.round,
                NilOrVal::Val(certificate.value_id),
                signature.address,
            );
            validator
                .public_key()
                .verify(&vote_bytes(&vote), &signature.signature)
                .expect("a precommit signed by its validator");
            signers.insert(signature.address);
        }
        assert!(
            signers.len() * 3 > 4 * 2,
            "{} signers of block {d}",
            signers.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_decide_the_same_blocks_and_survive_losing_one() {
    let dir = tempfile::tempdir().expect("a directory");
    let users = keys(4, 77);
    let (nodes, file, _keys) = start_network(dir.path(), &users).await;

    let all: Vec<&Node> = nodes.iter().collect();
    let first: Vec<_> = (0..3).map(|n| transfer(&users[n], n as u32)).collect();
    decide_everywhere(&all, &file, &first).await;

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
