//! A lattice hash of the whole state: one value that every record of the
//! state moves, updated per block by what the block changed alone.
//!
//! It is LtHash16 (Bellare–Micciancio's additive hash as Lewi et al.
//! tuned it; Solana's accounts lattice hash is the same construction):
//! each [`StateEntry`] is expanded by BLAKE3's extendable output to 1,024
//! lanes of 16 bits, and the lattice is their lane-wise sum modulo 2^16.
//! Adding an entry adds its lanes; removing one subtracts them; so the
//! lattice of a set depends on the set alone, not on the order entries
//! came in, and a block updates it by removing each record's old value
//! and adding its new one. That is what lets a node that fetched a
//! snapshot of the state check it against the commitment its validators
//! signed without replaying a single block (`docs/consensus.md`).

use std::collections::HashMap;
use std::fmt;

use crate::error::CoreError;
use crate::primitives::Hash;
use crate::snapshot::StateEntry;
use crate::state::{history_entries, BlockChanges, StateRead};

/// Lanes of the lattice.
const LANES: usize = 1024;

/// Bytes of a lattice (and of one entry's expansion).
pub const LATTICE_BYTES: usize = 2 * LANES;

/// BLAKE3 key-derivation contexts keep an entry's expansion and the
/// lattice's checksum apart from every other use of BLAKE3.
const ELEMENT_CONTEXT: &str = "ledger 2026-11-23 state lattice element v1";
const CHECKSUM_CONTEXT: &str = "ledger 2026-11-23 state lattice checksum v1";

/// The lattice hash of a set of state entries.
#[derive(Clone, PartialEq, Eq)]
pub struct StateLattice {
    lanes: Box<[u16; LANES]>,
}

impl Default for StateLattice {
    fn default() -> Self {
        StateLattice::new()
    }
}

impl fmt::Debug for StateLattice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateLattice({})", self.checksum())
    }
}

impl StateLattice {
    /// The lattice of the empty set.
    pub fn new() -> StateLattice {
        StateLattice {
            lanes: Box::new([0; LANES]),
        }
    }

    /// The lattice of `entries`.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a StateEntry>) -> StateLattice {
        let mut lattice = StateLattice::new();
        let mut buffer = Vec::new();
        for entry in entries {
            lattice.mix(entry, &mut buffer, u16::wrapping_add);
        }
        lattice
    }

    /// Adds `entry` to the set.
    pub fn insert(&mut self, entry: &StateEntry) {
        self.mix(entry, &mut Vec::new(), u16::wrapping_add);
    }

    /// Takes `entry` out of the set (it must have been added).
    pub fn remove(&mut self, entry: &StateEntry) {
        self.mix(entry, &mut Vec::new(), u16::wrapping_sub);
    }

    fn mix(&mut self, entry: &StateEntry, buffer: &mut Vec<u8>, op: fn(u16, u16) -> u16) {
        buffer.clear();
        entry.encode(buffer);
        let mut expanded = [0u8; LATTICE_BYTES];
        blake3::Hasher::new_derive_key(ELEMENT_CONTEXT)
            .update(buffer)
            .finalize_xof()
            .fill(&mut expanded);
        for (lane, pair) in self.lanes.iter_mut().zip(expanded.chunks_exact(2)) {
            *lane = op(*lane, u16::from_le_bytes([pair[0], pair[1]]));
        }
    }

    /// A 32-byte digest of the lattice, for commitments.
    pub fn checksum(&self) -> Hash {
        Hash(
            *blake3::Hasher::new_derive_key(CHECKSUM_CONTEXT)
                .update(&self.to_bytes())
                .finalize()
                .as_bytes(),
        )
    }

    /// Its lanes, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.lanes
            .iter()
            .flat_map(|lane| lane.to_le_bytes())
            .collect()
    }

    /// Reads [`StateLattice::to_bytes`] back; `None` unless exactly
    /// [`LATTICE_BYTES`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<StateLattice> {
        if bytes.len() != LATTICE_BYTES {
            return None;
        }
        let mut lattice = StateLattice::new();
        for (lane, pair) in lattice.lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Some(lattice)
    }

    /// Moves the lattice of the state `before` holds to that of the state
    /// after `changes`: each record a block overwrites is read from
    /// `before` and taken out, each record it writes is added. Costs two
    /// expansions per account the block touches and one per record it
    /// adds (a transfer: seven, a few microseconds).
    pub fn apply<S: StateRead + ?Sized>(
        &mut self,
        before: &S,
        changes: &BlockChanges,
    ) -> Result<(), CoreError> {
        self.overwrite(
            changes.accounts.iter().copied(),
            |address| before.account(address),
            |address, account| Some(StateEntry::Account(address, account)),
        )?;
        for (address, entry) in history_entries(changes)? {
            self.insert(&StateEntry::History(address, entry));
        }
        for (hash, record) in &changes.transactions {
            self.insert(&StateEntry::Transaction(*hash, record.clone()));
        }
        self.overwrite(
            changes.code.iter().cloned(),
            |address| before.code(address),
            |address, code| Some(StateEntry::Code(address, code)),
        )?;
        // A slot holding zero is absent from the state.
        self.overwrite(
            changes
                .storage
                .iter()
                .map(|(address, slot, value)| ((*address, *slot), *value)),
            |(address, slot)| before.storage(address, slot).map(Some),
            |(address, slot), value| {
                (value != [0; 32]).then_some(StateEntry::Slot(address, slot, value))
            },
        )?;
        for (hash, logs) in &changes.logs {
            self.insert(&StateEntry::Logs(*hash, logs.clone()));
        }
        self.overwrite(
            changes.creators.iter().copied(),
            |address| before.creator(address),
            |address, creator| Some(StateEntry::Creator(address, creator)),
        )?;
        if let Some(settings) = changes.settings {
            if let Some(old) = before.settings()? {
                self.remove(&StateEntry::Settings(old));
            }
            self.insert(&StateEntry::Settings(settings));
        }
        Ok(())
    }
}

impl StateLattice {
    /// Moves the lattice past `writes` of one kind of keyed record: each
    /// key's old record (written earlier in the same block, else `read`
    /// from the state before it) is taken out and the new one added;
    /// `entry` gives a key and value's record, `None` for one the state
    /// does not hold. A block writes each key once; the overlay keeps this
    /// exact even if one ever wrote a key twice.
    fn overwrite<K, V>(
        &mut self,
        writes: impl IntoIterator<Item = (K, V)>,
        read: impl Fn(&K) -> Result<Option<V>, CoreError>,
        entry: impl Fn(K, V) -> Option<StateEntry>,
    ) -> Result<(), CoreError>
    where
        K: Copy + Eq + std::hash::Hash,
        V: Clone,
    {
        let mut written: HashMap<K, V> = HashMap::new();
        for (key, new) in writes {
            let old = match written.insert(key, new.clone()) {
                Some(old) => Some(old),
                None => read(&key)?,
            };
            if let Some(old) = old.and_then(|old| entry(key, old)) {
                self.remove(&old);
            }
            if let Some(new) = entry(key, new) {
                self.insert(&new);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{Address, Balance};
    use crate::state::{Account, AccountKind};

    fn account(balance: u64) -> StateEntry {
        StateEntry::Account(
            Address([1; 20]),
            Account {
                balance: Balance::from(balance),
                nonce: 0,
                kind: AccountKind::Client,
                transaction_count: 0,
            },
        )
    }

    #[test]
    fn order_does_not_matter_and_removal_undoes_insertion() {
        let (a, b, c) = (account(1), account(2), account(3));
        let forward = StateLattice::of([&a, &b, &c]);
        let backward = StateLattice::of([&c, &b, &a]);
        assert_eq!(forward, backward);
        let mut lattice = forward.clone();
        lattice.remove(&b);
        assert_eq!(lattice, StateLattice::of([&a, &c]));
        lattice.insert(&b);
        assert_eq!(lattice, forward);
        assert_ne!(StateLattice::of([&a]), StateLattice::of([&b]));
        assert_ne!(StateLattice::of([&a, &a]), StateLattice::of([&a]));
    }

    #[test]
    fn bytes_round_trip_and_only_whole_lattices_read_back() {
        let lattice = StateLattice::of([&account(7)]);
        let bytes = lattice.to_bytes();
        assert_eq!(bytes.len(), LATTICE_BYTES);
        assert_eq!(StateLattice::from_bytes(&bytes), Some(lattice));
        assert_eq!(StateLattice::from_bytes(&bytes[1..]), None);
    }

    /// Pins the expansion, the lane sum and the checksum: a change here
    /// forks every network of validators running the previous version.
    /// The values were reproduced by a separate Python reading of this
    /// module (the `blake3` package: derive-key mode, 2,048 bytes of XOF,
    /// little-endian u16 lanes added modulo 2^16).
    #[test]
    fn the_lattice_is_pinned() {
        assert_eq!(
            StateLattice::of([&account(1)]).checksum().to_string(),
            "kGPA1kenQ/N+J0ZRCmptUxDhYjHaxxSAdV7OvevRBt0="
        );
        assert_eq!(
            StateLattice::of([&account(1), &account(2)])
                .checksum()
                .to_string(),
            "1S9GoZ5vM9aP7D+sBg9MvRL9w0LWfllJB18X8TX3h1I="
        );
    }
}
