//! The one error type of `ledger-ws`, and the one place where errors
//! become wire error codes.

use ledger_chain::ChainError;
use ledger_core::CoreError;

use crate::protocol::{ApiError, ErrorCode};

/// Everything that can go wrong in the server, the chain service or the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The core refused or failed (full mempool, storage, …).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The chain service stopped (the node is shutting down).
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The chain failed in a way the server has no better word for.
    #[error(transparent)]
    Chain(ChainError),
    /// Socket I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket layer failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tungstenite::Error),
    /// The node answered a request with an error (client side).
    #[error("the node answered {0}")]
    Api(ApiError),
    /// A request could not be encoded, or an answer not decoded (client side).
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The node answered "ok" without a result, or with a status the
    /// client does not know (client side).
    #[error("the node answered with status {status:?} and no result")]
    NoResult {
        /// The answer's status.
        status: String,
    },
    /// The connection to the node closed.
    #[error("the connection to the node closed")]
    Closed,
}

impl From<ChainError> for WsError {
    fn from(error: ChainError) -> Self {
        match error {
            ChainError::Core(error) => WsError::Core(error),
            ChainError::ShuttingDown => WsError::ShuttingDown,
            // ChainError is non-exhaustive: what it grows is the node's.
            other => WsError::Chain(other),
        }
    }
}

impl WsError {
    /// The error answer for this error: the only mapping of errors to wire
    /// codes in the code base.
    pub fn to_api_error(&self) -> ApiError {
        let code = match self {
            WsError::Core(error) => match error {
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
            WsError::Api(error) => return error.clone(),
            WsError::ShuttingDown
            | WsError::Chain(_)
            | WsError::Io(_)
            | WsError::WebSocket(_)
            | WsError::Json(_)
            | WsError::NoResult { .. }
            | WsError::Closed => ErrorCode::Internal,
        };
        ApiError::new(code, self.to_string())
    }
}
