//! The v1 request decoder on whole frames, as text and as bytes (a binary
//! frame's bytes read as lossy UTF-8): it answers every frame, never
//! panics, and an accepted request keeps the id it was given.
#![no_main]

use ledger_ws::protocol::parse_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_request(&text) {
        Ok((id, _)) => {
            let value: serde_json::Value =
                serde_json::from_str(&text).expect("accepted means JSON");
            assert_eq!(value["id"].as_u64(), Some(id));
        }
        Err(rejected) => {
            assert!(!rejected.error.to_string().is_empty());
            let _ = rejected.error.to_api_error();
        }
    }
});
