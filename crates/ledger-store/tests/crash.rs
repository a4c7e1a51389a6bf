//! Crash safety: a real writer process is killed with SIGKILL at random
//! moments, again and again. After every kill the store must open, hold
//! every block the writer acknowledged (the chain is a prefix of what was
//! produced), and keep the supply invariant.
//!
//! The writer is this test binary itself, re-run with `LEDGER_CRASH_CHILD`
//! (the directory) and `LEDGER_CRASH_ENGINE` set so that only
//! `crash_writer_child` does anything. The test runs once per engine. Set
//! `LEDGER_CRASH_ITERATIONS` (default 25) for a longer run and
//! `LEDGER_CRASH_SEED` to replay one.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use ledger_core::testing::{genesis_for, keys, produce};
use ledger_core::{Balance, ChainConfig, Hash, Ledger, StateRead};
use ledger_store::{Engine, Store};
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "LEDGER_CRASH_CHILD";
const ENGINE_ENV: &str = "LEDGER_CRASH_ENGINE";
const KEYS: usize = 8;
const SEED: u64 = 5;

/// The writer: extends the chain in the directory it is given, printing
/// `committed <depth> <hash>` after each block's commit returned, until
/// killed. Does nothing when run as a normal test.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let engine: Engine = std::env::var(ENGINE_ENV)
        .expect("the engine is given")
        .parse()
        .expect("an engine");
    let keys = keys(KEYS, SEED);
    let store = Store::open(&dir, engine).expect("the store opens after a crash");
    let mut ledger =
        Ledger::open(store, genesis_for(&keys), ChainConfig::default()).expect("ledger opens");
    let miner = keys[0].address();
    let mut stdout = std::io::stdout().lock();
    for _ in 0..100_000 {
        let depth = ledger.tip().expect("tip").depth + 1;
        let changes = produce(&mut ledger, &keys, miner, 1 + (depth % 40) as usize)
            .expect("block produced and committed");
        writeln!(
            stdout,
            "committed {} {}",
            changes.block.depth,
            changes.block.hash()
        )
        .and_then(|()| stdout.flush())
        .expect("stdout");
    }
}

#[test]
fn sigkill_at_random_points_never_loses_an_acknowledged_block_on_sled() {
    sigkill_at_random_points_never_loses_an_acknowledged_block(Engine::Sled);
}

#[test]
fn sigkill_at_random_points_never_loses_an_acknowledged_block_on_fjall() {
    sigkill_at_random_points_never_loses_an_acknowledged_block(Engine::Fjall);
}

fn sigkill_at_random_points_never_loses_an_acknowledged_block(engine: Engine) {
    let iterations: usize = std::env::var("LEDGER_CRASH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(25);
    let seed: u64 = std::env::var("LEDGER_CRASH_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash test on {engine}: {iterations} kills, LEDGER_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = keys(KEYS, SEED);
    let genesis = genesis_for(&keys);
    let allocations = genesis.total_supply().expect("fits");
    let mut acknowledged: BTreeMap<u64, Hash> = BTreeMap::new();

    for kill in 0..iterations {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "crash_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env(ENGINE_ENV, engine.name())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("writer starts");
        let stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| {
                    let mut words = line.strip_prefix("committed ")?.split(' ');
                    let depth = words.next()?.parse::<u64>().ok()?;
                    let hash = words.next()?.parse::<Hash>().ok()?;
                    Some((depth, hash))
                })
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..400)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        for (depth, hash) in reader.join().expect("reader") {
            let known = acknowledged.entry(depth).or_insert(hash);
            assert_eq!(
                *known, hash,
                "kill {kill}: block {depth} differs between runs"
            );
        }

        let store = Store::open(dir.path(), engine)
            .unwrap_or_else(|e| panic!("kill {kill}: the store does not open: {e}"));
        let Some(tip) = store.tip().expect("reads") else {
            assert!(
                acknowledged.is_empty(),
                "kill {kill}: acknowledged blocks but no chain"
            );
            continue;
        };
        if let Some((&top, _)) = acknowledged.last_key_value() {
            assert!(
                tip.depth >= top,
                "kill {kill}: block {top} was acknowledged, tip is {}",
                tip.depth
            );
        }
        for (&depth, hash) in &acknowledged {
            assert_eq!(
                store.block_hash_at(depth).expect("reads"),
                Some(*hash),
                "kill {kill}: acknowledged block {depth} is not in the chain"
            );
        }
        let total = store
            .accounts()
            .expect("reads")
            .iter()
            .try_fold(Balance::ZERO, |sum, (_, account)| {
                sum.checked_add(account.balance)
            })
            .expect("fits");
        let minted = genesis
            .block_reward
            .checked_mul_u64(tip.depth)
            .expect("fits");
        assert_eq!(
            Some(total),
            allocations.checked_add(minted),
            "kill {kill}: supply invariant broken at depth {}",
            tip.depth
        );
    }
    let top = acknowledged.last_key_value().map_or(0, |(depth, _)| *depth);
    eprintln!("crash test on {engine}: {top} blocks acknowledged, all survived");
    assert!(top > 0, "the writer never got to acknowledge a block");
}
