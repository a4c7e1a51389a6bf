//! Durable block commits on sled: one atomic batch and one flush per
//! block, for blocks of 1, 100 and 10,000 transfers. Execution happens in
//! the untimed setup; only `SledStore::commit` is measured.

use std::cell::Cell;

use criterion::{BatchSize, Criterion, Throughput};

use ledger_benches::{funded_genesis, keys, unsigned_transfers, T0};
use ledger_core::{
    execute_block, Block, ChainConfig, Ledger, NoContracts, Sealable, StateCommit, StateRead,
};
use ledger_store::SledStore;

fn commits(c: &mut Criterion) {
    let keys = keys(1000);
    let genesis = funded_genesis(&keys);
    let mut group = c.benchmark_group("durable commit (sled, flush per block)");
    for size in [1usize, 100, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let ledger = Ledger::open(
            SledStore::open(dir.path()).expect("store"),
            genesis.clone(),
            ChainConfig::default(),
        )
        .expect("ledger");
        let store = ledger.store();
        let next = Cell::new(0u64);
        group.throughput(Throughput::Elements(size as u64));
        group.sample_size(if size >= 10_000 { 10 } else { 30 });
        group.bench_function(format!("block of {size} transfers"), |b| {
            b.iter_batched(
                || {
                    let tip = store.tip().expect("reads").expect("tip");
                    let transactions = unsigned_transfers(&keys, next.get(), size);
                    next.set(next.get() + size as u64);
                    let block = Block {
                        depth: tip.depth + 1,
                        nonce: 0,
                        timestamp: T0 + 1,
                        previous_block_hash: tip.hash,
                        coinbase: keys[0].address(),
                        transactions: transactions.into_iter().map(Sealable::seal).collect(),
                    };
                    execute_block(store, block.seal(), genesis.block_reward, &mut NoContracts)
                        .expect("executes")
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
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = Ledger::open(
        SledStore::open(dir.path()).expect("store"),
        genesis.clone(),
        ChainConfig::default(),
    )
    .expect("ledger");
    let store = ledger.store();
    for n in 0..10u64 {
        let tip = store.tip().expect("reads").expect("tip");
        let transactions = unsigned_transfers(&keys, n * 10_000, 10_000);
        let block = Block {
            depth: tip.depth + 1,
            nonce: 0,
            timestamp: T0 + 1,
            previous_block_hash: tip.hash,
            coinbase: keys[0].address(),
            transactions: transactions.into_iter().map(Sealable::seal).collect(),
        };
        let changes = execute_block(store, block.seal(), genesis.block_reward, &mut NoContracts)
            .expect("executes");
        store.commit(&changes).expect("commits");
    }
    let present = unsigned_transfers(&keys, 55_555, 1).remove(0).seal().hash();
    let absent = unsigned_transfers(&keys, 999_999, 1)
        .remove(0)
        .seal()
        .hash();
    let mut group = c.benchmark_group("sled reads (100,000 transfers stored)");
    group.throughput(Throughput::Elements(1));
    group.bench_function("transaction record, absent", |b| {
        b.iter(|| store.transaction(&absent))
    });
    group.bench_function("transaction record, present", |b| {
        b.iter(|| store.transaction(&present))
    });
    group.bench_function("account", |b| b.iter(|| store.account(&keys[7].address())));
    let fresh = ledger_core::Address([0xee; 20]);
    group.bench_function("account, absent", |b| b.iter(|| store.account(&fresh)));
    let receiver = unsigned_transfers(&keys, 55_555, 1).remove(0).to;
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
