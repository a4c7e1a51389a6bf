//! Genesis: the configuration of a chain and its block 0 (ledger-rules.md, "Genesis").

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::block::Block;
use crate::crypto::{SecretKey, Signature};
use crate::error::{CoreError, GenesisError};
use crate::primitives::{Address, Balance, Hash};
use crate::sealed::{Sealable, Sealed};
use crate::settings::{ChainSettings, EvmFork, GenesisSettings};
use crate::transaction::Transaction;

/// The secret key the built-in dev genesis funds. It is public: never use
/// it, or the dev genesis, on a chain that holds anything of value.
pub const DEV_SECRET_KEY_HEX: &str =
    "fceffe11136170fa82d2c4588376b9642cf8a29a88dda92041754b1ef833ca32";

/// A chain's configuration: its genesis timestamp, block reward, initial
/// allocations and contract settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// Genesis block timestamp, seconds since the Unix epoch.
    pub timestamp: u32,
    /// Credited to each block's coinbase.
    pub block_reward: Balance,
    /// Initial balances, in ascending address-byte order.
    pub accounts: BTreeMap<Address, Balance>,
    /// Contract settings: the hard fork, chain id and block gas limit.
    pub settings: GenesisSettings,
    /// The validators of a network, for a chain decided by several nodes
    /// (read by `ledger-consensus`; empty for a node alone). Neither the
    /// genesis block nor any state depends on them.
    pub validators: Vec<GenesisValidator>,
}

/// One validator of a network, as a genesis lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Its ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// Its voting power.
    pub power: u64,
    /// Where the other validators dial it: `HOST:PORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<String>,
    /// Its WebSocket API: `ws://HOST:PORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

/// The JSON document: `{"timestamp": u32, "block_reward": "dec", "accounts":
/// {"addr": "dec"}}`, optionally with `"evm_fork": "osaka"`, `"chain_id":
/// u64`, `"block_gas_limit": u64` and, for a network, `"validators":
/// [{"public_key": hex, "power": u64, "p2p": "HOST:PORT", "api": "ws://…"}]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisFile {
    timestamp: u32,
    block_reward: Balance,
    accounts: Allocations,
    #[serde(default)]
    evm_fork: Option<EvmFork>,
    #[serde(default = "default_chain_id")]
    chain_id: u64,
    #[serde(default = "default_block_gas_limit")]
    block_gas_limit: u64,
    #[serde(default)]
    validators: Vec<GenesisValidator>,
}

fn default_chain_id() -> u64 {
    ChainSettings::DEFAULT_CHAIN_ID
}

fn default_block_gas_limit() -> u64 {
    ChainSettings::DEFAULT_BLOCK_GAS_LIMIT
}

/// Allocations, refusing an address given twice (JSON objects would
/// otherwise keep the last silently).
struct Allocations(BTreeMap<Address, Balance>);

impl<'de> Deserialize<'de> for Allocations {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AllocationsVisitor;

        impl<'de> Visitor<'de> for AllocationsVisitor {
            type Value = Allocations;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of base58 addresses to decimal balances")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Allocations, A::Error> {
                let mut accounts = BTreeMap::new();
                while let Some((address, balance)) = map.next_entry::<Address, Balance>()? {
                    if accounts.insert(address, balance).is_some() {
                        return Err(serde::de::Error::custom(format!(
                            "address {address} is allocated twice"
                        )));
                    }
                }
                Ok(Allocations(accounts))
            }
        }

        deserializer.deserialize_map(AllocationsVisitor)
    }
}

impl Genesis {
    /// Parses and checks a genesis JSON document.
    pub fn from_json(text: &str) -> Result<Genesis, CoreError> {
        let invalid = |path: String, source| CoreError::InvalidGenesis {
            reason: GenesisError::Json { path, source },
        };
        let mut json = serde_json::Deserializer::from_str(text);
        let file: GenesisFile = serde_path_to_error::deserialize(&mut json).map_err(|error| {
            let path = error.path().to_string();
            invalid(path, error.into_inner())
        })?;
        json.end().map_err(|error| invalid(".".into(), error))?;
        let genesis = Genesis {
            timestamp: file.timestamp,
            block_reward: file.block_reward,
            accounts: file.accounts.0,
            settings: GenesisSettings {
                evm_fork: file.evm_fork,
                chain_id: file.chain_id,
                block_gas_limit: file.block_gas_limit,
            },
            validators: file.validators,
        };
        genesis.check()?;
        Ok(genesis)
    }

    /// The JSON document [`Genesis::from_json`] reads back, pretty-printed
    /// (the fork only when the genesis names one).
    pub fn to_json(&self) -> String {
        let accounts: serde_json::Map<String, serde_json::Value> = self
            .accounts
            .iter()
            .map(|(address, balance)| (address.to_string(), balance.to_string().into()))
            .collect();
        let mut document = serde_json::json!({
            "timestamp": self.timestamp,
            "block_reward": self.block_reward.to_string(),
            "accounts": accounts,
            "chain_id": self.settings.chain_id,
            "block_gas_limit": self.settings.block_gas_limit,
        });
        if let Some(fork) = self.settings.evm_fork {
            document["evm_fork"] = fork.name().into();
        }
        if !self.validators.is_empty() {
            document["validators"] = serde_json::to_value(&self.validators).unwrap_or_default();
        }
        // A JSON value of strings and integers always prints.
        serde_json::to_string_pretty(&document).unwrap_or_default()
    }

    /// The built-in development chain: [`DEV_SECRET_KEY_HEX`]'s address
    /// holds 10^30, the block reward is 1000.
    pub fn dev() -> Genesis {
        let address = Genesis::dev_key().address();
        let allocation = "1000000000000000000000000000000"
            .parse()
            .expect("a valid decimal constant");
        Genesis {
            timestamp: 1_735_689_600, // 2025-01-01T00:00:00Z
            block_reward: Balance::from(1000),
            accounts: BTreeMap::from([(address, allocation)]),
            settings: GenesisSettings::default(),
            validators: Vec::new(),
        }
    }

    /// The key funded by [`Genesis::dev`].
    pub fn dev_key() -> SecretKey {
        SecretKey::from_hex(DEV_SECRET_KEY_HEX).expect("the dev key constant is valid")
    }

    /// Checks the rules a genesis must meet: at least one allocation, none
    /// to the null address, and a total supply that fits uint256.
    pub fn check(&self) -> Result<(), CoreError> {
        let invalid = |reason| Err(CoreError::InvalidGenesis { reason });
        if self.accounts.is_empty() {
            return invalid(GenesisError::NoAllocation);
        }
        if self.accounts.contains_key(&Address::NULL) {
            return invalid(GenesisError::NullAddressFunded);
        }
        if self.total_supply().is_none() {
            return invalid(GenesisError::SupplyOverflow);
        }
        if self.settings.block_gas_limit == 0 {
            return invalid(GenesisError::ZeroBlockGasLimit);
        }
        Ok(())
    }

    /// The sum of the allocations, or `None` past uint256.
    pub fn total_supply(&self) -> Option<Balance> {
        self.accounts
            .values()
            .try_fold(Balance::ZERO, |sum, balance| sum.checked_add(*balance))
    }

    /// The genesis block: one unsigned allocation per account, in ascending
    /// address-byte order.
    pub fn block(&self) -> Sealed<Block> {
        let transactions = self
            .accounts
            .iter()
            .map(|(address, balance)| {
                Transaction {
                    from: Address::NULL,
                    to: *address,
                    amount: *balance,
                    fee: 0,
                    timestamp: self.timestamp,
                    data: Vec::new(),
                    sign: Signature::NONE,
                }
                .seal()
            })
            .collect();
        Block {
            depth: 0,
            nonce: 0,
            timestamp: self.timestamp,
            previous_block_hash: Hash::ZERO,
            coinbase: Address::NULL,
            transactions,
        }
        .seal()
    }
}

#[cfg(test)]
mod to_json_tests {
    use super::*;

    #[test]
    fn a_genesis_reads_back_from_its_json() {
        let mut genesis = Genesis::dev();
        assert_eq!(
            Genesis::from_json(&genesis.to_json()).ok(),
            Some(genesis.clone())
        );
        genesis.settings.evm_fork = Some(EvmFork::Cancun);
        genesis.settings.chain_id = 7;
        genesis.validators.push(GenesisValidator {
            public_key: "ab".repeat(32),
            power: 3,
            p2p: Some("127.0.0.1:27000".into()),
            api: None,
        });
        genesis
            .accounts
            .insert(Address([3; 20]), Balance::from(5u64));
        assert_eq!(Genesis::from_json(&genesis.to_json()).ok(), Some(genesis));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_key_address_is_the_documented_one() {
        // README.md documents this address; changing the key breaks users.
        assert_eq!(
            Genesis::dev_key().address().to_string(),
            "42hKZS2eMY6sHUPCPRuomRs3UMsc"
        );
        assert_eq!(
            Genesis::dev().total_supply(),
            "1000000000000000000000000000000".parse().ok()
        );
    }
}
