//! Why a request is refused, as values, and the one place where an error
//! becomes a wire code ([`RequestError::to_api_error`]).

use ledger_chain::ChainError;
use ledger_core::{CoreError, Hash};

use crate::protocol::{ApiError, BlockRef, ErrorCode, RequestType};

/// Everything a request can be refused or failed with, from the frame to
/// the chain. The messages are the wire's `message` texts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The frame is not JSON.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// The frame is JSON but not an object.
    #[error("the frame is not a JSON object")]
    NotAnObject,
    /// A binary frame.
    #[error("binary frames are not accepted; send JSON in text frames")]
    BinaryFrame,
    /// A text frame that is not UTF-8.
    #[error("the text frame is not valid UTF-8")]
    NotUtf8,
    /// A member of the request (`id`, `type`, `name`) is missing.
    #[error("`{member}` is missing")]
    MissingMember {
        /// Its name.
        member: &'static str,
    },
    /// A member of the request is of the wrong JSON type.
    #[error("`{member}` must be {expected}, not {found}")]
    MemberType {
        /// Its name.
        member: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it is (shortened).
        found: String,
    },
    /// `type` is none of call, subscribe, unsubscribe.
    #[error("unknown request type {kind:?}; expected call, subscribe or unsubscribe")]
    UnknownType {
        /// The type given.
        kind: String,
    },
    /// `api` is missing or not 1.
    #[error("{}", unsupported_api(.found.as_deref()))]
    UnsupportedApi {
        /// The version given (shortened), if any.
        found: Option<String>,
    },
    /// No such type + name pair.
    #[error("no command {name:?} of type {}", type_name(*.kind))]
    UnknownCommand {
        /// The request type.
        kind: RequestType,
        /// The name given.
        name: String,
    },
    /// `args` is not an object.
    #[error("`args` must be an object, not {found}")]
    ArgsNotObject {
        /// What it is (shortened).
        found: String,
    },
    /// An argument is missing.
    #[error("`{name}` is missing")]
    MissingArg {
        /// Its name.
        name: &'static str,
    },
    /// An argument is of the wrong JSON type.
    #[error("`{name}` must be {expected}, not {found}")]
    ArgType {
        /// Its name.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it is (shortened).
        found: String,
    },
    /// An argument does not parse.
    #[error("`{name}`: {source}")]
    InvalidArg {
        /// Its name.
        name: &'static str,
        /// Why.
        source: Box<CoreError>,
    },
    /// A `relay_transactions` entry is not a transaction in push form.
    #[error("a relayed transaction is malformed: {0}")]
    RelayBatch(serde_json::Error),
    /// A numeric argument is outside its range.
    #[error("`{name}` must be between {min} and {max}, not {found}")]
    ArgRange {
        /// Its name.
        name: &'static str,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
        /// What it is (shortened).
        found: String,
    },
    /// An `account_transactions` cursor that no answer for this address gave.
    #[error("`cursor` {cursor:?} is not a cursor of the history of {address}")]
    InvalidCursor {
        /// The cursor given (shortened).
        cursor: String,
        /// The address whose history was asked for.
        address: ledger_core::Address,
    },
    /// `find_block` got both `hash` and `number`.
    #[error("give `hash` or `number`, not both")]
    HashAndNumber,
    /// `find_block` got neither `hash` nor `number`.
    #[error("`hash` or `number` is missing")]
    NoHashOrNumber,
    /// A view call's arguments are not a view call.
    #[error("view call: {0}")]
    ViewCallArgs(serde_json::Error),
    /// The request is larger than the request limit.
    #[error("request of {len} bytes is over the limit of {limit} bytes")]
    RequestTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The answer is larger than the connection may hold.
    #[error("the answer is {len} bytes, more than the {limit} bytes this connection may hold")]
    AnswerTooLarge {
        /// Its size.
        len: usize,
        /// The connection's outgoing byte bound.
        limit: usize,
    },
    /// `account_info` of an account whose list is longer than an answer
    /// may carry.
    #[error(
        "{address} has {count} transactions, more than the {limit} account_info lists; \
         page through them with account_transactions"
    )]
    HistoryTooLong {
        /// The account.
        address: ledger_core::Address,
        /// Its transactions.
        count: u64,
        /// The most `account_info` lists.
        limit: usize,
    },
    /// The id is in use in this connection.
    #[error("id {id} belongs to a request or subscription still active")]
    DuplicateId {
        /// The id.
        id: u64,
    },
    /// The same subscription is active.
    #[error("this connection is already subscribed to {what}")]
    AlreadySubscribed {
        /// Which subscription.
        what: String,
    },
    /// The connection has its most subscriptions.
    #[error("{limit} subscriptions are active on this connection, the most allowed")]
    SubscriptionLimit {
        /// The limit.
        limit: usize,
    },
    /// The connection has its most requests waiting on the chain.
    #[error("{limit} requests of this connection are in flight, the most allowed")]
    InFlightLimit {
        /// The limit.
        limit: usize,
    },
    /// No such block.
    #[error("{}", block_not_found(.by, *.top))]
    BlockNotFound {
        /// How it was asked for.
        by: BlockRef,
        /// The top block's depth.
        top: u64,
    },
    /// No such transaction in the chain.
    #[error("no transaction {hash} in the chain")]
    TransactionNotFound {
        /// The hash asked for.
        hash: Hash,
    },
    /// No such transaction pending or in the chain.
    #[error("no transaction {hash} is pending or in the chain")]
    StatusNotFound {
        /// The hash asked for.
        hash: Hash,
    },
    /// A view call reverted or halted.
    #[error("{reason}")]
    ViewFailed {
        /// The reason, for people.
        reason: String,
        /// Base64 of the revert data (`""` when none).
        data: String,
    },
    /// An estimated transaction fails even at the highest fee allowed.
    #[error("{reason} (even with a fee of {cap})")]
    EstimateFailed {
        /// The revert or halt, for people.
        reason: String,
        /// Base64 of the revert data (`""` when none).
        data: String,
        /// The highest fee tried.
        cap: u64,
    },
    /// The sender of an estimated transaction cannot pay for it.
    #[error("balance {balance} of {from} does not cover amount {amount} + fee {fee}")]
    Unaffordable {
        /// The sender.
        from: ledger_core::Address,
        /// Its balance.
        balance: ledger_core::Balance,
        /// The amount asked for.
        amount: ledger_core::Balance,
        /// The fee the estimate found.
        fee: u64,
    },
    /// An answer could not be encoded as JSON.
    #[error("the answer could not be encoded: {0}")]
    Encoding(serde_json::Error),
    /// The node serves no snapshot: it runs alone, or its network has
    /// decided no block yet.
    #[error(
        "this node serves no snapshot: it runs alone, or its network has decided no block yet"
    )]
    NoSnapshot,
    /// The snapshot asked for is no longer held.
    #[error(
        "the snapshot at depth {depth} is no longer held; call state_snapshot for the current one"
    )]
    SnapshotGone {
        /// The depth asked for.
        depth: u64,
    },
    /// The store holds no chain (it always does once opened).
    #[error("the chain has no genesis")]
    NoGenesis,
    /// The node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The core refused or failed.
    #[error(transparent)]
    Core(Box<CoreError>),
    /// The chain failed.
    #[error(transparent)]
    Chain(Box<ChainError>),
}

impl From<CoreError> for RequestError {
    fn from(error: CoreError) -> Self {
        RequestError::Core(Box::new(error))
    }
}

impl From<ChainError> for RequestError {
    fn from(error: ChainError) -> Self {
        match error {
            ChainError::Core(error) => error.into(),
            ChainError::ShuttingDown => RequestError::ShuttingDown,
            ChainError::NoSnapshot => RequestError::NoSnapshot,
            other => RequestError::Chain(Box::new(other)),
        }
    }
}

impl RequestError {
    /// The wire code of this error.
    pub fn code(&self) -> ErrorCode {
        use RequestError as E;
        match self {
            E::NotJson(_) | E::NotAnObject | E::BinaryFrame | E::NotUtf8 => ErrorCode::InvalidJson,
            E::MissingMember { .. } | E::MemberType { .. } => ErrorCode::InvalidRequest,
            E::UnsupportedApi { .. } => ErrorCode::UnsupportedApi,
            E::UnknownType { .. } | E::UnknownCommand { .. } => ErrorCode::UnknownCommand,
            E::ArgsNotObject { .. }
            | E::MissingArg { .. }
            | E::ArgType { .. }
            | E::InvalidArg { .. }
            | E::ArgRange { .. }
            | E::InvalidCursor { .. }
            | E::HashAndNumber
            | E::NoHashOrNumber
            | E::RelayBatch(_)
            | E::ViewCallArgs(_) => ErrorCode::InvalidArgs,
            E::RequestTooLarge { .. }
            | E::AnswerTooLarge { .. }
            | E::HistoryTooLong { .. }
            | E::SubscriptionLimit { .. }
            | E::InFlightLimit { .. } => ErrorCode::LimitExceeded,
            E::DuplicateId { .. } => ErrorCode::DuplicateId,
            E::AlreadySubscribed { .. } => ErrorCode::AlreadySubscribed,
            E::BlockNotFound { .. }
            | E::TransactionNotFound { .. }
            | E::StatusNotFound { .. }
            | E::NoSnapshot
            | E::SnapshotGone { .. } => ErrorCode::NotFound,
            E::ViewFailed { .. } | E::EstimateFailed { .. } | E::Unaffordable { .. } => {
                ErrorCode::ExecutionFailed
            }
            E::Core(error) => match **error {
                CoreError::MempoolFull { .. } | CoreError::MempoolBytesFull { .. } => {
                    ErrorCode::LimitExceeded
                }
                CoreError::BadSignature { .. } => ErrorCode::BadSign,
                CoreError::NotAContract { .. } => ErrorCode::NotFound,
                CoreError::Field { .. }
                | CoreError::InvalidAddress { .. }
                | CoreError::InvalidHash { .. }
                | CoreError::InvalidBase64 { .. }
                | CoreError::InvalidDecimal { .. } => ErrorCode::InvalidArgs,
                _ => ErrorCode::Internal,
            },
            E::Encoding(_) | E::NoGenesis | E::ShuttingDown | E::Chain(_) => ErrorCode::Internal,
        }
    }

    /// The error object of the answer: the only place errors become wire
    /// codes.
    pub fn to_api_error(&self) -> ApiError {
        let error = ApiError::new(self.code(), self.to_string());
        match self {
            RequestError::ViewFailed { data, .. } | RequestError::EstimateFailed { data, .. } => {
                error.with_data(data.clone())
            }
            RequestError::Unaffordable { .. } => error.with_data(String::new()),
            _ => error,
        }
    }
}

fn unsupported_api(found: Option<&str>) -> String {
    match found {
        Some(found) => format!("api version {found} is not supported; this node speaks api 1"),
        None => "`api` is missing; this node speaks api 1".to_owned(),
    }
}

fn type_name(kind: RequestType) -> serde_json::Value {
    serde_json::to_value(kind).unwrap_or_default()
}

fn block_not_found(by: &BlockRef, top: u64) -> String {
    match by {
        BlockRef::Hash(hash) => format!("no block with hash {hash}"),
        BlockRef::Number(depth) => {
            format!("no block at depth {depth}; the top block is at depth {top}")
        }
    }
}
