//! The likelib v1 WebSocket API of the ledger (`ws-api-v1.md`).
//!
//! `ledger-ws` owns the protocol types ([`protocol`]), the chain service
//! that owns the ledger and produces blocks ([`service`]), the
//! tokio/tungstenite server with its per-connection limits ([`server`]),
//! and a Rust client ([`client`]) used by the CLI and the tests. Every error
//! becomes a wire code in one place, [`WsError::to_api_error`].
//!
//! It depends on `ledger-core` and is generic over its storage traits; it
//! must not depend on a particular storage engine (`ledger-store`) or on
//! the binary (`ledger-node`).

pub mod client;
mod error;
mod outbox;
pub mod protocol;
pub mod server;

pub use client::{Client, Subscription};
pub use error::WsError;
pub use protocol::{AccountInfo, ApiError, ErrorCode, LastBlockInfo};
pub use server::{serve, Phase, ServerConfig};
