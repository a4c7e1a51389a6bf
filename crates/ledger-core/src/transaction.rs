//! Transactions: wire form, hash, signing and signer recovery
//! (ledger-rules.md, "Transaction hash and signature").

use std::ops::Deref;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{sha256, SecretKey, Signature};
use crate::error::{CoreError, SignatureError};
use crate::primitives::{decode_base64, encode_base64, parse_u64, Address, Balance, Hash};
use crate::sealed::{Sealable, Sealed};

/// A transaction as it travels in JSON: every field as its wire text.
///
/// This is the `push_transaction` argument and the `find_transaction`
/// result of the WebSocket API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawTransaction {
    /// Sender address, base58.
    pub from: String,
    /// Receiver address, base58; the null address creates a contract.
    pub to: String,
    /// Amount, canonical decimal uint256.
    pub amount: String,
    /// Fee, canonical decimal uint64.
    pub fee: String,
    /// Seconds since the Unix epoch.
    pub timestamp: u32,
    /// Payload, base64 (`""` for none).
    pub data: String,
    /// Signature, base64 of 65 bytes.
    pub sign: String,
}

/// A transaction with its fields decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Sender.
    pub from: Address,
    /// Receiver; [`Address::NULL`] creates a contract.
    pub to: Address,
    /// Amount moved to `to`.
    pub amount: Balance,
    /// Fee paid to the block's coinbase (the gas limit for contracts).
    pub fee: u64,
    /// Seconds since the Unix epoch, chosen by the sender.
    pub timestamp: u32,
    /// Payload: contract code or call data.
    pub data: Vec<u8>,
    /// Recoverable signature of `sha256(hash)`.
    pub sign: Signature,
}

/// Feeds the hash preimage, given as the wire texts, into sha256.
fn hash_texts(from: &str, to: &str, amount: &str, fee: &str, timestamp: u32, data: &str) -> Hash {
    let mut hasher = Sha256::new();
    for text in [from, to, amount, fee] {
        hasher.update(text.as_bytes());
    }
    hasher.update(timestamp.to_string().as_bytes());
    hasher.update(data.as_bytes());
    Hash(hasher.finalize().into())
}

/// Checks that `sign` over the object hashed to `hash` recovers to
/// `claimed` (the `role` it plays, for the message).
fn check_signed_by(
    sign: &Signature,
    hash: Hash,
    claimed: &Address,
    role: &'static str,
) -> Result<(), CoreError> {
    let bad = |reason| CoreError::BadSignature { hash, reason };
    let recovered = sign.recover(&signing_digest(&hash)).map_err(bad)?;
    if recovered != *claimed {
        return Err(bad(SignatureError::WrongSigner {
            recovered,
            claimed: *claimed,
            role,
        }));
    }
    Ok(())
}

/// The digest that is signed: the transaction (or view call) hash, hashed once more.
pub fn signing_digest(hash: &Hash) -> Hash {
    sha256(&hash.0)
}

impl Transaction {
    /// The preimage of the hash: `from + to + amount + fee + timestamp + data`
    /// as wire texts, without separators.
    pub fn hash_preimage(&self) -> String {
        format!(
            "{}{}{}{}{}{}",
            self.from,
            self.to,
            self.amount,
            self.fee,
            self.timestamp,
            encode_base64(&self.data)
        )
    }

    /// The transaction hash: sha256 of [`Transaction::hash_preimage`].
    /// Computed on every call; [`Sealable::seal`] keeps it with the value.
    pub fn hash(&self) -> Hash {
        self.compute_hash()
    }

    /// Signs the transaction with `key`, replacing `sign`. The signature
    /// only verifies if `from` is `key`'s address.
    pub fn sign(&mut self, key: &SecretKey) {
        self.sign = key.sign_digest(&signing_digest(&self.compute_hash()));
    }

    /// Builds and signs a transaction from `key`'s address.
    pub fn signed(
        key: &SecretKey,
        to: Address,
        amount: Balance,
        fee: u64,
        timestamp: u32,
        data: Vec<u8>,
    ) -> Transaction {
        let mut tx = Transaction {
            from: key.address(),
            to,
            amount,
            fee,
            timestamp,
            data,
            sign: Signature::NONE,
        };
        tx.sign(key);
        tx
    }

    /// Parses the wire fields, computing the hash from the wire texts.
    ///
    /// Every decoding is canonical (base58 is a bijection, base64 refuses
    /// non-canonical padding and bits, decimals refuse leading zeros), so
    /// hashing the texts as given equals hashing the re-encoded fields.
    /// A malformed field is an error naming it; a `sign` that is base64
    /// but not 65 bytes is a bad signature.
    pub fn from_raw(raw: &RawTransaction) -> Result<Sealed<Transaction>, CoreError> {
        let from = raw
            .from
            .parse::<Address>()
            .map_err(|e| e.in_field("from"))?;
        let to = raw.to.parse::<Address>().map_err(|e| e.in_field("to"))?;
        let amount = raw
            .amount
            .parse::<Balance>()
            .map_err(|e| e.in_field("amount"))?;
        let fee = parse_u64(&raw.fee).map_err(|e| e.in_field("fee"))?;
        let data = decode_base64(&raw.data).map_err(|e| e.in_field("data"))?;
        let sign_bytes = decode_base64(&raw.sign).map_err(|e| e.in_field("sign"))?;
        let hash = hash_texts(
            &raw.from,
            &raw.to,
            &raw.amount,
            &raw.fee,
            raw.timestamp,
            &raw.data,
        );
        let sign = Signature::try_from(sign_bytes.as_slice())
            .map_err(|reason| CoreError::BadSignature { hash, reason })?;
        let tx = Transaction {
            from,
            to,
            amount,
            fee,
            timestamp: raw.timestamp,
            data,
            sign,
        };
        Ok(Sealed::new_unchecked(tx, hash))
    }

    /// The wire fields.
    pub fn to_raw(&self) -> RawTransaction {
        RawTransaction {
            from: self.from.to_string(),
            to: self.to.to_string(),
            amount: self.amount.to_string(),
            fee: self.fee.to_string(),
            timestamp: self.timestamp,
            data: encode_base64(&self.data),
            sign: self.sign.to_wire(),
        }
    }
}

impl Sealable for Transaction {
    fn compute_hash(&self) -> Hash {
        let mut from = [0u8; 28];
        let mut to = [0u8; 28];
        hash_texts(
            self.from.encode_into(&mut from),
            self.to.encode_into(&mut to),
            &self.amount.to_string(),
            &self.fee.to_string(),
            self.timestamp,
            &encode_base64(&self.data),
        )
    }
}

impl Sealed<Transaction> {
    /// Recovers the signer and checks it is `from`.
    pub fn verify(self) -> Result<VerifiedTransaction, CoreError> {
        check_signed_by(&self.sign, self.hash(), &self.from, "sender")?;
        Ok(VerifiedTransaction(self))
    }
}

/// A transaction whose signature was checked to recover to its `from`.
///
/// The only ways to get one are [`Sealed::<Transaction>::verify`] and
/// [`VerifiedTransaction::from_raw`], so holding one proves the check ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTransaction(Sealed<Transaction>);

impl VerifiedTransaction {
    /// Parses and verifies a wire transaction: the whole admission check
    /// that needs no state. Runs in parallel with anything.
    pub fn from_raw(raw: &RawTransaction) -> Result<VerifiedTransaction, CoreError> {
        Transaction::from_raw(raw)?.verify()
    }

    /// [`VerifiedTransaction::from_raw`] of each of `raws`, in their order,
    /// on up to `threads` threads (this one and scoped helpers, which
    /// end with the call: nothing stays behind to spin or wait). For a
    /// burst of pushes or a relayed batch, where each check is tens of
    /// microseconds, so a helper's start (a few) is soon paid back.
    pub fn from_raws<R>(raws: &[R], threads: usize) -> Vec<Result<VerifiedTransaction, CoreError>>
    where
        R: std::borrow::Borrow<RawTransaction> + Sync,
    {
        let verify_all = |part: &[R]| {
            part.iter()
                .map(|raw| VerifiedTransaction::from_raw(raw.borrow()))
                .collect::<Vec<_>>()
        };
        let threads = threads.clamp(1, raws.len().max(1));
        if threads == 1 {
            return verify_all(raws);
        }
        let mut parts = raws.chunks(raws.len().div_ceil(threads));
        let mine = parts.next().unwrap_or_default();
        std::thread::scope(|scope| {
            let helpers: Vec<_> = parts
                .map(|part| scope.spawn(move || verify_all(part)))
                .collect();
            let mut verified = verify_all(mine);
            for helper in helpers {
                // A check does not panic; if one did, so does the caller.
                match helper.join() {
                    Ok(part) => verified.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            verified
        })
    }

    /// The transaction hash.
    pub fn hash(&self) -> Hash {
        self.0.hash()
    }

    /// The sealed transaction.
    pub fn sealed(&self) -> &Sealed<Transaction> {
        &self.0
    }

    /// Drops the proof of verification, keeping the sealed transaction.
    pub fn into_sealed(self) -> Sealed<Transaction> {
        self.0
    }
}

impl Deref for VerifiedTransaction {
    type Target = Transaction;

    fn deref(&self) -> &Transaction {
        &self.0
    }
}

/// The wire form of a `call_contract_view` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawViewCall {
    /// Caller address, base58.
    pub from: String,
    /// Contract address, base58.
    pub to: String,
    /// Seconds since the Unix epoch.
    pub timestamp: u32,
    /// Call data, base64.
    pub message: String,
    /// Signature, base64 of 65 bytes.
    pub sign: String,
}

/// An authenticated read-only contract call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewCall {
    /// The caller, whose signature was checked.
    pub from: Address,
    /// The contract.
    pub to: Address,
    /// Seconds since the Unix epoch, chosen by the caller.
    pub timestamp: u32,
    /// Call data.
    pub message: Vec<u8>,
}

impl ViewCall {
    /// The view call hash: sha256 of `from + to + timestamp + message` (wire texts).
    pub fn hash_of(raw: &RawViewCall) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(raw.from.as_bytes());
        hasher.update(raw.to.as_bytes());
        hasher.update(raw.timestamp.to_string().as_bytes());
        hasher.update(raw.message.as_bytes());
        Hash(hasher.finalize().into())
    }

    /// Parses the wire fields and checks the signature recovers to `from`.
    pub fn verify_raw(raw: &RawViewCall) -> Result<ViewCall, CoreError> {
        let from = raw
            .from
            .parse::<Address>()
            .map_err(|e| e.in_field("from"))?;
        let to = raw.to.parse::<Address>().map_err(|e| e.in_field("to"))?;
        let message = decode_base64(&raw.message).map_err(|e| e.in_field("message"))?;
        let sign_bytes = decode_base64(&raw.sign).map_err(|e| e.in_field("sign"))?;
        let hash = ViewCall::hash_of(raw);
        let sign = Signature::try_from(sign_bytes.as_slice())
            .map_err(|reason| CoreError::BadSignature { hash, reason })?;
        check_signed_by(&sign, hash, &from, "caller")?;
        Ok(ViewCall {
            from,
            to,
            timestamp: raw.timestamp,
            message,
        })
    }

    /// Builds the signed wire form of a view call from `key`'s address.
    pub fn sign_raw(key: &SecretKey, to: Address, timestamp: u32, message: &[u8]) -> RawViewCall {
        let mut raw = RawViewCall {
            from: key.address().to_string(),
            to: to.to_string(),
            timestamp,
            message: encode_base64(message),
            sign: String::new(),
        };
        let signature = key.sign_digest(&signing_digest(&ViewCall::hash_of(&raw)));
        raw.sign = encode_base64(&signature.0);
        raw
    }
}
