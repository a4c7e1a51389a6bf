//! Every stored-record decoder of ledger-store on arbitrary bytes: never
//! panics, and what decodes encodes back to the same bytes.
#![no_main]

use ledger_core::ChainSettings;
use ledger_store::records::{
    decode_account, decode_decision, decode_list_entry, decode_logs, decode_record, decode_tip,
    encode_account, encode_decision, encode_list_entry, encode_logs, encode_record, encode_tip,
    ListEntry,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(account) = decode_account(data) {
        assert_eq!(encode_account(&account)[..], data[..]);
    }
    if let Ok(record) = decode_record(data) {
        assert_eq!(encode_record(&record), data);
    }
    if let Ok(tip) = decode_tip(data) {
        assert_eq!(encode_tip(&tip)[..], data[..]);
    }
    if let Ok(decision) = decode_decision(data) {
        assert_eq!(encode_decision(&decision), data);
    }
    if let Ok(logs) = decode_logs(data) {
        assert_eq!(encode_logs(&logs), data);
    }
    match decode_list_entry(7, data) {
        Ok(ListEntry::Full(entry)) => {
            assert_eq!(entry.position, 7);
            assert_eq!(encode_list_entry(&entry)[..], data[..]);
        }
        Ok(ListEntry::HashOnly { position, hash }) => {
            assert_eq!((position, &hash.0[..]), (7, data));
        }
        Err(_) => {}
    }
    if let Some(settings) = ChainSettings::decode(data) {
        assert_eq!(settings.encode(), data);
    }
});
