//! The wire transaction parser and verifier on arbitrary JSON: never
//! panics; a transaction that verifies keeps its wire form.
#![no_main]

use ledger_core::{RawTransaction, VerifiedTransaction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<RawTransaction>(data) else {
        return;
    };
    if let Ok(tx) = VerifiedTransaction::from_raw(&raw) {
        assert_eq!(tx.to_raw(), raw, "decoding is canonical");
    }
});
