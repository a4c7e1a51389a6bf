//! `Block::decode` on arbitrary bytes (the storage format and the hash
//! preimage): never panics, and what decodes encodes back to the same bytes.
#![no_main]

use ledger_core::Block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode(data) {
        assert_eq!(block.encode(), data);
    }
});
