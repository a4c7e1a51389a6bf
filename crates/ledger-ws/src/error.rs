//! The error of the WebSocket layer itself: sockets, frames, and the
//! client's view of a node. Why a request is refused on the wire is a
//! [`crate::RequestError`], mapped to wire codes in one place.

use crate::protocol::ApiError;

/// What can go wrong in the server's transport or in the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
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
    /// An answer's value is not what the API promises, such as base64
    /// that does not decode (client side).
    #[error("the node's {what} is malformed: {reason}")]
    BadAnswer {
        /// What was asked for.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection to the node closed.
    #[error("the connection to the node closed")]
    Closed,
    /// A snapshot's chunks do not put together into what the node
    /// described (client side).
    #[error("the snapshot's chunks {reason}")]
    Snapshot {
        /// What did not match.
        reason: crate::client::SnapshotMismatch,
    },
}
