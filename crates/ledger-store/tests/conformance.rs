//! The storage behaviour suite of `ledger-core`, on sled.

fn temporary() -> ledger_store::SledStore {
    ledger_store::SledStore::temporary().expect("a temporary store opens")
}

ledger_core::store_conformance_tests!(temporary);
