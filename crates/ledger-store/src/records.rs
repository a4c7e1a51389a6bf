//! The records of the store, as bytes: how accounts, transaction records
//! and the tip are written, and the checked decoders that read them back
//! (every read says how a record is damaged instead of panicking). Public
//! so tools and fuzzers can hold them to their round trip.

use ledger_core::{
    Account, AccountKind, ActionType, Address, Balance, ChainTip, Decision, Direction, Hash,
    HistoryEntry, Log, StateLattice, StatusCode, TransactionRecord, TransactionStatus,
    LATTICE_BYTES,
};

use crate::Damage;

/// The tip record: depth u64, hash (32), timestamp u32.
pub fn encode_tip(tip: &ChainTip) -> [u8; 44] {
    let mut bytes = [0u8; 44];
    bytes[..8].copy_from_slice(&tip.depth.to_be_bytes());
    bytes[8..40].copy_from_slice(&tip.hash.0);
    bytes[40..].copy_from_slice(&tip.timestamp.to_be_bytes());
    bytes
}

/// An account record: balance (32), nonce u64, kind u8, list length u64.
pub fn encode_account(account: &Account) -> [u8; 49] {
    let mut bytes = [0u8; 49];
    bytes[..32].copy_from_slice(&account.balance.to_be_bytes());
    bytes[32..40].copy_from_slice(&account.nonce.to_be_bytes());
    bytes[40] = match account.kind {
        AccountKind::Client => 0,
        AccountKind::Contract => 1,
    };
    bytes[41..].copy_from_slice(&account.transaction_count.to_be_bytes());
    bytes
}

/// Reads an account record back, or says how it is damaged.
pub fn decode_account(bytes: &[u8]) -> Result<Account, Damage> {
    let mut fields = Fields::new("account record", bytes).exact(49)?;
    let balance = Balance::from_be_bytes(fields.array()?);
    let nonce = fields.u64()?;
    let kind = match fields.u8()? {
        0 => AccountKind::Client,
        1 => AccountKind::Contract,
        kind => return Err(Damage::AccountKind { kind }),
    };
    Ok(Account {
        balance,
        nonce,
        kind,
        transaction_count: fields.u64()?,
    })
}

/// Reads the tip record back, or says how it is damaged.
pub fn decode_tip(bytes: &[u8]) -> Result<ChainTip, Damage> {
    let mut fields = Fields::new("tip record", bytes).exact(44)?;
    Ok(ChainTip {
        depth: fields.u64()?,
        hash: Hash(fields.array()?),
        timestamp: fields.u32()?,
    })
}

/// A checked reader of a fixed-layout record: every read says how the
/// record is damaged instead of panicking.
pub(crate) struct Fields<'a> {
    record: &'static str,
    len: usize,
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(record: &'static str, bytes: &'a [u8]) -> Self {
        Fields {
            record,
            len: bytes.len(),
            rest: bytes,
        }
    }

    /// Requires the record to be exactly `expected` bytes.
    pub(crate) fn exact(self, expected: usize) -> Result<Self, Damage> {
        if self.len != expected {
            return Err(Damage::Size {
                record: self.record,
                len: self.len,
                expected,
            });
        }
        Ok(self)
    }

    /// Requires the record to be at least `min` bytes.
    fn at_least(self, min: usize) -> Result<Self, Damage> {
        if self.len < min {
            return Err(Damage::TooShort {
                record: self.record,
                len: self.len,
                min,
            });
        }
        Ok(self)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Damage> {
        let (head, rest) = self.rest.split_first_chunk::<N>().ok_or(Damage::TooShort {
            record: self.record,
            len: self.len,
            min: self.len - self.rest.len() + N,
        })?;
        self.rest = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, Damage> {
        self.array().map(|[byte]| byte)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Damage> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, Damage> {
        self.array().map(u64::from_be_bytes)
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Damage> {
        if self.rest.len() < len {
            return Err(Damage::TooShort {
                record: self.record,
                len: self.len,
                min: self.len - self.rest.len() + len,
            });
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(head)
    }

    /// What is left.
    fn rest(self) -> &'a [u8] {
        self.rest
    }
}

/// An account list entry (its key holds the position): the transaction's
/// hash (32), its block's depth u64, its index in the block u32, and how
/// it touches the account u8 (0 in, 1 out, 2 self): a page of history
/// is one range read.
pub fn encode_list_entry(entry: &HistoryEntry) -> [u8; 45] {
    let mut bytes = [0; 45];
    bytes[..32].copy_from_slice(&entry.hash.0);
    bytes[32..40].copy_from_slice(&entry.block_depth.to_be_bytes());
    bytes[40..44].copy_from_slice(&entry.index.to_be_bytes());
    bytes[44] = entry.direction.to_u8();
    bytes
}

/// A stored account list entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListEntry {
    /// Written with where its transaction is.
    Full(HistoryEntry),
    /// Written by a store from before history pages: the hash alone; the
    /// rest is read from the transaction's record and block.
    HashOnly {
        /// Position in the account's list.
        position: u64,
        /// The transaction.
        hash: Hash,
    },
}

impl ListEntry {
    /// The transaction the entry lists.
    pub fn hash(&self) -> Hash {
        match self {
            ListEntry::Full(entry) => entry.hash,
            ListEntry::HashOnly { hash, .. } => *hash,
        }
    }
}

/// Reads the list entry at `position` back, or says how it is damaged.
pub fn decode_list_entry(position: u64, bytes: &[u8]) -> Result<ListEntry, Damage> {
    const RECORD: &str = "account list entry";
    if bytes.len() == 32 {
        let mut fields = Fields::new(RECORD, bytes);
        return Ok(ListEntry::HashOnly {
            position,
            hash: Hash(fields.array()?),
        });
    }
    let mut fields = Fields::new(RECORD, bytes).exact(45)?;
    let hash = Hash(fields.array()?);
    let block_depth = fields.u64()?;
    let index = fields.u32()?;
    let byte = fields.u8()?;
    let direction = Direction::from_u8(byte).ok_or(Damage::Direction { byte })?;
    Ok(ListEntry::Full(HistoryEntry {
        position,
        hash,
        block_depth,
        index,
        direction,
    }))
}

/// A transaction record: block depth u64, index u32, status code u8,
/// action type u8, fee left u64, message (UTF-8, to the end).
pub fn encode_record(record: &TransactionRecord) -> Vec<u8> {
    let status = &record.status;
    let mut bytes = Vec::with_capacity(22 + status.message.len());
    bytes.extend_from_slice(&record.block_depth.to_be_bytes());
    bytes.extend_from_slice(&record.index.to_be_bytes());
    bytes.push(status.status_code as u8);
    bytes.push(status.action_type as u8);
    bytes.extend_from_slice(&status.fee_left.to_be_bytes());
    bytes.extend_from_slice(status.message.as_bytes());
    bytes
}

/// Reads a transaction record back, or says how it is damaged.
pub fn decode_record(bytes: &[u8]) -> Result<TransactionRecord, Damage> {
    let mut fields = Fields::new("transaction record", bytes).at_least(22)?;
    let block_depth = fields.u64()?;
    let index = fields.u32()?;
    let code = fields.u8()?;
    let status_code = StatusCode::from_u8(code).ok_or(Damage::StatusCode { code })?;
    let action = fields.u8()?;
    let action_type = ActionType::from_u8(action).ok_or(Damage::ActionType { action })?;
    let fee_left = fields.u64()?;
    let message = std::str::from_utf8(fields.rest()).map_err(|_| Damage::MessageNotUtf8)?;
    Ok(TransactionRecord {
        block_depth,
        index,
        status: TransactionStatus {
            status_code,
            action_type,
            fee_left,
            message: message.to_owned(),
        },
    })
}

/// Bytes of a decision before its certificate.
const DECISION_FIXED: usize = 32 + 32 + LATTICE_BYTES;

/// What a network decided about a block: the state commitment (32), the
/// history (32), the state's lattice (2,048), then the commit certificate
/// (to the end, opaque to the store).
pub fn encode_decision(decision: &Decision) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(DECISION_FIXED + decision.certificate.len());
    bytes.extend_from_slice(&decision.state.0);
    bytes.extend_from_slice(&decision.history.0);
    bytes.extend_from_slice(&decision.lattice.to_bytes());
    bytes.extend_from_slice(&decision.certificate);
    bytes
}

/// Reads a decision back, or says how it is damaged.
pub fn decode_decision(bytes: &[u8]) -> Result<Decision, Damage> {
    let mut fields = Fields::new("block decision", bytes).at_least(DECISION_FIXED)?;
    let state = Hash(fields.array()?);
    let history = Hash(fields.array()?);
    let lattice =
        StateLattice::from_bytes(fields.take(LATTICE_BYTES)?).ok_or(Damage::TooShort {
            record: "block decision",
            len: bytes.len(),
            min: DECISION_FIXED,
        })?;
    Ok(Decision {
        state,
        history,
        lattice,
        certificate: fields.rest().to_vec(),
    })
}

/// The most topics a log has.
const MAX_TOPICS: u8 = 4;

/// A transaction's logs: count u32, then per log: address (20), topic
/// count u8, the topics (32 each), data length u32, the data.
pub fn encode_logs(logs: &[Log]) -> Vec<u8> {
    let size: usize = logs
        .iter()
        .map(|log| 25 + 32 * log.topics.len() + log.data.len())
        .sum();
    let mut bytes = Vec::with_capacity(4 + size);
    bytes.extend_from_slice(&(logs.len() as u32).to_be_bytes());
    for log in logs {
        bytes.extend_from_slice(&log.address.0);
        bytes.push(log.topics.len() as u8);
        for topic in &log.topics {
            bytes.extend_from_slice(topic);
        }
        bytes.extend_from_slice(&(log.data.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&log.data);
    }
    bytes
}

/// Reads a transaction's logs back, or says how the record is damaged.
pub fn decode_logs(bytes: &[u8]) -> Result<Vec<Log>, Damage> {
    let mut fields = Fields::new("log record", bytes);
    let count = fields.u32()?;
    // Every log takes at least 25 bytes: never trust the count for memory.
    let mut logs = Vec::with_capacity((count as usize).min(bytes.len() / 25));
    for _ in 0..count {
        let address = Address(fields.array()?);
        let topic_count = fields.u8()?;
        if topic_count > MAX_TOPICS {
            return Err(Damage::TopicCount { count: topic_count });
        }
        let topics = (0..topic_count)
            .map(|_| fields.array())
            .collect::<Result<_, _>>()?;
        let len = fields.u32()? as usize;
        let data = fields.take(len)?.to_vec();
        logs.push(Log {
            address,
            topics,
            data,
        });
    }
    let extra = fields.rest().len();
    if extra != 0 {
        return Err(Damage::Trailing {
            record: "log record",
            extra,
        });
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_damage_is_named() {
        let account = Account {
            balance: Balance::from(12_345),
            nonce: 7,
            kind: AccountKind::Contract,
            transaction_count: 9,
        };
        assert_eq!(
            decode_account(&encode_account(&account)).expect("reads"),
            account
        );
        let tip = ChainTip {
            depth: 3,
            hash: Hash([4; 32]),
            timestamp: 5,
        };
        assert_eq!(decode_tip(&encode_tip(&tip)).expect("reads"), tip);
        let record = TransactionRecord {
            block_depth: 2,
            index: 1,
            status: TransactionStatus::rejected(StatusCode::NotEnoughBalance, "é".into()),
        };
        assert_eq!(
            decode_record(&encode_record(&record)).expect("reads"),
            record
        );
        let logs = vec![
            Log {
                address: Address([1; 20]),
                topics: vec![[2; 32], [3; 32]],
                data: vec![4, 5],
            },
            Log {
                address: Address([6; 20]),
                topics: vec![],
                data: vec![],
            },
        ];
        let bytes = encode_logs(&logs);
        assert_eq!(decode_logs(&bytes).expect("reads"), logs);
        assert!(matches!(
            decode_logs(&bytes[..bytes.len() - 1]),
            Err(Damage::TooShort { .. })
        ));
        assert!(matches!(
            decode_logs(&[bytes.clone(), vec![0]].concat()),
            Err(Damage::Trailing { extra: 1, .. })
        ));
        let decision = Decision {
            state: Hash([9; 32]),
            history: Hash([10; 32]),
            lattice: ledger_core::StateLattice::from_bytes(&[7; LATTICE_BYTES]).expect("whole"),
            certificate: vec![1, 2, 3],
        };
        let bytes = encode_decision(&decision);
        assert_eq!(decode_decision(&bytes).expect("reads"), decision);
        assert!(matches!(
            decode_decision(&bytes[..DECISION_FIXED - 1]),
            Err(Damage::TooShort {
                min: DECISION_FIXED,
                ..
            })
        ));
        let entry = ledger_core::HistoryEntry {
            position: 11,
            hash: Hash([8; 32]),
            block_depth: 3,
            index: 2,
            direction: ledger_core::Direction::ToSelf,
        };
        let bytes_of_entry = encode_list_entry(&entry);
        assert_eq!(
            decode_list_entry(11, &bytes_of_entry).expect("reads"),
            ListEntry::Full(entry)
        );
        assert_eq!(
            decode_list_entry(11, &[8; 32]).expect("reads"),
            ListEntry::HashOnly {
                position: 11,
                hash: Hash([8; 32])
            }
        );
        let mut bad_direction = bytes_of_entry;
        bad_direction[44] = 3;
        assert!(matches!(
            decode_list_entry(11, &bad_direction),
            Err(Damage::Direction { byte: 3 })
        ));
        assert!(matches!(
            decode_list_entry(11, &[0; 44]),
            Err(Damage::Size {
                len: 44,
                expected: 45,
                ..
            })
        ));
        let mut five_topics = bytes.clone();
        five_topics[4 + 20] = 5;
        assert!(matches!(
            decode_logs(&five_topics),
            Err(Damage::TopicCount { count: 5 })
        ));

        assert!(matches!(
            decode_account(&[0; 48]),
            Err(Damage::Size {
                len: 48,
                expected: 49,
                ..
            })
        ));
        let mut bad_kind = encode_account(&account);
        bad_kind[40] = 9;
        assert!(matches!(
            decode_account(&bad_kind),
            Err(Damage::AccountKind { kind: 9 })
        ));
        assert!(matches!(
            decode_record(&[0; 21]),
            Err(Damage::TooShort {
                len: 21,
                min: 22,
                ..
            })
        ));
        let mut bad_text = encode_record(&record);
        bad_text.push(0xff);
        assert!(matches!(
            decode_record(&bad_text),
            Err(Damage::MessageNotUtf8)
        ));
    }
}
