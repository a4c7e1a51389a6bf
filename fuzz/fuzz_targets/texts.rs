//! The text parsers: decimal (uint64 and uint256), base58 addresses,
//! base64 hashes and bytes. Every decoding is canonical, so whatever
//! parses prints back exactly as it was given.
#![no_main]

use ledger_core::{decode_base64, encode_base64, parse_u64, Address, Balance, Hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(value) = parse_u64(text) {
        assert_eq!(value.to_string(), text);
    }
    if let Ok(value) = text.parse::<Balance>() {
        assert_eq!(value.to_string(), text);
    }
    if let Ok(address) = text.parse::<Address>() {
        assert_eq!(address.to_string(), text);
    }
    if let Ok(hash) = text.parse::<Hash>() {
        assert_eq!(hash.to_string(), text);
    }
    if let Ok(bytes) = decode_base64(text) {
        assert_eq!(encode_base64(&bytes), text);
    }
});
