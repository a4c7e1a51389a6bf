//! The HTTP side's own parsing: a request target's route and its stream
//! filter (`address`, `action_type`). A filter that parses must ask for
//! itself when written back; nothing panics. (hyper parses the request
//! line and headers before this.)
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|target: &str| {
    ledger_ws::fuzz_request_target(target);
});
