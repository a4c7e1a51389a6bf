//! The v1 request decoder on requests shaped like real ones (known types
//! and names, arguments of every JSON type), where raw bytes rarely reach
//! the argument parsers.
#![no_main]

use arbitrary::Arbitrary;
use ledger_ws::protocol::parse_request;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Big(u64),
    Float(f64),
    Text(String),
    List(Vec<u8>),
    Object(Vec<(String, u8)>),
}

impl Json {
    fn value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(n) => json!(n),
            Json::Big(n) => json!(n),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Text(text) => json!(text),
            Json::List(items) => json!(items),
            Json::Object(members) => {
                Value::Object(members.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
            }
        }
    }
}

const TYPES: [&str; 4] = ["call", "subscribe", "unsubscribe", "other"];
const NAMES: [&str; 8] = [
    "last_block_info",
    "account_info",
    "find_block",
    "find_transaction",
    "find_transaction_status",
    "call_contract_view",
    "push_transaction",
    "nothing",
];
const ARGS: [&str; 12] = [
    "address",
    "hash",
    "number",
    "from",
    "to",
    "amount",
    "fee",
    "timestamp",
    "data",
    "sign",
    "message",
    "extra",
];

#[derive(Arbitrary, Debug)]
struct Request {
    id: Json,
    kind: u8,
    name: u8,
    api: Json,
    args: Vec<(u8, Json)>,
}

fuzz_target!(|request: Request| {
    let args: serde_json::Map<String, Value> = request
        .args
        .iter()
        .map(|(name, value)| {
            (
                ARGS[usize::from(*name) % ARGS.len()].to_owned(),
                value.value(),
            )
        })
        .collect();
    let frame = json!({
        "id": request.id.value(),
        "type": TYPES[usize::from(request.kind) % TYPES.len()],
        "name": NAMES[usize::from(request.name) % NAMES.len()],
        "api": request.api.value(),
        "args": args,
    });
    if let Ok((id, _)) = parse_request(&frame.to_string()) {
        assert_eq!(frame["id"].as_u64(), Some(id));
    }
});
