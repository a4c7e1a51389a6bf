//! `ledger-node run --validators …`: the node as one validator of a
//! network, on `ledger-consensus`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ledger_chain::{ChainHandle, NodeMode};
use ledger_consensus::malachite::core_types::LinearTimeouts;
use ledger_consensus::{
    parse_public_key, start_node, AppConfig, NetworkConfig, Role, RunningValidator,
    ValidatorAddress, ValidatorKey, ValidatorsFile,
};

use crate::peers::PeerConfig;
use ledger_core::{Address, Genesis, StateRead};

/// Options that make the node a validator of a network: a genesis that
/// lists validators, or `--validators`, makes it join one.
#[derive(clap::Args, Debug)]
pub(crate) struct NetworkArgs {
    /// The validators of the network to join, overriding those the genesis
    /// lists (a file of the same form; see docs/consensus.md). Without
    /// either, the node runs alone and produces every block.
    #[arg(long, requires = "p2p")]
    validators: Option<PathBuf>,
    /// The file holding this validator's ed25519 key (64 hex digits);
    /// default `<data-dir>/validator.key`, created if missing.
    #[arg(long, requires = "p2p")]
    validator_key: Option<PathBuf>,
    /// Where this validator listens for its peers (`HOST:PORT`).
    #[arg(long)]
    p2p: Option<SocketAddr>,
    /// Peers to keep connections to, comma-separated `HOST:PORT`s; default:
    /// the `p2p` address of every other validator of the network.
    #[arg(long, value_delimiter = ',', requires = "p2p")]
    peers: Vec<SocketAddr>,
    /// Follow the network without voting: store every decided block and
    /// serve the API (pushes are relayed to the validators); the key is
    /// then only this node's network identity.
    #[arg(long, requires = "p2p")]
    follow: bool,
    /// With an empty data directory, sync every decided block from the
    /// genesis instead of taking a snapshot of the state from a
    /// validator's API (the default; see docs/consensus.md).
    #[arg(long, requires = "p2p")]
    no_state_sync: bool,
}

impl NetworkArgs {
    /// Whether the node joins a network: `--validators`, or a genesis
    /// that lists validators.
    pub(crate) fn joins(&self, genesis: &Genesis) -> bool {
        self.validators.is_some() || !genesis.validators.is_empty()
    }

    /// Whether an empty data directory is filled from a validator's
    /// snapshot.
    pub(crate) fn state_sync(&self) -> bool {
        !self.no_state_sync
    }

    /// The network's validators: `--validators`, else the genesis's; and
    /// where they were read from.
    pub(crate) fn validators(&self, genesis: &Genesis) -> anyhow::Result<(ValidatorsFile, String)> {
        Ok(match &self.validators {
            Some(file) => (
                ValidatorsFile::load(file)
                    .with_context(|| format!("validators file {}", file.display()))?,
                file.display().to_string(),
            ),
            None => (
                ValidatorsFile::from_genesis(genesis).context("the genesis's validators")?,
                "the genesis".to_owned(),
            ),
        })
    }

    /// How the node takes part once it joins.
    pub(crate) fn mode(&self) -> NodeMode {
        if self.follow {
            NodeMode::Follower
        } else {
            NodeMode::Validator
        }
    }
}

/// This validator's consensus key: `path`, or `<data-dir>/validator.key`,
/// created there if missing.
pub(crate) fn load_or_create_key(
    path: Option<&Path>,
    data_dir: &Path,
) -> anyhow::Result<ValidatorKey> {
    if let Some(path) = path {
        return ValidatorKey::load(path).context("cannot load the validator key");
    }
    let path = data_dir.join("validator.key");
    if path.exists() {
        return ValidatorKey::load(&path).context("cannot load the validator key");
    }
    let key = ValidatorKey::generate();
    key.save(&path).context("cannot create the validator key")?;
    tracing::info!(
        path = %path.display(),
        public_key = %hex::encode(key.public_key().as_bytes()),
        address = %key.address(),
        "created a validator key: list its public key among the network's validators"
    );
    Ok(key)
}

/// A validator that joined its network: consensus running, and the other
/// validators as the API shows them.
pub(crate) struct Joined {
    pub(crate) running: RunningValidator,
    pub(crate) peers: Vec<PeerConfig>,
}

/// Starts consensus on `chain` (a service started driven).
pub(crate) async fn start<S>(
    args: &NetworkArgs,
    data_dir: &Path,
    chain: ChainHandle<S>,
    genesis: &Genesis,
    coinbase: Address,
) -> anyhow::Result<Joined>
where
    S: StateRead + Clone + Send + Sync + 'static,
{
    let Some(listen) = args.p2p else {
        bail!(
            "this genesis lists the validators of a network: join it with --p2p HOST:PORT \
             (where this validator listens for the others) and its --validator-key"
        );
    };
    let (validators, source) = args.validators(genesis)?;
    let key = load_or_create_key(args.validator_key.as_deref(), data_dir)?;
    let me = hex::encode(key.public_key().as_bytes());
    let mine = validators
        .entries()
        .iter()
        .position(|entry| entry.public_key == me);
    if mine.is_none() && !args.follow {
        bail!(
            "the validator key (public key {me}) is not in {source}: add it there, on every \
             validator, or run with --follow to follow the network without voting"
        );
    }
    let peers = if args.peers.is_empty() {
        let mut peers = Vec::new();
        for (index, entry) in validators.entries().iter().enumerate() {
            if Some(index) == mine {
                continue;
            }
            if let Some(p2p) = &entry.p2p {
                peers.push(p2p.parse().with_context(|| {
                    format!("validator {index} of {source}: p2p {p2p:?} is not HOST:PORT")
                })?);
            }
        }
        peers
    } else {
        args.peers.clone()
    };
    let network = NetworkConfig {
        moniker: match mine {
            Some(index) => format!("validator-{index}"),
            None => format!("follower-{}", key.address()),
        },
        listen,
        peers,
        wal: data_dir.join("consensus-wal"),
    };
    let app = AppConfig {
        coinbase,
        timeouts: timeouts(),
    };
    let others = validators
        .entries()
        .iter()
        .enumerate()
        .filter(|(index, _)| Some(*index) != mine)
        .filter_map(|(_, entry)| {
            let public_key = parse_public_key(&entry.public_key)?;
            let address = ValidatorAddress::of(&public_key);
            Some(PeerConfig {
                id: address.to_string(),
                p2p: entry.p2p.clone().unwrap_or_default(),
                validator: Address(address.0),
                api: entry.api.clone(),
            })
        })
        .collect();
    tracing::info!(address = %key.address(), %listen, peers = network.peers.len(), mode = args.mode().name(), "joining the network");
    let role = if args.follow {
        Role::Follower(key)
    } else {
        Role::Validator(key)
    };
    let running = start_node(chain, genesis, role, validators.set().clone(), app, network)
        .await
        .context("cannot start consensus")?;
    Ok(Joined {
        running,
        peers: others,
    })
}

/// Tendermint's timeouts. A round whose proposer has nothing to propose
/// (or is down) passes in about the propose timeout, since the others'
/// nil votes arrive at once; each failed round waits a little longer
/// (the deltas), as the algorithm needs to outlast slow links, up to 5 s.
pub(crate) fn timeouts() -> LinearTimeouts {
    use std::time::Duration;
    LinearTimeouts {
        propose: Duration::from_millis(1000),
        propose_delta: Duration::from_millis(50),
        prevote: Duration::from_millis(500),
        prevote_delta: Duration::from_millis(50),
        precommit: Duration::from_millis(500),
        precommit_delta: Duration::from_millis(50),
        rebroadcast: Duration::from_millis(2000),
        max_timeout: Duration::from_secs(5),
    }
}
