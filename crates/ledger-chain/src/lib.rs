//! The chain service of the ledger: the one writer of the chain.
//!
//! A [`ChainService`] owns the [`ledger_core::Ledger`] (store, mempool,
//! contract engine) on its own thread. It admits transactions in arrival
//! order, produces blocks by its [`ProducerConfig`] policy, imports blocks
//! produced elsewhere, and announces every stored block, produced or
//! imported, as one [`BlockEvent`] after the commit returned.
//!
//! Everything an API server needs goes through the [`Chain`] trait, which
//! [`ChainHandle`] implements; a consensus engine can later drive block
//! production and import behind the same trait. Time comes only from the
//! injected [`Clock`], the block interval included, so the production
//! policy ([`Producer`]) runs on simulated time in tests.
//!
//! It depends on `ledger-core` and on `tokio`'s channels (no runtime); it
//! knows nothing of sockets, storage engines or the wire protocol.

mod api;
mod clock;
mod error;
mod event;
mod metrics;
mod priority;
mod producer;
mod service;

pub use api::{Chain, NodeMode, Peer};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ChainError, Halt};
pub use event::BlockEvent;
pub use metrics::ChainMetrics;
pub use producer::{Producer, ProducerConfig};
pub use service::{ChainHandle, ChainService, ServiceThread, INBOX_CAPACITY};
