//! A page of an account's history (`account_transactions`) on an account
//! with a million transactions, against the same page on an account with
//! a thousand, in the same store and the same run: the layout must serve
//! a page by one range read, so the ratio should stay near 1 however long
//! the history grows. Beside it, reading the whole list (what
//! `account_info` must do) for scale.
//!
//!     cargo run --release -p ledger-benches --example history_page -- ENGINE [TRANSFERS]
//!
//! Commits TRANSFERS (default 1,000,000) unsigned transfers from one key,
//! and 1,000 from another, in blocks of 10,000, to a fresh store, then
//! reads pages of 100 and 1,000 at the newest, middle and oldest end of
//! each history, the median of many reads each.

use std::time::{Duration, Instant};

use ledger_benches::{funded_genesis, keys, next_block, unsigned_transfers};
use ledger_core::{execute_block, Address, ChainConfig, Ledger, NoContracts, StateRead};
use ledger_store::{Engine, Store};

const BLOCK: u64 = 10_000;
const SMALL: u64 = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let engine: Engine = args
        .next()
        .ok_or("usage: history_page ENGINE [TRANSFERS]")?
        .parse()?;
    let transfers: u64 = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let dir = tempfile::tempdir()?;
    let keys = keys(2);
    let (big, small) = (keys[0].address(), keys[1].address());
    let store = Store::open(dir.path(), engine)?;
    let ledger = Ledger::open(&store, funded_genesis(&keys), ChainConfig::default())?;
    drop(ledger);

    let started = Instant::now();
    commit(&store, &keys[1..], 0, SMALL)?;
    commit(&store, &keys[..1], SMALL, transfers)?;
    println!(
        "{engine}: {transfers} + {SMALL} transfers committed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    for limit in [100, 1000] {
        for (name, at) in [("newest", 1.0), ("middle", 0.5), ("oldest", 0.0)] {
            let page = |address: &Address, count: u64| {
                let before = ((count as f64 * at) as u64).max(limit as u64);
                median(reads(limit), || {
                    let entries = store
                        .account_history(address, before, limit)
                        .expect("reads");
                    assert_eq!(entries.len(), limit);
                })
            };
            let long = page(&big, transfers);
            let short = page(&small, SMALL);
            println!(
                "{engine}: page of {limit:>4} at the {name:<6} end: {:>8.1} µs on {transfers} \
                 transactions, {:>8.1} µs on {SMALL}: ratio {:.2}",
                micros(long),
                micros(short),
                long.as_secs_f64() / short.as_secs_f64()
            );
        }
    }
    let whole = median(3, || {
        let all = store
            .account_transactions(&big, 0, usize::MAX)
            .expect("reads");
        assert_eq!(all.len() as u64, transfers);
    });
    println!(
        "{engine}: the whole list of {transfers} (what account_info reads): {:.1} ms",
        whole.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Commits `count` unsigned transfers from `keys`, numbered from `first`.
fn commit(
    store: &Store,
    keys: &[ledger_core::SecretKey],
    first: u64,
    count: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    use ledger_core::StateCommit;
    let mut done = 0;
    while done < count {
        let size = BLOCK.min(count - done);
        let tip = store.tip()?.ok_or("no genesis")?;
        let block = next_block(
            tip,
            Address([9; 20]),
            unsigned_transfers(keys, first + done, size as usize),
        );
        let changes = execute_block(
            store,
            block,
            ledger_core::Balance::from(0),
            &Default::default(),
            &mut NoContracts,
        )?;
        store.commit(&changes)?;
        done += size;
    }
    Ok(())
}

fn reads(limit: usize) -> usize {
    if limit <= 100 {
        2001
    } else {
        401
    }
}

/// The median time of `runs` runs of `read`.
fn median(runs: usize, mut read: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            read();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
