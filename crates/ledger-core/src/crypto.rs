//! Hash functions, the shared secp256k1 context, signatures and secret keys.

use std::fmt;
use std::path::Path;

use ripemd::Ripemd160;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SECP256K1};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, SecretKeyError, SignatureError};
use crate::primitives::{encode_base64, Address, Hash};

/// sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(bytes).into())
}

/// The address of a public key: ripemd160(sha256(65-byte uncompressed key)).
pub fn address_of(public_key: &PublicKey) -> Address {
    let digest = Sha256::digest(public_key.serialize_uncompressed());
    Address(Ripemd160::digest(digest).into())
}

/// A 65-byte recoverable signature: r (32) ‖ s (32) ‖ recovery id (1).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 65]);

impl Signature {
    /// 65 zero bytes: the "signature" of genesis allocations, which no key made.
    pub const NONE: Signature = Signature([0; 65]);

    /// Whether this is [`Signature::NONE`].
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// The wire text: base64, or `""` for [`Signature::NONE`] (as the
    /// genesis vectors show it).
    pub fn to_wire(&self) -> String {
        if self.is_none() {
            String::new()
        } else {
            encode_base64(&self.0)
        }
    }

    /// Recovers the address that signed `digest`, or says why it cannot.
    ///
    /// Never panics: a recovery id above 3, an `r` or `s` that is zero or out
    /// of range, or a point that does not exist are all errors.
    pub fn recover(&self, digest: &Hash) -> Result<Address, SignatureError> {
        let recovery_id = RecoveryId::try_from(i32::from(self.0[64]))
            .map_err(|_| SignatureError::RecoveryId { id: self.0[64] })?;
        let signature = RecoverableSignature::from_compact(&self.0[..64], recovery_id)
            .map_err(SignatureError::Malformed)?;
        let message = Message::from_digest(digest.0);
        let public_key = SECP256K1
            .recover_ecdsa(&message, &signature)
            .map_err(SignatureError::Unrecoverable)?;
        Ok(address_of(&public_key))
    }
}

impl TryFrom<&[u8]> for Signature {
    type Error = SignatureError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        bytes
            .try_into()
            .map(Signature)
            .map_err(|_| SignatureError::Length { len: bytes.len() })
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

/// A secp256k1 secret key.
///
/// Stored as 64 hex characters (likelib's `lkkey` form). It never prints:
/// `Debug` shows only the address it controls, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(secp256k1::SecretKey);

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> SecretKey {
        SecretKey::generate_with(&mut rand::rngs::OsRng)
    }

    /// A key from the given randomness, so tests and simulations replay from a seed.
    pub fn generate_with<R: rand::Rng + ?Sized>(rng: &mut R) -> SecretKey {
        SecretKey(secp256k1::SecretKey::new(rng))
    }

    /// From its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SecretKey, CoreError> {
        secp256k1::SecretKey::from_slice(bytes)
            .map(SecretKey)
            .map_err(|_| CoreError::InvalidSecretKey {
                reason: SecretKeyError::OutOfRange,
            })
    }

    /// From 64 hex characters; surrounding white space (a trailing newline) is ignored.
    pub fn from_hex(text: &str) -> Result<SecretKey, CoreError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(CoreError::InvalidSecretKey {
                reason: SecretKeyError::Length { len: text.len() },
            });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| CoreError::InvalidSecretKey {
            reason: SecretKeyError::NotHex,
        })?;
        SecretKey::from_bytes(&bytes)
    }

    /// The 64 lowercase hex characters. Handle with care.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.secret_bytes())
    }

    /// Reads a key file holding 64 hex characters.
    pub fn load(path: &Path) -> Result<SecretKey, CoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| CoreError::KeyFile {
            path: path.display().to_string(),
            source,
        })?;
        SecretKey::from_hex(&text)
    }

    /// Writes the key as 64 hex characters and a newline to a new file,
    /// readable by its owner only; refuses to overwrite an existing file.
    pub fn save(&self, path: &Path) -> Result<(), CoreError> {
        use std::io::Write as _;
        let key_file = |source| CoreError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(key_file)?;
        writeln!(file, "{}", self.to_hex()).map_err(key_file)?;
        file.sync_all().map_err(key_file)
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.0.public_key(SECP256K1)
    }

    /// The address this key controls.
    pub fn address(&self) -> Address {
        address_of(&self.public_key())
    }

    /// Signs a 32-byte digest with a recoverable signature.
    pub fn sign_digest(&self, digest: &Hash) -> Signature {
        let message = Message::from_digest(digest.0);
        let (recovery_id, compact) = SECP256K1
            .sign_ecdsa_recoverable(&message, &self.0)
            .serialize_compact();
        let mut bytes = [0u8; 65];
        bytes[..64].copy_from_slice(&compact);
        bytes[64] = u8::try_from(i32::from(recovery_id)).expect("recovery ids are 0..=3");
        Signature(bytes)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(for {}, secret not shown)", self.address())
    }
}
