//! The genesis file parser: never panics; what parses passes its own checks.
#![no_main]

use ledger_core::Genesis;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(genesis) = Genesis::from_json(text) {
        genesis.check().expect("a parsed genesis is valid");
        let _ = genesis.block();
    }
});
