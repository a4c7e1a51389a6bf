//! `state_snapshot` and `state_snapshot_chunk`: a validator serves the
//! decided chain at its top with the state after it
//! ([`ledger_core::Snapshot`]) to a node that joins late, in chunks small
//! enough for one answer each.
//!
//! One encoded snapshot is held at a time and served to every joiner
//! until the chain has moved [`REUSE_BLOCKS`] past it; the joiner syncs
//! the blocks after it from the network. Taking one pauses the chain
//! service for one read of the whole store (`docs/consensus.md`).

use std::sync::{Arc, Mutex, PoisonError};

use ledger_chain::Chain;
use ledger_core::{encode_base64, sha256, Hash, StateRead};
use serde::{Deserialize, Serialize};

use crate::request_error::RequestError;

/// Bytes of a snapshot per chunk (the last may be shorter): 1 MiB, about
/// 1.4 MB of base64 in an answer.
pub const CHUNK_BYTES: usize = 1 << 20;

/// A held snapshot is served until the chain is this many blocks past it.
pub const REUSE_BLOCKS: u64 = 256;

/// The `state_snapshot` result: which snapshot is held, and how to fetch
/// and check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Depth of its top block.
    pub depth: u64,
    /// Hash of its top block.
    pub block: Hash,
    /// Its size in bytes.
    pub bytes: u64,
    /// Bytes per chunk.
    pub chunk_bytes: u64,
    /// How many chunks.
    pub chunks: u64,
    /// sha256 of all its bytes, to check the chunks put together before
    /// decoding them (the content is checked against the validators'
    /// certificate afterwards).
    pub sha256: Hash,
}

/// The `state_snapshot_chunk` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotChunk {
    /// Depth of the snapshot's top block.
    pub depth: u64,
    /// Which chunk.
    pub index: u64,
    /// Its bytes, base64.
    pub data: String,
}

/// An encoded snapshot.
struct Held {
    info: SnapshotInfo,
    bytes: Vec<u8>,
}

/// The snapshot a server holds, shared by its connections.
#[derive(Default)]
pub(crate) struct Snapshots {
    held: Mutex<Option<Arc<Held>>>,
    /// Held while one is taken, so joiners arriving together wait for the
    /// one being taken instead of each pausing the chain.
    taking: tokio::sync::Mutex<()>,
}

impl Snapshots {
    fn held(&self) -> Option<Arc<Held>> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The held snapshot if recent, else a new one taken from `chain`.
    pub(crate) async fn current<C: Chain>(&self, chain: &C) -> Result<SnapshotInfo, RequestError> {
        let _taking = self.taking.lock().await;
        let top = chain.state().tip()?.map_or(0, |tip| tip.depth);
        if let Some(held) = self.held() {
            if top.saturating_sub(held.info.depth) < REUSE_BLOCKS {
                return Ok(held.info.clone());
            }
        }
        let snapshot = chain.snapshot().await?;
        let held = tokio::task::spawn_blocking(move || {
            let bytes = snapshot.encode();
            let top = snapshot.top().map(|top| (top.depth, top.hash));
            let (depth, block) = top.unwrap_or((0, Hash::ZERO));
            Held {
                info: SnapshotInfo {
                    depth,
                    block,
                    bytes: bytes.len() as u64,
                    chunk_bytes: CHUNK_BYTES as u64,
                    chunks: bytes.len().div_ceil(CHUNK_BYTES) as u64,
                    sha256: sha256(&bytes),
                },
                bytes,
            }
        })
        .await
        .map_err(|_| RequestError::ShuttingDown)?;
        tracing::info!(
            depth = held.info.depth,
            bytes = held.info.bytes,
            "took a snapshot to serve"
        );
        let info = held.info.clone();
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(held));
        Ok(info)
    }

    /// Chunk `index` of the held snapshot of depth `depth`.
    pub(crate) fn chunk(&self, depth: u64, index: u64) -> Result<SnapshotChunk, RequestError> {
        let held = self
            .held()
            .filter(|held| held.info.depth == depth)
            .ok_or(RequestError::SnapshotGone { depth })?;
        let chunks = held.info.chunks;
        let start = usize::try_from(index)
            .ok()
            .filter(|_| index < chunks)
            .and_then(|index| index.checked_mul(CHUNK_BYTES))
            .ok_or(RequestError::ArgRange {
                name: "index",
                min: 0,
                max: chunks.saturating_sub(1),
                found: index.to_string(),
            })?;
        let end = held.bytes.len().min(start + CHUNK_BYTES);
        Ok(SnapshotChunk {
            depth,
            index,
            data: encode_base64(&held.bytes[start..end]),
        })
    }
}
