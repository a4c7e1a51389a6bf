//! Every conformance vector of `vectors/format-notes.json` (produced by
//! libsecp256k1, OpenSSL hashes and Bitcoin base58, independently of this
//! code) must pass.

use ledger_core::{
    address_of, sha256, signing_digest, Address, Block, CoreError, Genesis, Hash, RawTransaction,
    Sealable, SecretKey, StatusCode, Transaction, TransactionStatus, VerifiedTransaction,
};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/format-notes.json")).expect("vectors are JSON")
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {value}"))
}

fn raw(value: &Value) -> RawTransaction {
    serde_json::from_value(value.clone()).expect("a wire transaction")
}

#[test]
fn keys_derive_their_public_keys_and_addresses() {
    let vectors = vectors();
    let keys = vectors["keys"].as_array().expect("keys");
    let mut checked = 0;
    for key in keys {
        let address_hex = text(key, "address_hex");
        let address: Address = text(key, "address").parse().expect("address parses");
        assert_eq!(hex::encode(address.0), address_hex);
        assert_eq!(address.to_string(), text(key, "address"));
        let Some(secret) = key["private_key_hex"].as_str() else {
            assert!(address.is_null(), "only the null address has no key");
            continue;
        };
        let secret = SecretKey::from_hex(secret).expect("key parses");
        assert_eq!(secret.to_hex(), text(key, "private_key_hex"));
        let public = secret.public_key().serialize_uncompressed();
        assert_eq!(
            hex::encode(public),
            text(key, "public_key_uncompressed_hex")
        );
        assert_eq!(
            hex::encode(sha256(&public).0),
            text(key, "sha256_of_public_key_hex")
        );
        assert_eq!(address_of(&secret.public_key()), address);
        assert_eq!(secret.address(), address);
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn valid_transactions_hash_sign_and_recover() {
    let vectors = vectors();
    let cases = vectors["valid_transactions"]
        .as_array()
        .expect("valid_transactions");
    assert_eq!(cases.len(), 11);
    for case in cases {
        let what = text(case, "description");
        let raw = raw(&case["tx"]);
        let sealed = Transaction::from_raw(&raw).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            sealed.hash_preimage(),
            text(case, "hash_preimage"),
            "{what}"
        );
        assert_eq!(
            hex::encode(sealed.hash().0),
            text(case, "hash_hex"),
            "{what}"
        );
        assert_eq!(
            sealed.hash().to_string(),
            text(case, "hash_base64"),
            "{what}"
        );
        // The fast path (hashing the wire texts) equals the reference path.
        assert_eq!(sealed.compute_hash(), sealed.hash(), "{what}");
        assert_eq!(sealed.inner().hash(), sealed.hash(), "{what}");
        assert_eq!(
            hex::encode(signing_digest(&sealed.hash()).0),
            text(case, "signed_digest_hex"),
            "{what}"
        );
        assert_eq!(
            hex::encode(sealed.sign.0),
            text(case, "signature_hex"),
            "{what}"
        );
        assert_eq!(
            u64::from(sealed.sign.0[64]),
            case["recovery_id"].as_u64().expect("id")
        );
        assert_eq!(sealed.to_raw(), raw, "{what}: wire text round trip");
        let verified = sealed.verify().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            verified.from.to_string(),
            text(case, "signer_address"),
            "{what}"
        );
    }
}

#[test]
fn signing_reproduces_the_vector_signatures() {
    // libsecp256k1 signs deterministically (RFC 6979), so our signature of
    // each vector must be the vector's, byte for byte.
    let vectors = vectors();
    let keys: Vec<SecretKey> = vectors["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["private_key_hex"].as_str())
        .map(|hex| SecretKey::from_hex(hex).expect("key"))
        .collect();
    for case in vectors["valid_transactions"].as_array().expect("cases") {
        let expected = Transaction::from_raw(&raw(&case["tx"])).expect("parses");
        let key = keys
            .iter()
            .find(|key| key.address() == expected.from)
            .expect("the signer's key is in the vectors");
        let mut tx = expected.inner().clone();
        tx.sign(key);
        assert_eq!(tx.sign, expected.sign, "{}", text(case, "description"));
    }
}

#[test]
fn invalid_transactions_are_refused_with_the_expected_status() {
    let vectors = vectors();
    let cases = vectors["invalid_transactions"].as_array().expect("invalid");
    assert_eq!(cases.len(), 15);
    for case in cases {
        let what = text(case, "description");
        let error = VerifiedTransaction::from_raw(&raw(&case["tx"]))
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        let expected = match text(case, "expect") {
            "bad_sign" => StatusCode::BadSign,
            "bad_form" => StatusCode::BadQueryForm,
            other => panic!("unknown expectation {other}"),
        };
        let status = TransactionStatus::from_admission_error(&error);
        assert_eq!(status.status_code, expected, "{what}: {error}");
        assert!(!status.message.is_empty(), "{what}: the status says why");
    }
}

#[test]
fn malformed_fields_are_named_in_the_error() {
    let vectors = vectors();
    let cases = vectors["invalid_transactions"].as_array().expect("invalid");
    let named: Vec<(String, String)> = cases
        .iter()
        .filter(|case| text(case, "expect") == "bad_form")
        .map(|case| {
            let error = Transaction::from_raw(&raw(&case["tx"])).expect_err("refused");
            let CoreError::Field { field, .. } = &error else {
                panic!("{error} does not name a field");
            };
            (text(case, "description").to_owned(), (*field).to_owned())
        })
        .collect();
    for (what, field) in &named {
        let mentioned = what
            .split_whitespace()
            .map(|word| if word == "signature" { "sign" } else { word })
            .find(|word| ["from", "to", "amount", "fee", "data", "sign"].contains(word));
        assert_eq!(Some(field.as_str()), mentioned, "{what}");
    }
}

#[test]
fn preimage_ambiguity_pair_shares_hash_and_signature() {
    let vectors = vectors();
    let pair = &vectors["preimage_ambiguity"];
    let a = Transaction::from_raw(&raw(&pair["tx_a"])).expect("a parses");
    let b = Transaction::from_raw(&raw(&pair["tx_b"])).expect("b parses");
    assert_ne!(a.inner(), b.inner(), "the fields differ");
    assert_eq!(a.hash_preimage(), text(pair, "preimage"));
    assert_eq!(b.hash_preimage(), text(pair, "preimage"));
    assert_eq!(a.hash().to_string(), text(pair, "hash_base64"));
    assert_eq!(a.hash(), b.hash());
    assert!(a.verify().is_ok());
    assert!(b.verify().is_ok());
}

fn block_from_vector(value: &Value) -> Block {
    let transactions = value["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|tx| {
            let mut raw = raw(tx);
            if raw.sign.is_empty() {
                // Genesis allocations: 65 zero bytes, shown as "".
                raw.sign = ledger_core::encode_base64(&[0; 65]);
            }
            Transaction::from_raw(&raw).expect("vector transaction")
        })
        .collect();
    Block {
        depth: value["depth"].as_u64().expect("depth"),
        nonce: value["nonce"].as_u64().expect("nonce"),
        timestamp: value["timestamp"].as_u64().expect("timestamp") as u32,
        previous_block_hash: text(value, "previous_block_hash").parse().expect("hash"),
        coinbase: text(value, "coinbase").parse().expect("coinbase"),
        transactions,
    }
}

#[test]
fn blocks_serialise_and_hash_as_the_vectors() {
    let vectors = vectors();
    let blocks = vectors["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 2);
    for case in blocks {
        let what = text(case, "description");
        let block = block_from_vector(&case["block"]);
        let encoded = block.encode();
        assert_eq!(
            hex::encode(&encoded),
            text(case, "serialized_hex"),
            "{what}"
        );
        assert_eq!(
            block.compute_hash().to_string(),
            text(case, "hash_base64"),
            "{what}"
        );
        assert_eq!(Block::decode(&encoded).expect("decodes"), block, "{what}");
        let shown = serde_json::to_value(block.to_raw()).expect("serialises");
        assert_eq!(shown, case["block"], "{what}: find_block form");
    }
}

#[test]
fn genesis_file_builds_the_vector_genesis_block() {
    let vectors = vectors();
    let case = &vectors["blocks"][0];
    let genesis = Genesis::from_json(&case["genesis_file"].to_string()).expect("genesis parses");
    let block = genesis.block();
    assert_eq!(block.inner(), &block_from_vector(&case["block"]));
    assert_eq!(block.hash().to_string(), text(case, "hash_base64"));
    let hash: Hash = text(&vectors["blocks"][1]["block"], "previous_block_hash")
        .parse()
        .expect("hash");
    assert_eq!(block.hash(), hash, "block 1 links to this genesis");
}
