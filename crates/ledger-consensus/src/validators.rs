//! The validators of a network: who votes, with what power, and where
//! each is reached. A network's genesis lists them
//! ([`ledger_core::Genesis::validators`]); a separate file of the same
//! form can override the genesis's list:
//!
//! ```json
//! {"validators": [
//!   {"public_key": "<64 hex digits>", "power": 1,
//!    "p2p": "127.0.0.1:27001", "api": "ws://127.0.0.1:8546"}
//! ]}
//! ```
//!
//! Every validator of a network reads the same list; `p2p` is where the
//! others dial it (optional for a validator only dialled out from), `api`
//! its likelib WebSocket API, where the others forward the transactions
//! pushed to them and ask how far it got (optional: without it, a
//! transaction pushed elsewhere reaches it only inside a proposal).

use std::collections::HashMap;
use std::path::Path;

use malachitebft_signing_ed25519::PublicKey;
use serde::{Deserialize, Serialize};

use crate::context::{Validator, ValidatorAddress, ValidatorSet};
use crate::error::ValidatorsError;

/// One entry of the file: the same as a genesis lists a validator.
pub use ledger_core::GenesisValidator as ValidatorEntry;

/// The validators file, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorsFile {
    entries: Vec<ValidatorEntry>,
    set: ValidatorSet,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    validators: Vec<ValidatorEntry>,
}

impl ValidatorsFile {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<ValidatorsFile, ValidatorsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ValidatorsError::Read {
            path: path.to_owned(),
            source,
        })?;
        ValidatorsFile::parse(&text)
    }

    /// The validators a network's genesis lists, checked.
    pub fn from_genesis(genesis: &ledger_core::Genesis) -> Result<ValidatorsFile, ValidatorsError> {
        ValidatorsFile::from_entries(genesis.validators.clone())
    }

    /// Parses and checks a file's text.
    pub fn parse(text: &str) -> Result<ValidatorsFile, ValidatorsError> {
        let raw: Raw =
            serde_json::from_str(text).map_err(|source| ValidatorsError::Json { source })?;
        ValidatorsFile::from_entries(raw.validators)
    }

    /// Checks `entries`: at least one, every key valid and distinct, every
    /// power at least 1, the total within a u64.
    pub fn from_entries(entries: Vec<ValidatorEntry>) -> Result<ValidatorsFile, ValidatorsError> {
        if entries.is_empty() {
            return Err(ValidatorsError::Empty);
        }
        let mut validators = Vec::with_capacity(entries.len());
        let mut first_of: HashMap<ValidatorAddress, usize> = HashMap::new();
        let mut total: u64 = 0;
        for (index, entry) in entries.iter().enumerate() {
            let public_key =
                parse_public_key(&entry.public_key).ok_or_else(|| ValidatorsError::PublicKey {
                    index,
                    key: entry.public_key.clone(),
                })?;
            if entry.power == 0 {
                return Err(ValidatorsError::ZeroPower { index });
            }
            total = total
                .checked_add(entry.power)
                .ok_or(ValidatorsError::TotalPower)?;
            let validator = Validator::new(public_key, entry.power);
            let address = ValidatorAddress::of(&public_key);
            if let Some(&first) = first_of.get(&address) {
                return Err(ValidatorsError::Repeated { index, first });
            }
            first_of.insert(address, index);
            validators.push(validator);
        }
        Ok(ValidatorsFile {
            set: ValidatorSet::new_checked(validators, total),
            entries,
        })
    }

    /// The file's text: what [`ValidatorsFile::parse`] reads back.
    pub fn to_json(&self) -> String {
        let raw = Raw {
            validators: self.entries.clone(),
        };
        // A struct of strings and integers always serialises.
        serde_json::to_string_pretty(&raw).unwrap_or_default()
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[ValidatorEntry] {
        &self.entries
    }

    /// The validator set consensus runs with.
    pub fn set(&self) -> &ValidatorSet {
        &self.set
    }
}

/// `count` loopback addresses with free ports, for validators of a
/// network on one machine (a devnet, a test). The ports are free when
/// chosen; another program could take one before it is bound again. They
/// are drawn from below 32,768, where Linux (and most systems) do not
/// hand out ports to outgoing connections: a port the kernel chose
/// (binding port 0) is just as likely to become the source port of the
/// next outgoing connection, and a validator starting a moment later
/// would find it in use.
pub fn loopback_addresses(count: usize) -> std::io::Result<Vec<std::net::SocketAddr>> {
    use rand::Rng;
    const PORTS: std::ops::Range<u16> = 10_000..32_768;
    let mut rng = rand::thread_rng();
    let mut listeners = Vec::with_capacity(count);
    let mut attempts = 0;
    while listeners.len() < count {
        attempts += 1;
        // All held until the end, so no two are the same.
        match std::net::TcpListener::bind(("127.0.0.1", rng.gen_range(PORTS))) {
            Ok(listener) => listeners.push(listener),
            Err(error) if attempts > 100 * count.max(1) => return Err(error),
            Err(_) => continue,
        }
    }
    listeners
        .iter()
        .map(|listener| listener.local_addr())
        .collect()
}

/// An ed25519 public key from 64 hex digits.
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    let mut bytes = [0; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    PublicKey::from_bytes(bytes).ok()
}

#[cfg(test)]
mod tests {
    use malachitebft_core_types::{Context, Round, Validator as _, ValidatorSet as _};

    use super::*;
    use crate::context::{Height, LedgerContext};
    use crate::signing::ValidatorKey;

    fn entry(seed: u8, power: u64) -> ValidatorEntry {
        ValidatorEntry {
            public_key: hex::encode(ValidatorKey::from_bytes([seed; 32]).public_key().as_bytes()),
            power,
            p2p: Some(format!("127.0.0.1:{}", 27000 + u16::from(seed))),
            api: Some(format!("ws://127.0.0.1:{}", 8500 + u16::from(seed))),
        }
    }

    #[test]
    fn a_file_reads_back_and_finds_validators_by_address() {
        let file = ValidatorsFile::from_entries(vec![entry(1, 3), entry(2, 1)]).expect("valid");
        let again = ValidatorsFile::parse(&file.to_json()).expect("reads back");
        assert_eq!(again, file);
        let set = file.set();
        assert_eq!((set.count(), set.total_voting_power()), (2, 4));
        let address = ValidatorKey::from_bytes([1; 32]).address();
        assert_eq!(
            set.get_by_address(&address).map(|v| v.voting_power()),
            Some(3)
        );
        assert!(set
            .validators()
            .windows(2)
            .all(|w| w[0].address() < w[1].address()));
    }

    #[test]
    fn bad_files_say_which_validator_is_wrong() {
        let err = |entries| ValidatorsFile::from_entries(entries).expect_err("refused");
        assert!(matches!(err(vec![]), ValidatorsError::Empty));
        assert!(matches!(
            err(vec![entry(1, 1), entry(2, 0)]),
            ValidatorsError::ZeroPower { index: 1 }
        ));
        assert!(matches!(
            err(vec![entry(1, 1), entry(2, 1), entry(1, 5)]),
            ValidatorsError::Repeated { index: 2, first: 0 }
        ));
        assert!(matches!(
            err(vec![entry(1, u64::MAX), entry(2, 1)]),
            ValidatorsError::TotalPower
        ));
        let mut bad_key = entry(1, 1);
        bad_key.public_key = "zz".into();
        assert!(matches!(
            err(vec![bad_key]),
            ValidatorsError::PublicKey { index: 0, ref key } if key == "zz"
        ));
        assert!(matches!(
            ValidatorsFile::parse(r#"{"validators": [], "extra": 1}"#),
            Err(ValidatorsError::Json { .. })
        ));
    }

    /// Every validator computes the same proposer, and over many heights
    /// each proposes in proportion to its power (3:1 here, ±3%).
    #[test]
    fn proposers_follow_voting_power_and_agree() {
        let file = ValidatorsFile::from_entries(vec![entry(1, 3), entry(2, 1)]).expect("valid");
        let heavy = ValidatorKey::from_bytes([1; 32]).address();
        let mut heavy_turns = 0;
        for height in 1..=4000 {
            let proposer = LedgerContext.select_proposer(file.set(), Height(height), Round::new(0));
            let again = LedgerContext.select_proposer(file.set(), Height(height), Round::new(0));
            assert_eq!(proposer, again);
            heavy_turns += usize::from(*proposer.address() == heavy);
        }
        assert!(
            (2880..=3120).contains(&heavy_turns),
            "{heavy_turns} of 4000"
        );

        // A failed round draws again: some later round has the other one.
        let first = LedgerContext.select_proposer(file.set(), Height(9), Round::new(0));
        assert!((1..20).any(|round| {
            LedgerContext.select_proposer(file.set(), Height(9), Round::new(round)) != first
        }));
    }

    #[test]
    fn a_key_file_reads_back_and_a_key_never_prints() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("validator.key");
        let key = ValidatorKey::from_bytes([7; 32]);
        key.save(&path).expect("saves");
        assert_eq!(
            ValidatorKey::load(&path).expect("loads").address(),
            key.address()
        );
        assert!(matches!(
            key.save(&path),
            Err(crate::KeyFileError::Write { .. })
        ));
        let printed = format!("{key:?}");
        assert!(!printed.contains(&hex::encode([7u8; 32])), "{printed}");
        assert!(printed.contains(&key.address().to_string()));
        std::fs::write(&path, "12ab").expect("writes");
        assert!(matches!(
            ValidatorKey::load(&path),
            Err(crate::KeyFileError::Format { length: 4, .. })
        ));
    }
}
