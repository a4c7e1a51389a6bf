//! Starting a validator: Malachite's engine (consensus, libp2p network,
//! sync, write-ahead log) with the ledger's context and codec, and the
//! [`App`] loop between it and the chain.

use std::net::SocketAddr;
use std::path::PathBuf;

use ledger_chain::ChainHandle;
use ledger_core::{Genesis, StateRead};
use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, PubSubProtocol, ValuePayload,
    ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::{
    ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, RequestContext, SyncContext,
    WalContext,
};
use malachitebft_core_types::ValidatorProof;
use malachitebft_signing::Signer;
use tokio::task::JoinHandle;

use crate::app::{App, AppConfig, AppError};
use crate::codec::LedgerCodec;
use crate::context::LedgerContext;
use crate::signing::{SignatureVerifier, ValidatorKey};
use crate::ValidatorSet;

/// Where a validator listens and whom it dials.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// A name for logs and metrics.
    pub moniker: String,
    /// Where it listens for its peers.
    pub listen: SocketAddr,
    /// The peers it keeps connections to.
    pub peers: Vec<SocketAddr>,
    /// Its write-ahead log of consensus messages.
    pub wal: PathBuf,
}

/// Malachite's settings, from a [`NetworkConfig`].
#[derive(Clone, Debug)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// `address` as libp2p writes it: `/ip4/HOST/tcp/PORT`.
fn multiaddr(address: SocketAddr) -> Result<Multiaddr, StartError> {
    let text = match address {
        SocketAddr::V4(v4) => format!("/ip4/{}/tcp/{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("/ip6/{}/tcp/{}", v6.ip(), v6.port()),
    };
    text.parse().map_err(|_| StartError::Address { address })
}

impl EngineConfig {
    fn new(network: &NetworkConfig) -> Result<EngineConfig, StartError> {
        Ok(EngineConfig {
            moniker: network.moniker.clone(),
            consensus: ConsensusConfig {
                value_payload: ValuePayload::ProposalAndParts,
                p2p: P2pConfig {
                    listen_addr: multiaddr(network.listen)?,
                    persistent_peers: network
                        .peers
                        .iter()
                        .map(|peer| multiaddr(*peer))
                        .collect::<Result<_, _>>()?,
                    // Every validator dials every other: sending each
                    // message straight to all of them beats gossip's mesh,
                    // which with a handful of peers leaves some to hear
                    // only at its next heartbeat.
                    protocol: PubSubProtocol::Broadcast,
                    discovery: DiscoveryConfig {
                        // Validators of a devnet share one address.
                        max_connections_per_ip: 64,
                        ..DiscoveryConfig::default()
                    },
                    ..P2pConfig::default()
                },
                ..ConsensusConfig::default()
            },
            // A validator behind learns it from its peers' status: every
            // second rather than ten, so a restarted one catches up at once.
            value_sync: ValueSyncConfig {
                status_update_interval: std::time::Duration::from_secs(1),
                ..ValueSyncConfig::default()
            },
        })
    }
}

/// A running validator: the engine and the app loop.
pub struct RunningValidator {
    /// Malachite's actors.
    pub engine: EngineHandle,
    /// The app loop; it ends with the reason it stopped.
    pub app: JoinHandle<Result<(), AppError>>,
}

/// Why a validator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The app's state could not be read from the chain.
    #[error(transparent)]
    App(Box<AppError>),
    /// An address libp2p cannot take.
    #[error("{address} is no address libp2p can listen on or dial")]
    Address {
        /// The address.
        address: SocketAddr,
    },
    /// The validator key is no libp2p key.
    #[error("the validator key is no network key: {0}")]
    NetworkKey(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The validator proof could not be signed or encoded.
    #[error("the validator proof: {0}")]
    Proof(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Malachite refused to start.
    #[error("the consensus engine did not start: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// How a node takes part in a network.
#[derive(Clone, Debug)]
pub enum Role {
    /// It votes, with this key (which must be in the validator set).
    Validator(ValidatorKey),
    /// It follows the decided blocks without voting; the key is only its
    /// network identity.
    Follower(ValidatorKey),
}

/// Starts a node of a network on `chain` (a service started with
/// `ProducerConfig::driven`), voting or following by `role`. A follower
/// sees every proposal and vote, and commits what the validators decide
/// (or syncs it from them), but never proposes or votes.
pub async fn start_node<S>(
    chain: ChainHandle<S>,
    genesis: &Genesis,
    role: Role,
    validators: ValidatorSet,
    app: AppConfig,
    network: NetworkConfig,
) -> Result<RunningValidator, StartError>
where
    S: StateRead + Clone + Send + Sync + 'static,
{
    let key = match &role {
        Role::Validator(key) | Role::Follower(key) => key.clone(),
    };
    let state = App::new(chain, genesis, key.clone(), validators, app)
        .map_err(|error| StartError::App(Box::new(error)))?;
    let keypair = Keypair::ed25519_from_bytes(key.secret_bytes())
        .map_err(|error| StartError::NetworkKey(error.into()))?;
    let (identity, consensus) = match role {
        Role::Validator(key) => {
            let proof = key
                .sign_validator_proof(
                    key.public_key().as_bytes().to_vec(),
                    keypair.public().to_peer_id().to_bytes(),
                )
                .await
                .map_err(|error| StartError::Proof(error.into()))?;
            let proof_bytes = Codec::<ValidatorProof<LedgerContext>>::encode(&LedgerCodec, &proof)
                .map_err(|error| StartError::Proof(error.into()))?;
            let identity = NetworkIdentity::new_validator(
                network.moniker.clone(),
                keypair,
                key.address().to_string(),
                proof_bytes,
            );
            let consensus = ConsensusContext::new_validator(
                key.address(),
                Box::new(SignatureVerifier),
                Box::new(key),
            );
            (identity, consensus)
        }
        Role::Follower(key) => (
            NetworkIdentity::new(network.moniker.clone(), keypair, None),
            ConsensusContext::new_full_node(key.address(), Box::new(SignatureVerifier)),
        ),
    };
    let (channels, engine) = malachitebft_app_channel::start_engine(
        LedgerContext,
        EngineConfig::new(&network)?,
        WalContext::new(network.wal.clone(), LedgerCodec),
        NetworkContext::new(identity, LedgerCodec),
        consensus,
        SyncContext::new(LedgerCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|error| StartError::Engine(error.into()))?;
    let app = tokio::spawn(state.run(channels));
    Ok(RunningValidator { engine, app })
}
