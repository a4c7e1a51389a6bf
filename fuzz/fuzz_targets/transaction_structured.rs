//! The verifier on transactions whose fields are each almost valid: real
//! signatures over mutated fields, fields of the right shape with wrong
//! content. Anything that verifies hashes as its wire texts say.
#![no_main]

use arbitrary::Arbitrary;
use ledger_core::{Address, Balance, SecretKey, Transaction, VerifiedTransaction};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    key: [u8; 32],
    to: [u8; 20],
    amount: u64,
    fee: u64,
    timestamp: u32,
    data: Vec<u8>,
    /// Which field to replace with `text`, if any.
    mutate: u8,
    text: String,
}

fuzz_target!(|input: Input| {
    let Ok(key) = SecretKey::from_bytes(&input.key) else {
        return;
    };
    let tx = Transaction::signed(
        &key,
        Address(input.to),
        Balance::from(input.amount),
        input.fee,
        input.timestamp,
        input.data,
    );
    let mut raw = tx.to_raw();
    match input.mutate % 8 {
        0 => raw.from = input.text,
        1 => raw.to = input.text,
        2 => raw.amount = input.text,
        3 => raw.fee = input.text,
        4 => raw.data = input.text,
        5 => raw.sign = input.text,
        _ => {}
    }
    let mutated = input.mutate % 8 < 6;
    match VerifiedTransaction::from_raw(&raw) {
        Ok(verified) => assert_eq!(verified.to_raw(), raw),
        Err(error) => assert!(mutated, "an untouched signed transaction verifies: {error}"),
    }
});
