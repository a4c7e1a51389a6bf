//! Blocks, their binary serialisation and hash (ledger-rules.md, "Blocks").

use serde::{Deserialize, Serialize};

use crate::crypto::{sha256, Signature};
use crate::error::{BlockError, CoreError, DecodeError};
use crate::primitives::{Address, Balance, Hash};
use crate::sealed::{Sealable, Sealed};
use crate::transaction::{RawTransaction, Transaction};

/// A block: header fields and an ordered list of transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Height in the chain; genesis is 0.
    pub depth: u64,
    /// Free for the producer; 0 on this node (there is no proof of work).
    pub nonce: u64,
    /// Seconds since the Unix epoch; never earlier than the parent's.
    pub timestamp: u32,
    /// Hash of the parent; zeros for genesis.
    pub previous_block_hash: Hash,
    /// Credited with the block reward and the fees.
    pub coinbase: Address,
    /// The transactions, in execution order, each with its hash.
    pub transactions: Vec<Sealed<Transaction>>,
}

/// The `find_block` result: a block's fields as wire texts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawBlock {
    /// Height in the chain.
    pub depth: u64,
    /// Producer's nonce.
    pub nonce: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u32,
    /// Parent hash, base64.
    pub previous_block_hash: Hash,
    /// Coinbase address, base58.
    pub coinbase: Address,
    /// The transactions' wire forms.
    pub transactions: Vec<RawTransaction>,
}

impl Block {
    /// The big-endian serialisation whose sha256 is the block hash. It holds
    /// every field, so it doubles as the storage encoding ([`Block::decode`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.transactions.len() * 200);
        out.extend_from_slice(&self.depth.to_be_bytes());
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.previous_block_hash.0);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.coinbase.0);
        out.extend_from_slice(&(self.transactions.len() as u64).to_be_bytes());
        for tx in &self.transactions {
            out.extend_from_slice(&tx.from.0);
            out.extend_from_slice(&tx.to.0);
            let amount = tx.amount.to_string();
            out.extend_from_slice(&(amount.len() as u64).to_be_bytes());
            out.extend_from_slice(amount.as_bytes());
            out.extend_from_slice(&tx.fee.to_be_bytes());
            out.extend_from_slice(&tx.timestamp.to_be_bytes());
            out.extend_from_slice(&(tx.data.len() as u64).to_be_bytes());
            out.extend_from_slice(&tx.data);
            out.extend_from_slice(&tx.sign.0);
        }
        out
    }

    /// Reads a block back from [`Block::encode`]'s bytes, sealing each
    /// transaction. Refuses truncated input, trailing bytes and
    /// non-canonical amounts.
    pub fn decode(bytes: &[u8]) -> Result<Block, CoreError> {
        let mut reader = Reader { bytes, at: 0 };
        let depth = reader.u64()?;
        let nonce = reader.u64()?;
        let previous_block_hash = Hash(reader.array()?);
        let timestamp = reader.u32()?;
        let coinbase = Address(reader.array()?);
        let count = reader.u64()?;
        // Each transaction takes at least MIN_TRANSACTION_BYTES, which
        // bounds a lying count before anything is allocated for it.
        let capacity = usize::try_from(count)
            .ok()
            .filter(|&count| count <= bytes.len() / MIN_TRANSACTION_BYTES)
            .ok_or_else(|| reader.fail(DecodeError::Count { count }))?;
        let mut transactions = Vec::with_capacity(capacity);
        for _ in 0..count {
            let from = Address(reader.array()?);
            let to = Address(reader.array()?);
            let amount_len = reader.len()?;
            let amount_text = std::str::from_utf8(reader.take(amount_len)?)
                .map_err(|_| reader.fail(DecodeError::AmountNotAscii))?;
            let amount = amount_text
                .parse::<Balance>()
                .map_err(|error| match error {
                    CoreError::InvalidDecimal { value, reason } => {
                        reader.fail(DecodeError::Amount { value, reason })
                    }
                    other => other,
                })?;
            let fee = reader.u64()?;
            let tx_timestamp = reader.u32()?;
            let data_len = reader.len()?;
            let data = reader.take(data_len)?.to_vec();
            let sign = Signature(reader.array()?);
            let tx = Transaction {
                from,
                to,
                amount,
                fee,
                timestamp: tx_timestamp,
                data,
                sign,
            };
            transactions.push(tx.seal());
        }
        if reader.at != bytes.len() {
            return Err(reader.fail(DecodeError::Trailing {
                count: bytes.len() - reader.at,
            }));
        }
        Ok(Block {
            depth,
            nonce,
            timestamp,
            previous_block_hash,
            coinbase,
            transactions,
        })
    }

    /// The wire form.
    pub fn to_raw(&self) -> RawBlock {
        RawBlock {
            depth: self.depth,
            nonce: self.nonce,
            timestamp: self.timestamp,
            previous_block_hash: self.previous_block_hash,
            coinbase: self.coinbase,
            transactions: self.transactions.iter().map(|tx| tx.to_raw()).collect(),
        }
    }
}

impl Sealable for Block {
    fn compute_hash(&self) -> Hash {
        sha256(&self.encode())
    }
}

/// The smallest encoded transaction: two addresses, an amount of one
/// digit with its length, fee, timestamp, an empty data length, signature.
const MIN_TRANSACTION_BYTES: usize = 20 + 20 + 8 + 1 + 8 + 4 + 8 + 65;

/// A cursor over [`Block::encode`] bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail(&self, problem: DecodeError) -> CoreError {
        CoreError::InvalidBlock {
            hash: sha256(self.bytes),
            depth: self
                .bytes
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_be_bytes),
            reason: BlockError::Undecodable {
                at: self.at,
                problem,
            },
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CoreError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                self.fail(DecodeError::Truncated {
                    needed: n - (self.bytes.len() - self.at),
                })
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CoreError> {
        let slice = self.take(N)?;
        Ok(slice.try_into().expect("take returned N bytes"))
    }

    fn u64(&mut self) -> Result<u64, CoreError> {
        self.array().map(u64::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, CoreError> {
        self.array().map(u32::from_be_bytes)
    }

    fn len(&mut self) -> Result<usize, CoreError> {
        let len = self.u64()?;
        usize::try_from(len).map_err(|_| self.fail(DecodeError::Length { len }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_the_smallest_transactions_decode() {
        let tx = Transaction {
            from: Address([1; 20]),
            to: Address([2; 20]),
            amount: Balance::ZERO,
            fee: 0,
            timestamp: 0,
            data: Vec::new(),
            sign: Signature([3; 65]),
        };
        let block = Block {
            depth: 1,
            nonce: 0,
            timestamp: 0,
            previous_block_hash: Hash::ZERO,
            coinbase: Address::NULL,
            transactions: vec![tx.seal(); 5],
        };
        let encoded = block.encode();
        assert_eq!(encoded.len(), 80 + 5 * MIN_TRANSACTION_BYTES);
        assert_eq!(Block::decode(&encoded).ok(), Some(block));
    }
}
