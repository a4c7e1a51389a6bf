//! Transaction hashing, signer recovery, wire verification and block
//! application; the raw `secp256k1` recover call is the baseline the
//! verification path is held to.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rayon::prelude::*;

use ledger_benches::{funded_genesis, keys, next_block, transfers};
use ledger_core::{
    execute_block, signing_digest, Balance, ChainConfig, Ledger, MemoryStore, NoContracts,
    Sealable, StateRead, Transaction, VerifiedTransaction,
};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, SECP256K1};

fn signatures(c: &mut Criterion) {
    let keys = keys(1);
    let tx = transfers(&keys, 1).remove(0);
    let raw = tx.to_raw();
    let sealed = tx.clone().seal();
    let digest = signing_digest(&sealed.hash());

    let mut group = c.benchmark_group("transaction");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hash (from fields)", |b| b.iter(|| tx.compute_hash()));
    group.bench_function("parse wire + hash", |b| {
        b.iter(|| Transaction::from_raw(&raw))
    });
    group.bench_function("secp256k1 recover (baseline)", |b| {
        let id = RecoveryId::try_from(i32::from(tx.sign.0[64])).expect("id");
        let signature = RecoverableSignature::from_compact(&tx.sign.0[..64], id).expect("sig");
        let message = Message::from_digest(digest.0);
        b.iter(|| SECP256K1.recover_ecdsa(&message, &signature))
    });
    group.bench_function("recover signer address", |b| {
        b.iter(|| tx.sign.recover(&digest))
    });
    group.bench_function("verify wire transaction", |b| {
        b.iter(|| VerifiedTransaction::from_raw(&raw))
    });
    group.finish();

    let batch = transfers(&keys, 1000)
        .into_iter()
        .map(|tx| tx.to_raw())
        .collect::<Vec<_>>();
    let mut group = c.benchmark_group("verify 1000 wire transactions");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.sample_size(20);
    group.bench_function("one core", |b| {
        b.iter(|| batch.iter().map(VerifiedTransaction::from_raw).count())
    });
    group.bench_function("all cores (rayon)", |b| {
        b.iter(|| batch.par_iter().map(VerifiedTransaction::from_raw).count())
    });
    group.finish();
}

fn apply_blocks(c: &mut Criterion) {
    let keys = keys(1000);
    let genesis = funded_genesis(&keys);
    let all = transfers(&keys, 10_000);
    let mut group = c.benchmark_group("apply block of pre-verified transfers");
    group.sample_size(20);
    for size in [1_000usize, 10_000] {
        let ledger = Ledger::open(MemoryStore::new(), genesis.clone(), ChainConfig::default())
            .expect("opens");
        let tip = ledger.tip().expect("tip");
        let block = next_block(tip, keys[0].address(), all[..size].to_vec());
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(format!("{size} transfers"), |b| {
            b.iter_batched(
                || block.clone(),
                |block| {
                    let changes = execute_block(
                        ledger.store(),
                        block,
                        Balance::from(1000),
                        &Default::default(),
                        &mut NoContracts,
                    )
                    .expect("valid block");
                    assert_eq!(changes.transactions.len(), size);
                    changes
                },
                BatchSize::LargeInput,
            )
        });
        assert!(ledger.store().tip().is_ok());
    }
    group.finish();
}

// The macros generate undocumented functions.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, signatures, apply_blocks);
}
criterion_main!(harness::benches);
