//! The settings a chain fixes for its contracts (ledger-rules.md, "Inside
//! the EVM"): the hard fork, the chain id and the gas limit per block.
//! The genesis file names them; they are stored with the chain and checked
//! on open like the genesis hash, so upgrading the engine never changes a
//! chain's history.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// The Ethereum hard fork whose rules a chain's contracts run under.
///
/// Only forks from Cancun on: from Cancun, SELFDESTRUCT removes only a
/// contract created in the same transaction (EIP-6780), so a stored
/// contract is never deleted and its storage never wiped.
///
/// Exhaustive on purpose: a new fork is a deliberate change that every
/// engine must map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvmFork {
    /// Cancun (March 2024).
    Cancun,
    /// Prague (May 2025).
    Prague,
    /// Osaka (December 2025).
    Osaka,
}

impl EvmFork {
    /// The fork a new chain gets when its genesis names none: the newest
    /// one the engine supports.
    pub const NEWEST: EvmFork = EvmFork::Osaka;

    /// Every fork, oldest first.
    pub const ALL: [EvmFork; 3] = [EvmFork::Cancun, EvmFork::Prague, EvmFork::Osaka];

    /// The fork's name, lowercase, as the genesis file and `node_info` spell it.
    pub fn name(self) -> &'static str {
        match self {
            EvmFork::Cancun => "cancun",
            EvmFork::Prague => "prague",
            EvmFork::Osaka => "osaka",
        }
    }
}

impl fmt::Display for EvmFork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fork name that is not one of [`EvmFork::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown EVM fork {name:?}; this node supports cancun, prague and osaka")]
pub struct UnknownFork {
    /// The name given.
    pub name: String,
}

impl FromStr for EvmFork {
    type Err = UnknownFork;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EvmFork::ALL
            .into_iter()
            .find(|fork| fork.name() == name)
            .ok_or_else(|| UnknownFork { name: name.into() })
    }
}

impl<'de> Deserialize<'de> for EvmFork {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A chain's contract settings, as stored with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainSettings {
    /// The hard fork.
    pub evm_fork: EvmFork,
    /// `block.chainid`.
    pub chain_id: u64,
    /// The most the fees of one block's contract transactions add up to.
    pub block_gas_limit: u64,
}

impl ChainSettings {
    /// The chain id when the genesis names none.
    pub const DEFAULT_CHAIN_ID: u64 = 1337;
    /// The block gas limit when the genesis names none.
    pub const DEFAULT_BLOCK_GAS_LIMIT: u64 = 30_000_000;
}

impl Default for ChainSettings {
    fn default() -> Self {
        ChainSettings {
            evm_fork: EvmFork::NEWEST,
            chain_id: ChainSettings::DEFAULT_CHAIN_ID,
            block_gas_limit: ChainSettings::DEFAULT_BLOCK_GAS_LIMIT,
        }
    }
}

/// What a genesis names of the settings: the fork is optional (a new chain
/// without one gets [`EvmFork::NEWEST`]; an existing chain keeps its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenesisSettings {
    /// The fork, if named.
    pub evm_fork: Option<EvmFork>,
    /// `block.chainid`.
    pub chain_id: u64,
    /// The block gas limit.
    pub block_gas_limit: u64,
}

impl fmt::Display for GenesisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.evm_fork {
            Some(fork) => write!(f, "evm_fork {fork}")?,
            None => f.write_str("no evm_fork")?,
        }
        write!(
            f,
            ", chain_id {}, block_gas_limit {}",
            self.chain_id, self.block_gas_limit
        )
    }
}

impl Default for GenesisSettings {
    fn default() -> Self {
        GenesisSettings {
            evm_fork: None,
            chain_id: ChainSettings::DEFAULT_CHAIN_ID,
            block_gas_limit: ChainSettings::DEFAULT_BLOCK_GAS_LIMIT,
        }
    }
}

impl GenesisSettings {
    /// The settings a new chain stores.
    pub fn resolve(&self) -> ChainSettings {
        ChainSettings {
            evm_fork: self.evm_fork.unwrap_or(EvmFork::NEWEST),
            chain_id: self.chain_id,
            block_gas_limit: self.block_gas_limit,
        }
    }

    /// Whether a chain that stored `stored` matches: the same chain id and
    /// block gas limit, and the same fork if one is named.
    pub fn accepts(&self, stored: &ChainSettings) -> bool {
        stored.chain_id == self.chain_id
            && stored.block_gas_limit == self.block_gas_limit
            && self.evm_fork.is_none_or(|fork| fork == stored.evm_fork)
    }
}

/// The stored encoding: fork name length u8, the name, chain id u64, block
/// gas limit u64 (big-endian).
impl ChainSettings {
    /// The bytes a store keeps.
    pub fn encode(&self) -> Vec<u8> {
        let name = self.evm_fork.name().as_bytes();
        let mut bytes = Vec::with_capacity(17 + name.len());
        bytes.push(name.len() as u8);
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(&self.chain_id.to_be_bytes());
        bytes.extend_from_slice(&self.block_gas_limit.to_be_bytes());
        bytes
    }

    /// Reads [`ChainSettings::encode`]'s bytes back; `None` if they are not
    /// such bytes (or name a fork this build does not know).
    pub fn decode(bytes: &[u8]) -> Option<ChainSettings> {
        let (&len, rest) = bytes.split_first()?;
        let name = rest.get(..usize::from(len))?;
        let rest = &rest[usize::from(len)..];
        let evm_fork = std::str::from_utf8(name).ok()?.parse().ok()?;
        let (chain_id, rest) = rest.split_first_chunk::<8>()?;
        let block_gas_limit: [u8; 8] = rest.try_into().ok()?;
        Some(ChainSettings {
            evm_fork,
            chain_id: u64::from_be_bytes(*chain_id),
            block_gas_limit: u64::from_be_bytes(block_gas_limit),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_refuse_other_bytes() {
        for evm_fork in EvmFork::ALL {
            let settings = ChainSettings {
                evm_fork,
                chain_id: 7,
                block_gas_limit: u64::MAX,
            };
            assert_eq!(ChainSettings::decode(&settings.encode()), Some(settings));
        }
        let bytes = ChainSettings::default().encode();
        assert_eq!(ChainSettings::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(
            ChainSettings::decode(&[bytes.clone(), vec![0]].concat()),
            None
        );
        assert_eq!(
            ChainSettings::decode(&[5, b'l', b'o', b'n', b'd', b'n']),
            None
        );
    }

    #[test]
    fn fork_names_parse_back() {
        for fork in EvmFork::ALL {
            assert_eq!(fork.name().parse::<EvmFork>(), Ok(fork));
        }
        assert_eq!(
            "london".parse::<EvmFork>(),
            Err(UnknownFork {
                name: "london".into()
            })
        );
    }
}
