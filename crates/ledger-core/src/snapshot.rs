//! A snapshot of a decided chain: every block, the decision on the top
//! one, and every record of the state after it, so a node that joins a
//! network late (or lost its data) takes the state as it is instead of
//! executing every block again.
//!
//! Nothing in a snapshot is trusted: the blocks must link from the
//! genesis to the top, the state's [`StateLattice`] must be the one the
//! decision commits to, and the caller checks the decision's commit
//! certificate against the validators (`ledger-consensus`).
//!
//! ```text
//! snapshot = "ledger-snapshot-v1" ‖ top depth u64
//!            ‖ decision: state (32) ‖ history (32) ‖ lattice (2,048) ‖ certificate (sized)
//!            ‖ u64 count ‖ blocks (each sized, genesis first)
//!            ‖ u64 count ‖ entries (each as [`StateEntry::encode`] writes it)
//! ```
//!
//! Integers are big-endian; "sized" is a `u64` length and the bytes.

use crate::block::Block;
use crate::commitment::state_commitment;
use crate::error::CoreError;
use crate::lattice::{StateLattice, LATTICE_BYTES};
use crate::primitives::{Address, Balance, Hash};
use crate::sealed::{Sealable, Sealed};
use crate::settings::{ChainSettings, EvmFork};
use crate::state::{
    Account, AccountKind, ChainTip, Decision, Direction, HistoryEntry, Log, StateCommit,
    TransactionRecord,
};
use crate::status::{ActionType, StatusCode, TransactionStatus};

/// What every snapshot starts with.
const MAGIC: &[u8] = b"ledger-snapshot-v1";

/// One record of the state: what a store holds besides blocks and
/// decisions, and what the [`StateLattice`] hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateEntry {
    /// The chain's settings.
    Settings(ChainSettings),
    /// An account's scalar state.
    Account(Address, Account),
    /// One entry of an account's transaction list.
    History(Address, HistoryEntry),
    /// An applied transaction's record.
    Transaction(Hash, TransactionRecord),
    /// A contract's code.
    Code(Address, Vec<u8>),
    /// A contract storage slot holding a value other than zero.
    Slot(Address, [u8; 32], [u8; 32]),
    /// The logs a transaction emitted.
    Logs(Hash, Vec<Log>),
    /// The transaction that deployed a contract.
    Creator(Address, Hash),
}

impl StateEntry {
    /// Appends its canonical encoding: a tag byte, then its fields, fixed
    /// width or length-prefixed, so no two entries encode alike.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let u64 = |out: &mut Vec<u8>, value: u64| out.extend_from_slice(&value.to_be_bytes());
        let sized = |out: &mut Vec<u8>, bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        match self {
            StateEntry::Settings(settings) => {
                out.push(1);
                sized(out, settings.evm_fork.name().as_bytes());
                u64(out, settings.chain_id);
                u64(out, settings.block_gas_limit);
            }
            StateEntry::Account(address, account) => {
                out.push(2);
                out.extend_from_slice(&address.0);
                out.extend_from_slice(&account.balance.to_be_bytes());
                u64(out, account.nonce);
                out.push(match account.kind {
                    AccountKind::Client => 0,
                    AccountKind::Contract => 1,
                });
                u64(out, account.transaction_count);
            }
            StateEntry::History(address, entry) => {
                out.push(3);
                out.extend_from_slice(&address.0);
                u64(out, entry.position);
                out.extend_from_slice(&entry.hash.0);
                u64(out, entry.block_depth);
                out.extend_from_slice(&entry.index.to_be_bytes());
                out.push(entry.direction.to_u8());
            }
            StateEntry::Transaction(hash, record) => {
                out.push(4);
                out.extend_from_slice(&hash.0);
                u64(out, record.block_depth);
                out.extend_from_slice(&record.index.to_be_bytes());
                out.push(record.status.status_code as u8);
                out.push(record.status.action_type as u8);
                u64(out, record.status.fee_left);
                sized(out, record.status.message.as_bytes());
            }
            StateEntry::Code(address, code) => {
                out.push(5);
                out.extend_from_slice(&address.0);
                sized(out, code);
            }
            StateEntry::Slot(address, slot, value) => {
                out.push(6);
                out.extend_from_slice(&address.0);
                out.extend_from_slice(slot);
                out.extend_from_slice(value);
            }
            StateEntry::Logs(hash, logs) => {
                out.push(7);
                out.extend_from_slice(&hash.0);
                u64(out, logs.len() as u64);
                for log in logs {
                    out.extend_from_slice(&log.address.0);
                    u64(out, log.topics.len() as u64);
                    for topic in &log.topics {
                        out.extend_from_slice(topic);
                    }
                    sized(out, &log.data);
                }
            }
            StateEntry::Creator(address, hash) => {
                out.push(8);
                out.extend_from_slice(&address.0);
                out.extend_from_slice(&hash.0);
            }
        }
    }

    /// Reads one entry written by [`StateEntry::encode`].
    fn decode(input: &mut Reader<'_>) -> Result<StateEntry, SnapshotError> {
        let offset = input.offset;
        Ok(match input.u8("entry tag")? {
            1 => {
                let name = input.sized("settings fork")?;
                let evm_fork = std::str::from_utf8(name)
                    .ok()
                    .and_then(|name| name.parse::<EvmFork>().ok())
                    .ok_or(SnapshotError::Field {
                        field: "settings fork",
                        offset,
                    })?;
                StateEntry::Settings(ChainSettings {
                    evm_fork,
                    chain_id: input.u64("settings chain id")?,
                    block_gas_limit: input.u64("settings gas limit")?,
                })
            }
            2 => {
                let address = Address(input.array("account address")?);
                let balance = Balance::from_be_bytes(input.array("account balance")?);
                let nonce = input.u64("account nonce")?;
                let kind = match input.u8("account kind")? {
                    0 => AccountKind::Client,
                    1 => AccountKind::Contract,
                    _ => {
                        return Err(SnapshotError::Field {
                            field: "account kind",
                            offset,
                        })
                    }
                };
                let transaction_count = input.u64("account transaction count")?;
                StateEntry::Account(
                    address,
                    Account {
                        balance,
                        nonce,
                        kind,
                        transaction_count,
                    },
                )
            }
            3 => {
                let address = Address(input.array("history address")?);
                let position = input.u64("history position")?;
                let hash = Hash(input.array("history hash")?);
                let block_depth = input.u64("history block depth")?;
                let index = u32::from_be_bytes(input.array("history index")?);
                let direction = Direction::from_u8(input.u8("history direction")?).ok_or(
                    SnapshotError::Field {
                        field: "history direction",
                        offset,
                    },
                )?;
                StateEntry::History(
                    address,
                    HistoryEntry {
                        position,
                        hash,
                        block_depth,
                        index,
                        direction,
                    },
                )
            }
            4 => {
                let hash = Hash(input.array("record hash")?);
                let block_depth = input.u64("record block depth")?;
                let index = u32::from_be_bytes(input.array("record index")?);
                let field = |field| SnapshotError::Field { field, offset };
                let status_code = StatusCode::from_u8(input.u8("record status")?)
                    .ok_or(field("record status"))?;
                let action_type = ActionType::from_u8(input.u8("record action")?)
                    .ok_or(field("record action"))?;
                let fee_left = input.u64("record fee left")?;
                let message = std::str::from_utf8(input.sized("record message")?)
                    .map_err(|_| field("record message"))?
                    .to_owned();
                StateEntry::Transaction(
                    hash,
                    TransactionRecord {
                        block_depth,
                        index,
                        status: TransactionStatus {
                            status_code,
                            action_type,
                            fee_left,
                            message,
                        },
                    },
                )
            }
            5 => StateEntry::Code(
                Address(input.array("code address")?),
                input.sized("code")?.to_vec(),
            ),
            6 => StateEntry::Slot(
                Address(input.array("slot address")?),
                input.array("slot key")?,
                input.array("slot value")?,
            ),
            7 => {
                let hash = Hash(input.array("logs hash")?);
                let count = input.count("log count", 20 + 8 + 8)?;
                let mut logs = Vec::with_capacity(count);
                for _ in 0..count {
                    let address = Address(input.array("log address")?);
                    let topics = input.count("log topic count", 32)?;
                    let topics = (0..topics)
                        .map(|_| input.array("log topic"))
                        .collect::<Result<_, _>>()?;
                    let data = input.sized("log data")?.to_vec();
                    logs.push(Log {
                        address,
                        topics,
                        data,
                    });
                }
                StateEntry::Logs(hash, logs)
            }
            8 => StateEntry::Creator(
                Address(input.array("creator address")?),
                Hash(input.array("creator hash")?),
            ),
            tag => return Err(SnapshotError::UnknownEntry { tag, offset }),
        })
    }
}

/// Every block of a decided chain, the decision on its top block, and
/// the state after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The blocks, genesis first.
    pub blocks: Vec<Sealed<Block>>,
    /// What the network decided about the top block.
    pub decision: Decision,
    /// Every record of the state after the top block.
    pub entries: Vec<StateEntry>,
}

impl Snapshot {
    /// The snapshot of what `store` holds. The caller keeps the store
    /// from moving meanwhile (the chain service takes it between blocks).
    pub fn of<S: StateCommit + ?Sized>(store: &S) -> Result<Snapshot, SnapshotError> {
        let tip = store.tip()?.ok_or(SnapshotError::Empty)?;
        let decision = store
            .decision(tip.depth)?
            .ok_or(SnapshotError::Undecided { depth: tip.depth })?;
        let blocks = (0..=tip.depth)
            .map(|depth| {
                store
                    .block_at(depth)?
                    .ok_or(SnapshotError::MissingBlock { depth })
            })
            .collect::<Result<_, _>>()?;
        Ok(Snapshot {
            blocks,
            decision,
            entries: store.state_entries()?,
        })
    }

    /// The top block.
    pub fn top(&self) -> Option<ChainTip> {
        self.blocks.last().map(ChainTip::of)
    }

    /// Its encoding (the module's documentation gives the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        let depth = self.top().map_or(0, |top| top.depth);
        out.extend_from_slice(&depth.to_be_bytes());
        out.extend_from_slice(&self.decision.state.0);
        out.extend_from_slice(&self.decision.history.0);
        out.extend_from_slice(&self.decision.lattice.to_bytes());
        out.extend_from_slice(&(self.decision.certificate.len() as u64).to_be_bytes());
        out.extend_from_slice(&self.decision.certificate);
        out.extend_from_slice(&(self.blocks.len() as u64).to_be_bytes());
        for block in &self.blocks {
            let encoded = block.encode();
            out.extend_from_slice(&(encoded.len() as u64).to_be_bytes());
            out.extend_from_slice(&encoded);
        }
        out.extend_from_slice(&(self.entries.len() as u64).to_be_bytes());
        for entry in &self.entries {
            entry.encode(&mut out);
        }
        out
    }

    /// Reads [`Snapshot::encode`]'s bytes back, refusing anything else by
    /// name and offset. It checks the form only: [`Snapshot::verify`]
    /// checks the content.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut input = Reader { bytes, offset: 0 };
        if input.take(MAGIC.len(), "magic")? != MAGIC {
            return Err(SnapshotError::Field {
                field: "magic",
                offset: 0,
            });
        }
        let depth = input.u64("top depth")?;
        let state = Hash(input.array("decision state")?);
        let history = Hash(input.array("decision history")?);
        let lattice = StateLattice::from_bytes(input.take(LATTICE_BYTES, "decision lattice")?)
            .ok_or(SnapshotError::Field {
                field: "decision lattice",
                offset: input.offset,
            })?;
        let certificate = input.sized("decision certificate")?.to_vec();
        let count = input.count("block count", 8)?;
        if Some(count as u64) != depth.checked_add(1) {
            return Err(SnapshotError::Field {
                field: "block count",
                offset: input.offset,
            });
        }
        let mut blocks = Vec::with_capacity(count);
        for depth in 0..count as u64 {
            let block =
                Block::decode(input.sized("block")?).map_err(|source| SnapshotError::Block {
                    depth,
                    source: Box::new(source),
                })?;
            blocks.push(block.seal());
        }
        // The header's depth is the top block's own: one encoding per
        // snapshot (the blocks' links are `verify`'s).
        if blocks.last().map(|block| block.depth) != Some(depth) {
            return Err(SnapshotError::Field {
                field: "top depth",
                offset: MAGIC.len(),
            });
        }
        let count = input.count("entry count", 1)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(StateEntry::decode(&mut input)?);
        }
        if input.offset != bytes.len() {
            return Err(SnapshotError::Trailing {
                bytes: bytes.len() - input.offset,
            });
        }
        Ok(Snapshot {
            blocks,
            decision: Decision {
                state,
                history,
                lattice,
                certificate,
            },
            entries,
        })
    }

    /// Checks everything but the certificate: the blocks link from the
    /// genesis `genesis` up, one per depth; the entries' lattice is the
    /// decision's; and the decision's state commits to that lattice. Then
    /// the decision's certificate (for the top block's hash and
    /// [`Decision::state`]) is all that is left to trust.
    pub fn verify(&self, genesis: &Hash) -> Result<(), SnapshotError> {
        let first = self.blocks.first().ok_or(SnapshotError::Empty)?;
        if first.hash() != *genesis || first.depth != 0 {
            return Err(SnapshotError::Genesis {
                found: first.hash(),
                expected: *genesis,
            });
        }
        for pair in self.blocks.windows(2) {
            if pair[1].depth != pair[0].depth.wrapping_add(1)
                || pair[1].previous_block_hash != pair[0].hash()
            {
                return Err(SnapshotError::Link {
                    depth: pair[1].depth,
                });
            }
        }
        let lattice = StateLattice::of(&self.entries);
        if lattice != self.decision.lattice {
            return Err(SnapshotError::Lattice {
                claimed: self.decision.lattice.checksum(),
                computed: lattice.checksum(),
            });
        }
        if state_commitment(&self.decision.history, &lattice) != self.decision.state {
            return Err(SnapshotError::Commitment {
                depth: self.top().map_or(0, |top| top.depth),
            });
        }
        Ok(())
    }
}

/// Why a snapshot cannot be made, read or trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The store holds no chain.
    #[error("the store holds no chain")]
    Empty,
    /// The top block has no decision: the node runs alone, or the block
    /// was not decided by a network.
    #[error("block {depth} carries no decision of a network")]
    Undecided {
        /// The top block's depth.
        depth: u64,
    },
    /// A block below the top is not stored.
    #[error("block {depth} is not stored")]
    MissingBlock {
        /// Its depth.
        depth: u64,
    },
    /// The bytes end inside a field.
    #[error("snapshot ends inside {field} at byte {offset}")]
    Truncated {
        /// The field.
        field: &'static str,
        /// Where it began.
        offset: usize,
    },
    /// A field holds a value it cannot.
    #[error("snapshot field {field} at byte {offset} is invalid")]
    Field {
        /// The field.
        field: &'static str,
        /// Where its entry began.
        offset: usize,
    },
    /// An entry's tag is none of [`StateEntry`]'s.
    #[error("unknown state entry tag {tag} at byte {offset}")]
    UnknownEntry {
        /// The tag.
        tag: u8,
        /// Where the entry began.
        offset: usize,
    },
    /// Bytes follow the last entry.
    #[error("{bytes} bytes follow the snapshot")]
    Trailing {
        /// How many.
        bytes: usize,
    },
    /// A block does not decode.
    #[error("block {depth} of the snapshot: {source}")]
    Block {
        /// Its depth.
        depth: u64,
        /// Why.
        #[source]
        source: Box<CoreError>,
    },
    /// The first block is not this chain's genesis.
    #[error("the snapshot starts at block {found}, not the genesis {expected}")]
    Genesis {
        /// The first block's hash.
        found: Hash,
        /// The genesis hash.
        expected: Hash,
    },
    /// A block does not follow the one below it.
    #[error("block {depth} of the snapshot does not follow the block below it")]
    Link {
        /// The depth it claims.
        depth: u64,
    },
    /// The entries are not the state the decision's lattice hashes.
    #[error("the snapshot's state hashes to lattice {computed}, its decision to {claimed}")]
    Lattice {
        /// Checksum of the decision's lattice.
        claimed: Hash,
        /// Checksum of the entries' lattice.
        computed: Hash,
    },
    /// The decision's state is not the commitment to its history and
    /// lattice.
    #[error("the decision on block {depth} does not commit to the snapshot's state")]
    Commitment {
        /// The top block's depth.
        depth: u64,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] CoreError),
}

/// Reads fields off a byte slice, naming the field that ran short.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], SnapshotError> {
        let bytes = self
            .offset
            .checked_add(len)
            .and_then(|end| self.bytes.get(self.offset..end))
            .ok_or(SnapshotError::Truncated {
                field,
                offset: self.offset,
            })?;
        self.offset += len;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], SnapshotError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, SnapshotError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A count of items each at least `least` bytes long: refused before
    /// anything is allocated if the rest of the bytes cannot hold them.
    fn count(&mut self, field: &'static str, least: usize) -> Result<usize, SnapshotError> {
        let offset = self.offset;
        let count = self.u64(field)?;
        let left = (self.bytes.len() - self.offset) as u64;
        if count.saturating_mul(least as u64) > left {
            return Err(SnapshotError::Truncated { field, offset });
        }
        Ok(count as usize)
    }

    fn sized(&mut self, field: &'static str) -> Result<&'a [u8], SnapshotError> {
        let offset = self.offset;
        let len = self.u64(field)?;
        let len = usize::try_from(len).map_err(|_| SnapshotError::Truncated { field, offset })?;
        self.take(len, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commitment::history_commitment;
    use crate::execution::execute_genesis;
    use crate::state::{MemoryStore, StateRead};
    use crate::testing::{decide, genesis_for, keys, produce};
    use crate::{ChainConfig, Ledger};

    /// A store of a genesis and two decided blocks, and its genesis hash.
    fn decided_chain() -> (MemoryStore, Hash) {
        let keys = keys(2, 9);
        let genesis = genesis_for(&keys);
        let store = MemoryStore::new();
        let mut reference =
            Ledger::open(MemoryStore::new(), genesis.clone(), ChainConfig::default())
                .expect("opens");
        let first = execute_genesis(genesis.block(), reference.settings()).expect("genesis");
        let mut lattice = StateLattice::new();
        lattice.apply(&store, &first).expect("applies");
        store.commit(&first).expect("commits");
        let mut history = history_commitment(&Hash::ZERO, &first);
        for _ in 0..2 {
            let mut block = produce(&mut reference, &keys, keys[0].address(), 2).expect("block");
            decide(
                &store,
                &mut history,
                &mut lattice,
                &mut block,
                vec![1, 2, 3],
            );
            store.commit(&block).expect("commits");
        }
        (store, genesis.block().hash())
    }

    #[test]
    fn an_altered_entry_is_refused_by_the_lattice() {
        let (store, genesis) = decided_chain();
        let mut snapshot = Snapshot::of(&store).expect("a snapshot");
        snapshot.verify(&genesis).expect("verifies");
        let position = snapshot
            .entries
            .iter()
            .position(|entry| matches!(entry, StateEntry::Account(..)))
            .expect("an account");
        if let StateEntry::Account(_, account) = &mut snapshot.entries[position] {
            account.balance = account
                .balance
                .checked_add(Balance::from(1u64))
                .expect("fits");
        }
        assert!(matches!(
            snapshot.verify(&genesis),
            Err(SnapshotError::Lattice { .. })
        ));
        let mut dropped = Snapshot::of(&store).expect("a snapshot");
        dropped.entries.pop();
        assert!(matches!(
            dropped.verify(&genesis),
            Err(SnapshotError::Lattice { .. })
        ));
    }

    /// A lattice made to match altered entries still fails: the decision's
    /// state commits to the lattice the validators signed.
    #[test]
    fn a_lattice_the_decision_does_not_commit_to_is_refused() {
        let (store, genesis) = decided_chain();
        let mut snapshot = Snapshot::of(&store).expect("a snapshot");
        snapshot.entries.pop();
        snapshot.decision.lattice = StateLattice::of(&snapshot.entries);
        assert!(matches!(
            snapshot.verify(&genesis),
            Err(SnapshotError::Commitment { depth: 2 })
        ));
    }

    #[test]
    fn blocks_must_link_from_this_genesis() {
        let (store, genesis) = decided_chain();
        let snapshot = Snapshot::of(&store).expect("a snapshot");
        assert!(matches!(
            snapshot.verify(&Hash([1; 32])),
            Err(SnapshotError::Genesis { .. })
        ));
        let mut swapped = snapshot.clone();
        swapped.blocks.swap(1, 2);
        assert!(matches!(
            swapped.verify(&genesis),
            Err(SnapshotError::Link { .. })
        ));
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let (store, _) = decided_chain();
        let bytes = Snapshot::of(&store).expect("a snapshot").encode();
        for len in (0..bytes.len()).step_by(7) {
            assert!(
                Snapshot::decode(&bytes[..len]).is_err(),
                "{len} of {} bytes decoded",
                bytes.len()
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Snapshot::decode(&longer),
            Err(SnapshotError::Trailing { bytes: 1 })
        ));
        let mut snapshot = Snapshot::of(&store).expect("a snapshot");
        snapshot
            .entries
            .push(StateEntry::Creator(Address([1; 20]), Hash([2; 32])));
        let mut tagged = snapshot.encode();
        let last_entry = tagged.len() - (1 + 20 + 32);
        assert_eq!(tagged[last_entry], 8, "a creator's tag");
        tagged[last_entry] = 99;
        assert!(matches!(
            Snapshot::decode(&tagged),
            Err(SnapshotError::UnknownEntry { tag: 99, offset }) if offset == last_entry
        ));
    }

    /// Found by the `snapshot` fuzz target: a top block whose own depth
    /// is not the header's decoded, and encoded back to other bytes.
    #[test]
    fn a_top_block_at_another_depth_than_the_header_is_refused() {
        let (store, _) = decided_chain();
        let mut snapshot = Snapshot::of(&store).expect("a snapshot");
        let top = snapshot.blocks.pop().expect("a top block");
        let mut moved = top.inner().clone();
        moved.depth += 3;
        snapshot.blocks.push(moved.seal());
        let mut bytes = snapshot.encode();
        // The header says 2, as three blocks do; the top block says 5.
        bytes[MAGIC.len()..MAGIC.len() + 8].copy_from_slice(&2u64.to_be_bytes());
        assert!(matches!(
            Snapshot::decode(&bytes),
            Err(SnapshotError::Field {
                field: "top depth",
                ..
            })
        ));
    }

    #[test]
    fn a_store_alone_has_no_snapshot() {
        let keys = keys(2, 9);
        let store = MemoryStore::new();
        let mut ledger =
            Ledger::open(&store, genesis_for(&keys), ChainConfig::default()).expect("opens");
        produce(&mut ledger, &keys, keys[0].address(), 1).expect("block");
        assert!(matches!(
            Snapshot::of(&store),
            Err(SnapshotError::Undecided { depth: 1 })
        ));
        assert!(store.decision(1).expect("reads").is_none());
    }
}
