//! The snapshot decoder (what a joining node reads from a peer): never
//! panics; what decodes encodes back to the same bytes, and verifying it
//! against any genesis never panics either.
#![no_main]

use ledger_core::{Hash, Snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(snapshot) = Snapshot::decode(bytes) {
        assert_eq!(snapshot.encode(), bytes, "the encoding is canonical");
        let genesis = snapshot
            .blocks
            .first()
            .map_or(Hash::ZERO, |block| block.hash());
        let _ = snapshot.verify(&genesis);
    }
});
