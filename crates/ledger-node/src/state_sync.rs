//! Joining a network late, or again after losing the data directory:
//! take the decided chain and the state at its top from a validator's API
//! (`state_snapshot`), check it, and install it in one write, instead of
//! executing every block again. The blocks decided after it come from the
//! network's value sync, as for any node that fell behind.
//!
//! Nothing the peer sends is trusted: the blocks must link from this
//! genesis, the state's lattice must be the one the top block's decision
//! commits to, and the decision's certificate must carry precommits of
//! more than two thirds of the validators' power.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_consensus::{verify_decision, CertificateError, ValidatorsFile};
use ledger_core::{CoreError, Genesis, Hash, Snapshot, SnapshotError, StateCommit};
use ledger_store::Store;
use ledger_ws::{Client, ErrorCode, WsError};

/// How long connecting to a validator's API may take.
const CONNECT: Duration = Duration::from_secs(10);

/// How long fetching one snapshot may take.
const FETCH: Duration = Duration::from_secs(600);

/// A snapshot installed.
#[derive(Debug)]
pub(crate) struct Synced {
    /// Depth of its top block.
    pub(crate) depth: u64,
    /// The API it came from.
    pub(crate) from: String,
    /// Its size.
    pub(crate) bytes: u64,
    /// Records of state it held.
    pub(crate) entries: usize,
    /// Fetching, checking and installing it.
    pub(crate) elapsed: Duration,
}

/// Why one validator's snapshot was not installed.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("its API did not answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Api(#[from] WsError),
    #[error("its snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("its snapshot has no blocks")]
    NoBlocks,
    #[error("its snapshot's decision: {0}")]
    Certificate(#[from] CertificateError),
    #[error("installing the snapshot: {0}")]
    Install(#[from] CoreError),
    #[error("the node is stopping")]
    Stopping,
}

/// Fetches, checks and installs a snapshot from the first validator of
/// `validators` whose API serves one; `store` must be empty. `None` if
/// none did (the network has decided nothing yet, or no API answered):
/// the node then syncs every block from the genesis.
pub(crate) async fn from_validators(
    store: &Arc<Store>,
    genesis: &Genesis,
    validators: &ValidatorsFile,
) -> Option<Synced> {
    let genesis_hash = genesis.block().hash();
    for api in validators
        .entries()
        .iter()
        .filter_map(|entry| entry.api.as_deref())
    {
        let started = Instant::now();
        match install_from(api, store, genesis_hash, validators).await {
            Ok(Some((depth, bytes, entries))) => {
                return Some(Synced {
                    depth,
                    from: api.to_owned(),
                    bytes,
                    entries,
                    elapsed: started.elapsed(),
                })
            }
            Ok(None) => tracing::info!(%api, "no snapshot served there: nothing decided yet"),
            Err(error) => tracing::warn!(%api, %error, "no snapshot taken from this validator"),
        }
    }
    None
}

/// The snapshot of `api`, checked and installed: its depth, size and
/// record count; `None` if it serves none.
async fn install_from(
    api: &str,
    store: &Arc<Store>,
    genesis: Hash,
    validators: &ValidatorsFile,
) -> Result<Option<(u64, u64, usize)>, Refused> {
    let client = tokio::time::timeout(CONNECT, Client::connect(api))
        .await
        .map_err(|_| Refused::Timeout(CONNECT))??;
    let fetched = tokio::time::timeout(FETCH, client.fetch_snapshot())
        .await
        .map_err(|_| Refused::Timeout(FETCH))?;
    let (info, bytes) = match fetched {
        Err(WsError::Api(error)) if error.code == ErrorCode::NotFound => return Ok(None),
        other => other?,
    };
    let snapshot = tokio::task::spawn_blocking(move || -> Result<Snapshot, SnapshotError> {
        let snapshot = Snapshot::decode(&bytes)?;
        snapshot.verify(&genesis)?;
        Ok(snapshot)
    })
    .await
    .map_err(|_| Refused::Stopping)??;
    let top = snapshot.blocks.last().ok_or(Refused::NoBlocks)?;
    verify_decision(validators.set(), top, &snapshot.decision)?;
    let entries = snapshot.entries.len();
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.install(&snapshot))
        .await
        .map_err(|_| Refused::Stopping)??;
    Ok(Some((info.depth, info.bytes, entries)))
}
