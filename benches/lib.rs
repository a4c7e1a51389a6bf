//! Workloads shared by the benchmarks: seeded keys, a funded genesis and
//! signed transfers, so every run measures the same inputs.

use ledger_core::{
    execute_block, Address, Balance, Block, BlockChanges, ChainTip, Genesis, NoContracts, Sealable,
    Sealed, SecretKey, Signature, StateRead, Transaction,
};

/// Genesis timestamp of the benchmark chains.
pub const T0: u32 = 1_700_000_000;

/// `count` keys from a fixed seed.
pub fn keys(count: usize) -> Vec<SecretKey> {
    ledger_core::testing::keys(count, 42)
}

/// A genesis funding every key with 10^30.
pub fn funded_genesis(keys: &[SecretKey]) -> Genesis {
    let allocation: Balance = "1000000000000000000000000000000".parse().expect("constant");
    Genesis {
        timestamp: T0,
        block_reward: Balance::from(1000),
        accounts: keys.iter().map(|key| (key.address(), allocation)).collect(),
        settings: Default::default(),
        validators: Vec::new(),
    }
}

/// `count` signed transfers, sender `i % keys`, to fresh receivers, each
/// with a distinct timestamp so no two share a hash.
pub fn transfers(keys: &[SecretKey], count: usize) -> Vec<Transaction> {
    (0..count)
        .map(|i| {
            let mut to = [0u8; 20];
            to[..8].copy_from_slice(&(i as u64).to_be_bytes());
            to[19] = 1;
            Transaction::signed(
                &keys[i % keys.len()],
                Address(to),
                Balance::from(1 + i as u64 % 1000),
                21_000,
                T0 + i as u32,
                Vec::new(),
            )
        })
        .collect()
}

/// `count` transfers numbered from `first`, from the keys' addresses to
/// fresh receivers, **unsigned**: for measuring what comes after
/// verification (execution does not check signatures). Distinct numbers
/// give distinct hashes.
pub fn unsigned_transfers(keys: &[SecretKey], first: u64, count: usize) -> Vec<Transaction> {
    (first..first + count as u64)
        .map(|n| {
            let mut to = [0u8; 20];
            to[..8].copy_from_slice(&n.to_be_bytes());
            to[19] = 2;
            Transaction {
                from: keys[n as usize % keys.len()].address(),
                to: Address(to),
                amount: Balance::from(1 + n % 1000),
                fee: 21_000,
                timestamp: T0 + (n % 1_000_000) as u32,
                data: n.to_be_bytes().to_vec(),
                sign: Signature::NONE,
            }
        })
        .collect()
}

/// The block after `tip` holding `transactions`, credited to `coinbase`.
pub fn next_block(
    tip: ChainTip,
    coinbase: Address,
    transactions: Vec<Transaction>,
) -> Sealed<Block> {
    Block {
        depth: tip.depth + 1,
        nonce: 0,
        timestamp: T0 + 1,
        previous_block_hash: tip.hash,
        coinbase,
        transactions: transactions.into_iter().map(Sealable::seal).collect(),
    }
    .seal()
}

/// The changes of the next block on `store`: `count` unsigned transfers
/// numbered from `first`, executed without contracts.
pub fn next_changes(
    store: &impl StateRead,
    keys: &[SecretKey],
    first: u64,
    count: usize,
    reward: Balance,
) -> BlockChanges {
    let tip = store.tip().expect("reads").expect("tip");
    let block = next_block(
        tip,
        keys[0].address(),
        unsigned_transfers(keys, first, count),
    );
    execute_block(store, block, reward, &Default::default(), &mut NoContracts).expect("executes")
}
