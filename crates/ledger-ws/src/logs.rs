//! Contract logs on the wire (api-extensions.md): the `find_transaction_logs`
//! answer, the `logs` subscription's filter and its messages.

use ledger_core::{encode_base64, Address, Hash, Log};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::request_error::RequestError;

/// The most topics a filter (and a log) has.
pub(crate) const MAX_TOPICS: usize = 4;

/// One log as `find_transaction_logs` gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireLog {
    /// The contract that emitted it.
    pub address: Address,
    /// Its topics (32 bytes each, base64).
    pub topics: Vec<Hash>,
    /// Its data, base64.
    pub data: String,
}

impl From<&Log> for WireLog {
    fn from(log: &Log) -> Self {
        WireLog {
            address: log.address,
            topics: log.topics.iter().copied().map(Hash).collect(),
            data: encode_base64(&log.data),
        }
    }
}

/// The `find_transaction_logs` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionLogs {
    /// The transaction's logs, in emission order.
    pub logs: Vec<WireLog>,
}

/// The first message of a `logs` subscription: later blocks' logs follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FromBlock {
    /// The newest stored block when the subscription started.
    pub from_block: u64,
}

/// A `logs` subscription message: one matching log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMessage {
    /// The block it was emitted in.
    pub block_number: u64,
    /// The transaction that emitted it.
    pub transaction_hash: Hash,
    /// Its position among the block's logs, as Ethereum counts.
    pub log_index: u64,
    /// The contract that emitted it.
    pub address: Address,
    /// Its topics.
    pub topics: Vec<Hash>,
    /// Its data, base64.
    pub data: String,
}

/// A message of a `logs` subscription, as a client reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogsEvent {
    /// The first message: logs of blocks after this one follow.
    Started(FromBlock),
    /// A matching log.
    Log(LogMessage),
}

/// Which logs a subscription wants: from one address (or any), with the
/// given topics in their positions (`None`: any topic there).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogFilter {
    /// Only logs of this contract.
    pub address: Option<Address>,
    /// Topic `i` must equal `topics[i]` where that is set.
    pub topics: Vec<Option<Hash>>,
}

impl LogFilter {
    /// Reads a filter from the subscription's arguments.
    pub(crate) fn from_args(args: &Map<String, Value>) -> Result<LogFilter, RequestError> {
        let address = match args.get("address") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(text.parse().map_err(|source| RequestError::InvalidArg {
                    name: "address",
                    source: Box::new(source),
                })?)
            }
            Some(other) => return Err(arg_type("address", "a base58 address", other)),
        };
        let topics = match args.get("topics") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(entries)) if entries.len() <= MAX_TOPICS => entries
                .iter()
                .map(|entry| match entry {
                    Value::Null => Ok(None),
                    Value::String(text) => {
                        text.parse()
                            .map(Some)
                            .map_err(|source| RequestError::InvalidArg {
                                name: "topics",
                                source: Box::new(source),
                            })
                    }
                    other => Err(arg_type("topics", TOPICS, other)),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(arg_type("topics", TOPICS, other)),
        };
        Ok(LogFilter { address, topics })
    }

    /// The subscription's arguments for this filter.
    pub fn to_args(&self) -> Value {
        let mut args = Map::new();
        if let Some(address) = self.address {
            args.insert("address".into(), Value::String(address.to_string()));
        }
        if !self.topics.is_empty() {
            let topics = self
                .topics
                .iter()
                .map(|topic| match topic {
                    Some(hash) => Value::String(hash.to_string()),
                    None => Value::Null,
                })
                .collect();
            args.insert("topics".into(), Value::Array(topics));
        }
        Value::Object(args)
    }

    /// Whether `log` passes the filter.
    pub fn matches(&self, log: &Log) -> bool {
        self.address.is_none_or(|address| address == log.address)
            && self
                .topics
                .iter()
                .enumerate()
                .all(|(i, wanted)| match wanted {
                    None => true,
                    Some(topic) => log.topics.get(i) == Some(&topic.0),
                })
    }
}

const TOPICS: &str = "a list of up to 4 entries, each base64 of 32 bytes or null";

fn arg_type(name: &'static str, expected: &'static str, found: &Value) -> RequestError {
    RequestError::ArgType {
        name,
        expected,
        found: crate::protocol::shown(found),
    }
}

/// The messages a stored block's logs make for one filter, in chain order,
/// with Ethereum's per-block log index.
pub(crate) fn messages<'a>(
    depth: u64,
    logs: &'a [(Hash, Vec<Log>)],
    filter: &'a LogFilter,
) -> impl Iterator<Item = LogMessage> + 'a {
    logs.iter()
        .flat_map(|(hash, logs)| logs.iter().map(move |log| (*hash, log)))
        .enumerate()
        .filter(|(_, (_, log))| filter.matches(log))
        .map(move |(index, (hash, log))| LogMessage {
            block_number: depth,
            transaction_hash: hash,
            log_index: index as u64,
            address: log.address,
            topics: log.topics.iter().copied().map(Hash).collect(),
            data: encode_base64(&log.data),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(address: u8, topics: &[u8]) -> Log {
        Log {
            address: Address([address; 20]),
            topics: topics.iter().map(|t| [*t; 32]).collect(),
            data: vec![address],
        }
    }

    fn args(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).expect("json") {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn filters_match_by_address_and_topic_position() {
        let any = LogFilter::default();
        let by_address = LogFilter {
            address: Some(Address([1; 20])),
            topics: vec![],
        };
        let second_topic = LogFilter {
            address: None,
            topics: vec![None, Some(Hash([7; 32]))],
        };
        let a = log(1, &[5, 7]);
        let b = log(2, &[7]);
        assert!(any.matches(&a) && any.matches(&b));
        assert!(by_address.matches(&a) && !by_address.matches(&b));
        assert!(second_topic.matches(&a) && !second_topic.matches(&b));
    }

    #[test]
    fn messages_count_the_log_index_over_the_whole_block() {
        let logs = vec![
            (Hash([1; 32]), vec![log(1, &[1]), log(2, &[2])]),
            (Hash([2; 32]), vec![log(1, &[3])]),
        ];
        let filter = LogFilter {
            address: Some(Address([1; 20])),
            topics: vec![],
        };
        let found: Vec<_> = messages(9, &logs, &filter)
            .map(|m| (m.transaction_hash, m.log_index, m.block_number))
            .collect();
        assert_eq!(found, vec![(Hash([1; 32]), 0, 9), (Hash([2; 32]), 2, 9)]);
    }

    #[test]
    fn bad_filters_are_invalid_args_naming_the_argument() {
        let topic = encode_base64(&[7; 32]);
        let parsed = LogFilter::from_args(&args(&format!(r#"{{"topics": [null, "{topic}"]}}"#)))
            .expect("parses");
        assert_eq!(parsed.topics, vec![None, Some(Hash([7; 32]))]);
        for (json, name) in [
            (r#"{"address": 5}"#, "address"),
            (r#"{"address": "0OIl"}"#, "address"),
            (r#"{"topics": "x"}"#, "topics"),
            (r#"{"topics": [null, null, null, null, null]}"#, "topics"),
            (r#"{"topics": ["AAAA"]}"#, "topics"),
            (r#"{"topics": [1]}"#, "topics"),
        ] {
            let error = LogFilter::from_args(&args(json)).expect_err(json);
            let wire = error.to_api_error();
            assert_eq!(wire.code, crate::ErrorCode::InvalidArgs, "{json}");
            assert!(wire.message.contains(name), "{json}: {}", wire.message);
        }
    }
}
