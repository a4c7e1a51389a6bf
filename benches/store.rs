//! Durable block commits on every engine, side by side in one run: one
//! atomic write synced to disk per block, for blocks of 1, 100 and 10,000
//! transfers. Execution happens in the untimed setup; only `Store::commit`
//! is measured. Then the point reads admission and execution make.

use std::cell::Cell;

use criterion::{BatchSize, Criterion, Throughput};

use ledger_benches::{funded_genesis, keys, next_changes, unsigned_transfers};
use ledger_core::{ChainConfig, Genesis, Ledger, Sealable, SecretKey, StateCommit, StateRead};
use ledger_store::{Engine, Store};

/// A chain of `genesis` on `engine` in a new temporary directory (kept
/// alive by the returned handle).
fn ledger_on(engine: Engine, genesis: &Genesis) -> (tempfile::TempDir, Ledger<Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), engine).expect("store");
    let ledger = Ledger::open(store, genesis.clone(), ChainConfig::default()).expect("ledger");
    (dir, ledger)
}

fn commits(c: &mut Criterion) {
    let keys = keys(1000);
    let genesis = funded_genesis(&keys);
    for engine in Engine::ALL {
        commits_on(c, engine, &keys, &genesis);
    }
}

fn commits_on(c: &mut Criterion, engine: Engine, keys: &[SecretKey], genesis: &Genesis) {
    let mut group = c.benchmark_group(format!("durable commit ({engine}, synced per block)"));
    for size in [1usize, 100, 10_000] {
        let (_dir, ledger) = ledger_on(engine, genesis);
        let store = ledger.store();
        let next = Cell::new(0u64);
        group.throughput(Throughput::Elements(size as u64));
        group.sample_size(if size >= 10_000 { 10 } else { 30 });
        group.bench_function(format!("block of {size} transfers"), |b| {
            b.iter_batched(
                || {
                    let first = next.replace(next.get() + size as u64);
                    next_changes(store, keys, first, size, genesis.block_reward)
                },
                |changes| store.commit(&changes).expect("commits"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Point reads on a store holding 100,000 transfers: what admission and
/// execution ask for each transaction.
fn reads(c: &mut Criterion) {
    let keys = keys(1000);
    let genesis = funded_genesis(&keys);
    for engine in Engine::ALL {
        reads_on(c, engine, &keys, &genesis);
    }
}

fn reads_on(c: &mut Criterion, engine: Engine, keys: &[SecretKey], genesis: &Genesis) {
    let (_dir, ledger) = ledger_on(engine, genesis);
    let store = ledger.store();
    for n in 0..10u64 {
        let changes = next_changes(store, keys, n * 10_000, 10_000, genesis.block_reward);
        store.commit(&changes).expect("commits");
    }
    let present = unsigned_transfers(keys, 55_555, 1).remove(0).seal().hash();
    let absent = unsigned_transfers(keys, 999_999, 1).remove(0).seal().hash();
    let mut group = c.benchmark_group(format!("{engine} reads (100,000 transfers stored)"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("transaction record, absent", |b| {
        b.iter(|| store.transaction(&absent))
    });
    group.bench_function("transaction record, present", |b| {
        b.iter(|| store.transaction(&present))
    });
    // The address is derived once: deriving it (a public key) costs ~20 µs.
    let sender = keys[7].address();
    group.bench_function("account", |b| b.iter(|| store.account(&sender)));
    let fresh = ledger_core::Address([0xee; 20]);
    group.bench_function("account, absent", |b| b.iter(|| store.account(&fresh)));
    let receiver = unsigned_transfers(keys, 55_555, 1).remove(0).to;
    group.bench_function("account, a receiver", |b| {
        b.iter(|| store.account(&receiver))
    });
    group.finish();
}

// The macros generate undocumented functions.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion::criterion_group!(benches, commits, reads);
}
criterion::criterion_main!(harness::benches);
