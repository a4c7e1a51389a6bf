//! The wire protocol of `ws-api-v1.md`: requests, answers, results and
//! error codes, as serde types shared by the server and the client.

use std::fmt;

use ledger_core::{
    Account, AccountKind, Address, Balance, ChainTip, FeeRequest, Hash, RawTransaction, RawViewCall,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::logs::{FromBlock, LogFilter, LogMessage, LogsEvent, TransactionLogs, WireLog};
pub use crate::request_error::RequestError;

/// The only API version.
pub const API_VERSION: u64 = 1;

/// The error codes of an error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a JSON object (or not text, or not UTF-8).
    InvalidJson,
    /// `type`, `name` or `id` missing or of the wrong JSON type.
    InvalidRequest,
    /// `api` missing or not 1.
    UnsupportedApi,
    /// No such `type` + `name` pair.
    UnknownCommand,
    /// An argument is missing or malformed.
    InvalidArgs,
    /// Block, transaction, status or contract does not exist.
    NotFound,
    /// The id is in use in this connection.
    DuplicateId,
    /// The same subscription is active in this connection.
    AlreadySubscribed,
    /// A per-connection or node limit was hit.
    LimitExceeded,
    /// A view call's signature does not recover to `from`.
    BadSign,
    /// A view call reverted or halted.
    ExecutionFailed,
    /// Anything else; the node keeps running.
    Internal,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

/// The `error` object of an error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Text for people.
    pub message: String,
    /// For `execution_failed`: base64 of the revert data (`""` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The same error carrying `data` (base64).
    pub fn with_data(mut self, data: String) -> ApiError {
        self.data = Some(data);
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The three request types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestType {
    /// A call, answered once.
    Call,
    /// A subscription, answered by a stream of messages with the request's id.
    Subscribe,
    /// The end of a subscription.
    Unsubscribe,
}

/// A request frame as a client writes it, its arguments (an object)
/// serialised straight into it. The server reads requests with [`parse`].
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Request<'a, A: Serialize + ?Sized> {
    /// Call, subscribe or unsubscribe.
    #[serde(rename = "type")]
    pub kind: RequestType,
    /// The command.
    pub name: &'a str,
    /// Always [`API_VERSION`].
    pub api: u64,
    /// Chosen by the client, unique among its calls in flight and active subscriptions.
    pub id: u64,
    /// Arguments; left out when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<&'a A>,
}

/// Which block `find_block` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRef {
    /// By hash.
    Hash(Hash),
    /// By depth.
    Number(u64),
}

/// Why the arguments of a push are not a transaction: answered with the
/// status BadQueryForm, as the seed's admission table says.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed transaction: {json}")]
pub struct MalformedTransaction {
    /// What the JSON decoder said (a missing member, a wrong type).
    pub json: String,
}

/// A request, checked and resolved to what it asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Call `last_block_info`.
    LastBlockInfo,
    /// Call `account_info`.
    AccountInfo(Address),
    /// Call `find_block`.
    FindBlock(BlockRef),
    /// Call `find_transaction`.
    FindTransaction(Hash),
    /// Call `find_transaction_status`.
    FindTransactionStatus(Hash),
    /// Call `call_contract_view`.
    CallContractView(RawViewCall),
    /// Call `find_transaction_logs`.
    FindTransactionLogs(Hash),
    /// Call `node_info`.
    NodeInfo,
    /// Call `peers`.
    Peers,
    /// Call `relay_transactions`: transactions another validator admitted,
    /// to admit here without answering each or forwarding them on.
    RelayTransactions(Vec<RawTransaction>),
    /// Call `account_transactions`: a page of an account's history.
    AccountTransactions(HistoryPage),
    /// Call `estimate_fee`: what a transaction would cost.
    EstimateFee(Box<FeeRequest>),
    /// Call `account_code`: a contract's deployed code.
    AccountCode(Address),
    /// Call `account_storage`: one storage slot of a contract.
    AccountStorage {
        /// The contract.
        address: Address,
        /// The slot.
        slot: [u8; 32],
    },
    /// Call `state_snapshot`: take (or reuse) a snapshot to serve.
    StateSnapshot,
    /// Call `state_snapshot_chunk`: a chunk of the held snapshot.
    StateSnapshotChunk {
        /// Depth of the snapshot's top block.
        depth: u64,
        /// Which chunk.
        index: u64,
    },
    /// Subscribe to `logs` passing a filter.
    SubscribeLogs(LogFilter),
    /// Unsubscribe from `logs` with the filter it was subscribed with.
    UnsubscribeLogs(LogFilter),
    /// Subscribe to `last_block_info`.
    SubscribeBlocks,
    /// Subscribe to `account_info` of an address.
    SubscribeAccount(Address),
    /// Subscribe to `push_transaction`: the arguments as the wire
    /// transaction, or why they are not one (answered as BadQueryForm).
    PushTransaction(Result<RawTransaction, MalformedTransaction>),
    /// Unsubscribe from `last_block_info`.
    UnsubscribeBlocks,
    /// Unsubscribe from `account_info` of an address.
    UnsubscribeAccount(Address),
    /// Unsubscribe from `push_transaction` of a hash.
    UnsubscribePush(Hash),
}

/// A request that could not be parsed or checked: the id to answer it
/// with (if the frame had a usable one) and the error.
#[derive(Debug)]
pub struct Rejected {
    /// The request's id, when it was readable.
    pub id: Option<u64>,
    /// Why the request was refused.
    pub error: RequestError,
}

/// Parses one text frame into its id and command, with the error codes of
/// ws-api-v1.md in their order: JSON, then `id`, `type` and `name`, then
/// `api`, then the command, then its arguments.
pub fn parse_request(text: &str) -> Result<(u64, Command), Rejected> {
    parse(text).map(|request| (request.id, request.command))
}

/// A parsed request.
#[derive(Debug)]
pub struct Parsed {
    /// Its id.
    pub id: u64,
    /// What it asks.
    pub command: Command,
    /// Whether its answers carry `exData` server timings
    /// (api-extensions.md).
    pub timings: bool,
}

/// Parses and checks a request frame, `timings` member included.
pub fn parse(text: &str) -> Result<Parsed, Rejected> {
    let reject = |id, error| Rejected { id, error };
    let value: Value =
        serde_json::from_str(text).map_err(|e| reject(None, RequestError::NotJson(e)))?;
    let Value::Object(mut object) = value else {
        return Err(reject(None, RequestError::NotAnObject));
    };
    let id = match object.get("id") {
        Some(Value::Number(n)) if n.is_u64() => n.as_u64().unwrap_or_default(),
        Some(other) => {
            return Err(reject(
                None,
                RequestError::MemberType {
                    member: "id",
                    expected: "an unsigned integer",
                    found: shown(other),
                },
            ))
        }
        None => return Err(reject(None, RequestError::MissingMember { member: "id" })),
    };
    let with_id = |error| reject(Some(id), error);
    let kind = match required_string(&object, "type").map_err(with_id)? {
        "call" => RequestType::Call,
        "subscribe" => RequestType::Subscribe,
        "unsubscribe" => RequestType::Unsubscribe,
        other => {
            return Err(with_id(RequestError::UnknownType {
                kind: other.to_owned(),
            }))
        }
    };
    let name = required_string(&object, "name")
        .map_err(with_id)?
        .to_owned();
    match object.get("api") {
        Some(Value::Number(n)) if n.as_u64() == Some(API_VERSION) => {}
        found => {
            return Err(with_id(RequestError::UnsupportedApi {
                found: found.map(shown),
            }))
        }
    }
    let timings = match object.get("timings") {
        None => false,
        Some(Value::Bool(timings)) => *timings,
        Some(other) => {
            return Err(with_id(RequestError::MemberType {
                member: "timings",
                expected: "a boolean",
                found: shown(other),
            }))
        }
    };
    let args = match object.remove("args") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(args)) => args,
        Some(other) => {
            return Err(with_id(RequestError::ArgsNotObject {
                found: shown(&other),
            }))
        }
    };
    let command = command(kind, &name, args).map_err(with_id)?;
    Ok(Parsed {
        id,
        command,
        timings,
    })
}

/// A member of the request that must be a string (`invalid_request` otherwise).
fn required_string<'a>(
    object: &'a Map<String, Value>,
    member: &'static str,
) -> Result<&'a str, RequestError> {
    match object.get(member) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(RequestError::MemberType {
            member,
            expected: "a string",
            found: shown(other),
        }),
        None => Err(RequestError::MissingMember { member }),
    }
}

fn command(
    kind: RequestType,
    name: &str,
    args: Map<String, Value>,
) -> Result<Command, RequestError> {
    use RequestType::{Call, Subscribe, Unsubscribe};
    Ok(match (kind, name) {
        (Call, "last_block_info") => Command::LastBlockInfo,
        (Call, "account_info") => Command::AccountInfo(parsed_arg(&args, "address")?),
        (Call, "find_block") => Command::FindBlock(block_ref(&args)?),
        (Call, "find_transaction") => Command::FindTransaction(parsed_arg(&args, "hash")?),
        (Call, "find_transaction_status") => {
            Command::FindTransactionStatus(parsed_arg(&args, "hash")?)
        }
        (Call, "call_contract_view") => Command::CallContractView(
            serde_json::from_value(Value::Object(args)).map_err(RequestError::ViewCallArgs)?,
        ),
        (Call, "find_transaction_logs") => Command::FindTransactionLogs(parsed_arg(&args, "hash")?),
        (Call, "node_info") => Command::NodeInfo,
        (Call, "peers") => Command::Peers,
        (Call, "relay_transactions") => Command::RelayTransactions(relay_batch(args)?),
        (Call, "account_transactions") => {
            Command::AccountTransactions(HistoryPage::from_args(&args)?)
        }
        (Call, "estimate_fee") => Command::EstimateFee(Box::new(fee_request(&args)?)),
        (Call, "account_code") => Command::AccountCode(parsed_arg(&args, "address")?),
        (Call, "account_storage") => Command::AccountStorage {
            address: parsed_arg(&args, "address")?,
            // A slot is 32 bytes in base64, as a hash is.
            slot: parsed_arg::<Hash>(&args, "slot")?.0,
        },
        (Call, "state_snapshot") => Command::StateSnapshot,
        (Call, "state_snapshot_chunk") => Command::StateSnapshotChunk {
            depth: u64_arg(&args, "depth")?,
            index: u64_arg(&args, "index")?,
        },
        (Subscribe, "logs") => Command::SubscribeLogs(LogFilter::from_args(&args)?),
        (Unsubscribe, "logs") => Command::UnsubscribeLogs(LogFilter::from_args(&args)?),
        (Subscribe, "last_block_info") => Command::SubscribeBlocks,
        (Subscribe, "account_info") => Command::SubscribeAccount(parsed_arg(&args, "address")?),
        (Subscribe, "push_transaction") => Command::PushTransaction(
            serde_json::from_value(Value::Object(args)).map_err(|error| MalformedTransaction {
                json: error.to_string(),
            }),
        ),
        (Unsubscribe, "last_block_info") => Command::UnsubscribeBlocks,
        (Unsubscribe, "account_info") => Command::UnsubscribeAccount(parsed_arg(&args, "address")?),
        (Unsubscribe, "push_transaction") => Command::UnsubscribePush(parsed_arg(&args, "hash")?),
        (kind, name) => {
            return Err(RequestError::UnknownCommand {
                kind,
                name: name.to_owned(),
            })
        }
    })
}

/// The arguments of `account_transactions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryPage {
    /// Whose history.
    pub address: Address,
    /// Most entries in the page (1 to [`HistoryPage::MAX_LIMIT`]).
    pub limit: usize,
    /// Where the page starts: `None` for the newest.
    pub cursor: Option<Cursor>,
}

impl HistoryPage {
    /// Entries in a page when `limit` is not given.
    pub const DEFAULT_LIMIT: usize = 100;
    /// Most entries in a page.
    pub const MAX_LIMIT: usize = 1000;

    fn from_args(args: &Map<String, Value>) -> Result<HistoryPage, RequestError> {
        let address: Address = parsed_arg(args, "address")?;
        let limit = match args.get("limit") {
            None => HistoryPage::DEFAULT_LIMIT,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=HistoryPage::MAX_LIMIT).contains(n))
                .ok_or_else(|| RequestError::ArgRange {
                    name: "limit",
                    min: 1,
                    max: HistoryPage::MAX_LIMIT as u64,
                    found: n.to_string(),
                })?,
            Some(other) => {
                return Err(RequestError::ArgType {
                    name: "limit",
                    expected: "an integer",
                    found: shown(other),
                })
            }
        };
        let cursor = match args.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(
                    Cursor::parse(text, &address).ok_or_else(|| RequestError::InvalidCursor {
                        cursor: shown(&Value::String(text.clone())),
                        address,
                    })?,
                )
            }
            Some(other) => {
                return Err(RequestError::ArgType {
                    name: "cursor",
                    expected: "a string or null",
                    found: shown(other),
                })
            }
        };
        Ok(HistoryPage {
            address,
            limit,
            cursor,
        })
    }
}

/// Where a page of an account's history starts: the entries before a
/// position of the account's list. Positions never move, so a cursor
/// stays valid however the chain grows. On the wire it is opaque: base64
/// (URL-safe, no padding) of the position and a check of the address, so
/// a cursor of one account's history is refused for another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Entries before this position of the list come next.
    pub before: u64,
}

impl Cursor {
    /// The cursor's text for `address`'s history.
    pub fn to_text(self, address: &Address) -> String {
        use base64::Engine as _;
        let mut bytes = [0; 12];
        bytes[..8].copy_from_slice(&self.before.to_be_bytes());
        bytes[8..].copy_from_slice(&Cursor::check(address));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A cursor's text back, if it was made for `address`.
    pub fn parse(text: &str, address: &Address) -> Option<Cursor> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let bytes: [u8; 12] = bytes.try_into().ok()?;
        let (before, check) = bytes.split_at(8);
        if check != Cursor::check(address) {
            return None;
        }
        Some(Cursor {
            before: u64::from_be_bytes(before.try_into().ok()?),
        })
    }

    fn check(address: &Address) -> [u8; 4] {
        let digest = ledger_core::sha256(&address.0);
        [digest.0[0], digest.0[1], digest.0[2], digest.0[3]]
    }
}

fn string_arg<'a>(
    args: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, RequestError> {
    match args.get(name) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(RequestError::ArgType {
            name,
            expected: "a string",
            found: shown(other),
        }),
        None => Err(RequestError::MissingArg { name }),
    }
}

/// Most transactions in one `relay_transactions` call.
pub const MAX_RELAY: usize = 1000;

/// The `transactions` of a `relay_transactions` call: 1 to [`MAX_RELAY`]
/// transactions in push form.
fn relay_batch(mut args: Map<String, Value>) -> Result<Vec<RawTransaction>, RequestError> {
    let list = match args.remove("transactions") {
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(RequestError::ArgType {
                name: "transactions",
                expected: "an array",
                found: shown(&other),
            })
        }
        None => {
            return Err(RequestError::MissingArg {
                name: "transactions",
            })
        }
    };
    if list.is_empty() || list.len() > MAX_RELAY {
        return Err(RequestError::ArgRange {
            name: "transactions",
            min: 1,
            max: MAX_RELAY as u64,
            found: list.len().to_string(),
        });
    }
    list.into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(RequestError::RelayBatch)
}

/// A required argument that is a JSON integer from 0 to 2^64 - 1.
fn u64_arg(args: &Map<String, Value>, name: &'static str) -> Result<u64, RequestError> {
    match args.get(name) {
        Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64().unwrap_or_default()),
        Some(other) => Err(RequestError::ArgType {
            name,
            expected: "an integer from 0 to 2^64 - 1",
            found: shown(other),
        }),
        None => Err(RequestError::MissingArg { name }),
    }
}

fn parsed_arg<T>(args: &Map<String, Value>, name: &'static str) -> Result<T, RequestError>
where
    T: std::str::FromStr<Err = ledger_core::CoreError>,
{
    string_arg(args, name)?
        .parse()
        .map_err(|source| RequestError::InvalidArg {
            name,
            source: Box::new(source),
        })
}

/// An optional argument parsed from its string; `default` when absent.
fn optional_arg<T>(
    args: &Map<String, Value>,
    name: &'static str,
    default: T,
) -> Result<T, RequestError>
where
    T: std::str::FromStr<Err = ledger_core::CoreError>,
{
    match args.get(name) {
        None => Ok(default),
        Some(_) => parsed_arg(args, name),
    }
}

/// The `estimate_fee` arguments: `from`, `to`, optional `amount` and `data`.
fn fee_request(args: &Map<String, Value>) -> Result<FeeRequest, RequestError> {
    let data = match args.get("data") {
        None => Vec::new(),
        Some(_) => ledger_core::decode_base64(string_arg(args, "data")?).map_err(|source| {
            RequestError::InvalidArg {
                name: "data",
                source: Box::new(source),
            }
        })?,
    };
    Ok(FeeRequest {
        from: parsed_arg(args, "from")?,
        to: parsed_arg(args, "to")?,
        amount: optional_arg(args, "amount", Balance::ZERO)?,
        data,
    })
}

fn block_ref(args: &Map<String, Value>) -> Result<BlockRef, RequestError> {
    match (args.get("hash"), args.get("number")) {
        (Some(_), Some(_)) => Err(RequestError::HashAndNumber),
        (Some(_), None) => Ok(BlockRef::Hash(parsed_arg(args, "hash")?)),
        (None, Some(Value::Number(n))) if n.is_u64() => {
            Ok(BlockRef::Number(n.as_u64().unwrap_or_default()))
        }
        (None, Some(other)) => Err(RequestError::ArgType {
            name: "number",
            expected: "an unsigned integer",
            found: shown(other),
        }),
        (None, None) => Err(RequestError::NoHashOrNumber),
    }
}

/// A JSON value for an error message, shortened when long.
pub(crate) fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 60 {
        return text;
    }
    let mut end = 60;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The `last_block_info` result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastBlockInfo {
    /// Hash of the top block.
    pub top_block_hash: Hash,
    /// Depth of the top block.
    pub top_block_number: u64,
}

impl From<ChainTip> for LastBlockInfo {
    fn from(tip: ChainTip) -> Self {
        LastBlockInfo {
            top_block_hash: tip.hash,
            top_block_number: tip.depth,
        }
    }
}

/// The `account_info` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The address.
    pub address: Address,
    /// Its balance.
    pub balance: Balance,
    /// Transactions it sent that were applied.
    pub nonce: u64,
    /// Client or contract.
    #[serde(rename = "type")]
    pub kind: AccountKind,
    /// Every applied transaction it sent or received, in chain order.
    pub transaction_hashes: Vec<Hash>,
}

impl AccountInfo {
    /// The result for `address` in state `account` with list `hashes`.
    pub fn new(address: Address, account: Account, transaction_hashes: Vec<Hash>) -> AccountInfo {
        AccountInfo {
            address,
            balance: account.balance,
            nonce: account.nonce,
            kind: account.kind,
            transaction_hashes,
        }
    }
}

/// The `result` of unsubscribe answers.
pub const UNSUBSCRIBED: &str = "successful";
/// The `result` of an unsubscribe that found no subscription.
pub const NOT_SUBSCRIBED: &str = "error";

/// An answer frame with a result.
pub fn ok_answer<T: Serialize>(id: u64, result: &T) -> String {
    #[derive(Serialize)]
    struct Answer<'a, T> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: u64,
        status: &'static str,
        result: &'a T,
    }
    serde_json::to_string(&Answer {
        kind: "answer",
        id,
        status: "ok",
        result,
    })
    .unwrap_or_else(|e| error_answer(Some(id), &RequestError::Encoding(e).to_api_error()))
}

/// An error answer frame.
pub fn error_answer(id: Option<u64>, error: &ApiError) -> String {
    #[derive(Serialize)]
    struct ErrorAnswer<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: Option<u64>,
        status: &'static str,
        error: &'a ApiError,
    }
    serde_json::to_string(&ErrorAnswer {
        kind: "answer",
        id,
        status: "error",
        error,
    })
    .unwrap_or_else(|_| {
        r#"{"type":"answer","id":null,"status":"error","error":{"code":"internal","message":"unserialisable error"}}"#.to_owned()
    })
}

/// An answer frame as a client reads it, borrowed from the frame's text:
/// the result left as raw JSON, to be decoded once, into the type its
/// caller wants.
#[derive(Clone, Debug, Deserialize)]
pub struct Answer<'a> {
    /// The request's id (`None` for frames the server could not attribute).
    pub id: Option<u64>,
    /// `ok` or `error`.
    #[serde(borrow)]
    pub status: std::borrow::Cow<'a, str>,
    /// The result, for `ok`.
    #[serde(borrow, default)]
    pub result: Option<&'a serde_json::value::RawValue>,
    /// The error, for `error`.
    #[serde(default)]
    pub error: Option<ApiError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> (Option<u64>, ErrorCode) {
        let rejected = parse_request(text).expect_err(text);
        (rejected.id, rejected.error.code())
    }

    #[test]
    fn errors_come_in_the_documented_order() {
        use ErrorCode::*;
        assert_eq!(code("nope"), (None, InvalidJson));
        assert_eq!(code("[1]"), (None, InvalidJson));
        assert_eq!(
            code(r#"{"type":"call","name":"x","api":1}"#),
            (None, InvalidRequest)
        );
        assert_eq!(
            code(r#"{"type":"call","name":"x","api":1,"id":-1}"#),
            (None, InvalidRequest)
        );
        assert_eq!(
            code(r#"{"type":"call","name":"x","api":1,"id":"7"}"#),
            (None, InvalidRequest)
        );
        assert_eq!(
            code(r#"{"name":"x","api":1,"id":7}"#),
            (Some(7), InvalidRequest)
        );
        assert_eq!(
            code(r#"{"type":3,"name":"x","api":1,"id":7}"#),
            (Some(7), InvalidRequest)
        );
        assert_eq!(
            code(r#"{"type":"call","api":1,"id":7}"#),
            (Some(7), InvalidRequest)
        );
        assert_eq!(
            code(r#"{"type":"call","name":"last_block_info","id":7}"#),
            (Some(7), UnsupportedApi)
        );
        assert_eq!(
            code(r#"{"type":"call","name":"last_block_info","api":2,"id":7}"#),
            (Some(7), UnsupportedApi)
        );
        assert_eq!(
            code(r#"{"type":"call","name":"nothing","api":1,"id":7}"#),
            (Some(7), UnknownCommand)
        );
        assert_eq!(
            code(r#"{"type":"watch","name":"last_block_info","api":1,"id":7}"#),
            (Some(7), UnknownCommand)
        );
        assert_eq!(
            code(r#"{"type":"call","name":"account_info","api":1,"id":7}"#),
            (Some(7), InvalidArgs)
        );
        assert_eq!(
            code(
                r#"{"type":"call","name":"account_info","api":1,"id":7,"args":{"address":"0OIl"}}"#
            ),
            (Some(7), InvalidArgs)
        );
        assert_eq!(
            code(r#"{"type":"call","name":"find_block","api":1,"id":7,"args":{"number":-1}}"#),
            (Some(7), InvalidArgs)
        );
    }

    #[test]
    fn commands_parse() {
        let (id, command) = parse_request(
            r#"{"type":"call","name":"find_block","api":1,"id":77,"args":{"number":3}}"#,
        )
        .expect("valid");
        assert_eq!((id, command), (77, Command::FindBlock(BlockRef::Number(3))));
        let (_, command) =
            parse_request(r#"{"type":"subscribe","name":"last_block_info","api":1,"id":0}"#)
                .expect("valid");
        assert_eq!(command, Command::SubscribeBlocks);
        let (_, command) = parse_request(
            r#"{"type":"subscribe","name":"push_transaction","api":1,"id":1,"args":{}}"#,
        )
        .expect("a malformed push is a status, not an error");
        assert!(matches!(command, Command::PushTransaction(Err(_))));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_answered_never_panics(text in "\\PC{0,200}") {
            let _ = parse_request(&text);
        }

        #[test]
        fn any_request_shape_is_answered(
            kind in proptest::option::of("[a-z]{0,12}"),
            name in proptest::option::of("[a-z_]{0,24}"),
            api in proptest::option::of(-2i64..4),
            id in proptest::option::of(proptest::num::i64::ANY),
            args in proptest::collection::btree_map("[a-z]{1,8}", "[A-Za-z0-9+/=]{0,50}", 0..8),
        ) {
            let mut request = serde_json::Map::new();
            if let Some(kind) = kind { request.insert("type".into(), kind.into()); }
            if let Some(name) = name { request.insert("name".into(), name.into()); }
            if let Some(api) = api { request.insert("api".into(), api.into()); }
            if let Some(id) = id { request.insert("id".into(), id.into()); }
            request.insert("args".into(), serde_json::to_value(args).unwrap_or_default());
            let text = Value::Object(request).to_string();
            if let Err(rejected) = parse_request(&text) {
                proptest::prop_assert!(!rejected.error.to_string().is_empty());
            }
        }
    }

    #[test]
    fn answers_have_the_documented_shape() {
        let ok: Value = serde_json::from_str(&ok_answer(9, &UNSUBSCRIBED)).expect("json");
        assert_eq!(
            ok,
            serde_json::json!({"type":"answer","id":9,"status":"ok","result":"successful"})
        );
        let error: Value = serde_json::from_str(&error_answer(
            None,
            &ApiError::new(ErrorCode::InvalidJson, "x"),
        ))
        .expect("json");
        assert_eq!(
            error,
            serde_json::json!({"type":"answer","id":null,"status":"error","error":{"code":"invalid_json","message":"x"}})
        );
    }
}
