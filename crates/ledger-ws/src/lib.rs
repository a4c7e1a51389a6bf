//! The likelib v1 WebSocket API of the ledger (`ws-api-v1.md`).
//!
//! `ledger-ws` owns the protocol types and request parsing ([`protocol`]),
//! the server ([`server`]) and a Rust client ([`client`]) used by the CLI
//! and the tests. Inside the server, the rooms are: the outgoing side of a
//! connection (`outbox`: bounds, batches, fragments), the reads as
//! functions of the state (`handlers`), and the connection loop that ties
//! a socket, its session (ids, subscriptions, requests in flight) and the
//! chain together. Every refusal is a [`RequestError`], which becomes a
//! wire code in exactly one place, [`RequestError::to_api_error`].
//!
//! It depends on `ledger-core` and on the [`ledger_chain::Chain`] trait;
//! it must not depend on a particular storage engine (`ledger-store`) or
//! on the binary (`ledger-node`).

pub mod client;
mod error;
mod explorer;
pub mod extensions;
mod handlers;
mod http;
mod logs;
mod metrics;
mod outbox;
pub mod protocol;
mod request_error;
mod router;
pub mod server;
mod session;
mod stream;
mod timings;
mod transport;
mod wire;

pub use client::{Client, Subscription};
pub use error::WsError;
pub use protocol::{AccountInfo, ApiError, ErrorCode, LastBlockInfo, RequestError};
pub use server::{serve, Phase, ServerConfig};
pub use stream::StreamQueryError;
