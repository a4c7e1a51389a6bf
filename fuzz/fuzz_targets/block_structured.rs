//! Blocks built from arbitrary fields encode and decode back to
//! themselves, and every cut of their bytes is refused.
#![no_main]

use arbitrary::Arbitrary;
use ledger_core::{Address, Balance, Block, Hash, Sealable, Signature, Transaction};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Tx {
    from: [u8; 20],
    to: [u8; 20],
    amount: u64,
    fee: u64,
    timestamp: u32,
    data: Vec<u8>,
    sign: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    depth: u64,
    nonce: u64,
    timestamp: u32,
    previous: [u8; 32],
    coinbase: [u8; 20],
    transactions: Vec<Tx>,
    cut: usize,
}

fuzz_target!(|input: Input| {
    let transactions = input
        .transactions
        .into_iter()
        .map(|tx| {
            let mut sign = [0u8; 65];
            let n = tx.sign.len().min(65);
            sign[..n].copy_from_slice(&tx.sign[..n]);
            Transaction {
                from: Address(tx.from),
                to: Address(tx.to),
                amount: Balance::from(tx.amount),
                fee: tx.fee,
                timestamp: tx.timestamp,
                data: tx.data,
                sign: Signature(sign),
            }
            .seal()
        })
        .collect();
    let block = Block {
        depth: input.depth,
        nonce: input.nonce,
        timestamp: input.timestamp,
        previous_block_hash: Hash(input.previous),
        coinbase: Address(input.coinbase),
        transactions,
    };
    let bytes = block.encode();
    assert_eq!(Block::decode(&bytes).expect("decodes"), block);
    let cut = input.cut % bytes.len();
    assert!(Block::decode(&bytes[..cut]).is_err());
});
