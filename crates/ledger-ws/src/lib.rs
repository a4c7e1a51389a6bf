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
mod process_metrics;
pub mod protocol;
mod request_error;
mod router;
pub mod server;
mod session;
pub mod snapshots;
mod stream;
mod timings;
mod transport;
mod wire;

pub use client::{Client, Subscription};
pub use error::WsError;
pub use protocol::{AccountInfo, ApiError, ErrorCode, LastBlockInfo, RequestError};
pub use server::{serve, Phase, ServerConfig};
pub use stream::StreamQueryError;

/// Routes a request target (`path?query`) as the server does: its surface
/// and, for any path, its stream filter, checking that a filter that
/// parses asks for itself when written back. For the fuzz targets in
/// `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn fuzz_request_target(target: &str) {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    if router::route(path).is_some() {
        assert!(path.starts_with('/'), "{path:?} routed");
    }
    match stream::StreamFilter::from_query(query) {
        Ok(filter) => {
            let again = stream::StreamFilter::from_query(Some(&filter.to_query()));
            assert_eq!(again, Ok(filter), "{query:?}");
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}
