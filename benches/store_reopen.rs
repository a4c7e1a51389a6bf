//! How long a store takes to open after a crash, and after a clean close:
//! the time a restarted node is unreachable before it can listen.
//!
//!     cargo run --release -p ledger-benches --example store_reopen -- ENGINE [TRANSFERS] [BLOCK]
//!
//! A child process (this program again) commits TRANSFERS unsigned
//! transfers (default 500,000) in blocks of BLOCK (default 1,000) to a
//! fresh store and then aborts without closing it, as a SIGKILL would
//! leave it. The parent then opens the store (recovery), closes it
//! cleanly, and opens it again, timing both opens, and prints the disk
//! bytes per transfer.

use std::process::Command;
use std::time::Instant;

use ledger_benches::{funded_genesis, keys, next_changes};
use ledger_core::{ChainConfig, Ledger, StateCommit, StateRead};
use ledger_store::{Engine, Store};

const CHILD_ENV: &str = "LEDGER_REOPEN_CHILD";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let engine: Engine = args
        .next()
        .ok_or("usage: store_reopen ENGINE [TRANSFERS] [BLOCK]")?
        .parse()?;
    let transfers: u64 = args.next().map_or(Ok(500_000), |n| n.parse())?;
    let block: u64 = args.next().map_or(Ok(1_000), |n| n.parse())?;
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        fill_and_crash(engine, &dir, transfers, block);
    }
    if let Ok(dir) = std::env::var("LEDGER_REOPEN_ONLY") {
        // For profiling an open: the store in `dir`, opened once.
        let started = Instant::now();
        let store = Store::open(&dir, engine)?;
        println!(
            "{engine}: opened in {:.0} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        drop(store);
        return Ok(());
    }

    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let status = Command::new(std::env::current_exe()?)
        .args([engine.name(), &transfers.to_string(), &block.to_string()])
        .env(CHILD_ENV, dir.path())
        .status()?;
    let filled = started.elapsed();
    if status.success() {
        return Err("the child was meant to abort".into());
    }
    let bytes = disk_bytes(dir.path())?;

    let started = Instant::now();
    let store = Store::open(dir.path(), engine)?;
    let after_crash = started.elapsed();
    let tip = store.tip()?.ok_or("no chain")?;
    store.flush()?;
    drop(store);
    let started = Instant::now();
    let store = loop {
        match Store::open(dir.path(), engine) {
            Err(ledger_store::StoreError::Locked { .. }) => std::thread::yield_now(),
            other => break other?,
        }
    };
    let after_close = started.elapsed();
    drop(store);
    println!(
        "{engine}: {transfers} transfers in blocks of {block} ({} blocks) committed in {:.1} s; \
         open after a crash {:.0} ms, after a clean close {:.0} ms; {:.0} disk bytes per transfer",
        tip.depth,
        filled.as_secs_f64(),
        after_crash.as_secs_f64() * 1e3,
        after_close.as_secs_f64() * 1e3,
        bytes as f64 / transfers as f64,
    );
    Ok(())
}

/// The child: commits the transfers, then dies without closing the store.
fn fill_and_crash(engine: Engine, dir: &str, transfers: u64, block: u64) -> ! {
    let keys = keys(1000);
    let genesis = funded_genesis(&keys);
    let store = Store::open(dir, engine).expect("store");
    let ledger = Ledger::open(store, genesis.clone(), ChainConfig::default()).expect("ledger");
    let store = ledger.store();
    for first in (0..transfers).step_by(block as usize) {
        let count = block.min(transfers - first) as usize;
        let changes = next_changes(store, &keys, first, count, genesis.block_reward);
        store.commit(&changes).expect("commits");
    }
    std::process::abort()
}

fn disk_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            disk_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
