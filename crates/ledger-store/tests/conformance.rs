//! The storage behaviour suite of `ledger-core`, on every engine.

mod sled {
    fn temporary() -> ledger_store::Store {
        ledger_store::Store::temporary(ledger_store::Engine::Sled).expect("a temporary store opens")
    }

    ledger_core::store_conformance_tests!(temporary);
}

mod fjall {
    fn temporary() -> ledger_store::Store {
        ledger_store::Store::temporary(ledger_store::Engine::Fjall)
            .expect("a temporary store opens")
    }

    ledger_core::store_conformance_tests!(temporary);
}
