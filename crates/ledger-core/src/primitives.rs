//! Addresses, hashes, balances and their wire texts (ledger-rules.md, "Encodings").

use std::fmt;
use std::str::FromStr;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{DecodeSliceError, Engine as _};
use primitive_types::U256;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{shown, CoreError, DecimalError, EncodingError};

/// Standard base64 with padding, refusing anything but the one canonical
/// text of a byte string (missing padding, stray trailing bits).
///
/// Canonical decoding makes "decode then encode" the identity, which lets a
/// transaction be hashed straight from its wire texts.
pub const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes canonical standard base64 with padding.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, CoreError> {
    BASE64
        .decode(text)
        .map_err(|error| CoreError::InvalidBase64 {
            value: shown(text),
            reason: EncodingError::Base64(error),
        })
}

/// Encodes bytes as standard base64 with padding (`""` for no bytes).
pub fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// A 20-byte account address; base58 (Bitcoin alphabet, no checksum) on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The null address: 20 zero bytes, `11111111111111111111` on the wire.
    /// Genesis allocations come from it; a transaction to it creates a contract.
    pub const NULL: Address = Address([0; 20]);

    /// Whether this is the null address.
    pub fn is_null(&self) -> bool {
        *self == Self::NULL
    }

    /// The 20 bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Writes the base58 text into `buf` and returns it; no allocation.
    /// 28 bytes are always enough for 20 bytes of input.
    pub(crate) fn encode_into<'b>(&self, buf: &'b mut [u8; 28]) -> &'b str {
        let len = bs58::encode(self.0)
            .onto(&mut buf[..])
            .expect("28 bytes hold the base58 text of any 20 bytes");
        std::str::from_utf8(&buf[..len]).expect("base58 text is ASCII")
    }
}

impl FromStr for Address {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| CoreError::InvalidAddress {
            value: shown(text),
            reason,
        };
        if text.len() > 28 {
            return Err(invalid(EncodingError::TooLong {
                len: text.len(),
                max: 28,
            }));
        }
        let mut bytes = [0u8; 28];
        let len = bs58::decode(text)
            .onto(&mut bytes[..])
            .map_err(|error| invalid(EncodingError::Base58(error)))?;
        let array: [u8; 20] = bytes[..len]
            .try_into()
            .map_err(|_| invalid(EncodingError::ByteLength { len, expected: 20 }))?;
        Ok(Address(array))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode_into(&mut [0; 28]))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// A 32-byte sha256 hash of a transaction or block; base64 on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// 32 zero bytes: the genesis block's previous hash.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Hash {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| CoreError::InvalidHash {
            value: shown(text),
            reason,
        };
        if text.len() != 44 {
            return Err(invalid(EncodingError::TextLength {
                len: text.len(),
                expected: 44,
            }));
        }
        let mut bytes = [0u8; 33];
        let len = BASE64
            .decode_slice(text, &mut bytes)
            .map_err(|error| match error {
                DecodeSliceError::DecodeError(error) => invalid(EncodingError::Base64(error)),
                // 44 characters decode to at most 33 bytes.
                DecodeSliceError::OutputSliceTooSmall => invalid(EncodingError::ByteLength {
                    len: 33,
                    expected: 32,
                }),
            })?;
        let array: [u8; 32] = bytes[..len]
            .try_into()
            .map_err(|_| invalid(EncodingError::ByteLength { len, expected: 32 }))?;
        Ok(Hash(array))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 44];
        let len = BASE64
            .encode_slice(self.0, &mut buf)
            .expect("44 bytes hold the base64 of 32 bytes");
        f.write_str(std::str::from_utf8(&buf[..len]).expect("base64 is ASCII"))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// Checks that `text` is a canonical decimal: ASCII digits only, no sign,
/// no spaces, no leading zeros except `"0"` itself.
fn check_decimal(text: &str) -> Result<&[u8], CoreError> {
    let invalid = |reason| CoreError::InvalidDecimal {
        value: shown(text),
        reason,
    };
    let digits = text.as_bytes();
    match digits {
        [] => Err(invalid(DecimalError::Empty)),
        [b'+' | b'-', ..] => Err(invalid(DecimalError::Sign)),
        [b'0', _, ..] => Err(invalid(DecimalError::LeadingZero)),
        _ if !digits.iter().all(u8::is_ascii_digit) => Err(invalid(DecimalError::NotDigit)),
        _ => Ok(digits),
    }
}

/// Parses a canonical decimal `u64` (fees).
pub fn parse_u64(text: &str) -> Result<u64, CoreError> {
    let digits = check_decimal(text)?;
    digits
        .iter()
        .try_fold(0u64, |acc, &digit| {
            acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
        .ok_or_else(|| CoreError::InvalidDecimal {
            value: shown(text),
            reason: DecimalError::OutOfRange { bits: 64 },
        })
}

/// An amount or balance: a uint256 whose arithmetic is checked, never wrapping.
///
/// There is deliberately no `Add` or `Sub`: every caller must say what an
/// overflow or underflow means where it can happen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Balance(U256);

impl Balance {
    /// Zero.
    pub const ZERO: Balance = Balance(U256::zero());
    /// The largest uint256.
    pub const MAX: Balance = Balance(U256::MAX);

    /// The underlying uint256.
    pub fn as_u256(&self) -> U256 {
        self.0
    }

    /// `self + other`, or `None` past uint256.
    #[must_use]
    pub fn checked_add(self, other: Balance) -> Option<Balance> {
        self.0.checked_add(other.0).map(Balance)
    }

    /// `self - other`, or `None` below zero.
    #[must_use]
    pub fn checked_sub(self, other: Balance) -> Option<Balance> {
        self.0.checked_sub(other.0).map(Balance)
    }

    /// `self * factor`, or `None` past uint256.
    #[must_use]
    pub fn checked_mul_u64(self, factor: u64) -> Option<Balance> {
        self.0.checked_mul(U256::from(factor)).map(Balance)
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// The 32 big-endian bytes.
    pub fn to_be_bytes(&self) -> [u8; 32] {
        self.0.to_big_endian()
    }

    /// From 32 big-endian bytes.
    pub fn from_be_bytes(bytes: [u8; 32]) -> Balance {
        Balance(U256::from_big_endian(&bytes))
    }
}

impl From<u64> for Balance {
    fn from(value: u64) -> Self {
        Balance(U256::from(value))
    }
}

impl From<U256> for Balance {
    fn from(value: U256) -> Self {
        Balance(value)
    }
}

impl FromStr for Balance {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = check_decimal(text)?;
        let overflow = || CoreError::InvalidDecimal {
            value: shown(text),
            reason: DecimalError::OutOfRange { bits: 256 },
        };
        // 78 digits hold every uint256 and some values beyond; fold in
        // chunks of 19 digits (each fits a u64) to keep the multiplications few.
        if digits.len() > 78 {
            return Err(overflow());
        }
        let mut value = U256::zero();
        for chunk in digits.chunks(19) {
            let part = chunk
                .iter()
                .fold(0u64, |acc, &digit| acc * 10 + u64::from(digit - b'0'));
            let scale = U256::from(10u64).pow(U256::from(chunk.len()));
            value = value
                .checked_mul(scale)
                .and_then(|shifted| shifted.checked_add(U256::from(part)))
                .ok_or_else(overflow)?;
        }
        Ok(Balance(value))
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Balance({})", self.0)
    }
}

macro_rules! serde_as_text {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(Address, Hash, Balance);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_refuses_non_canonical_text() {
        for bad in [
            "", "-1", "+1", "01", "00", " 1", "1 ", "1_000", "0x10", "１",
        ] {
            assert!(bad.parse::<Balance>().is_err(), "{bad:?} was accepted");
            assert!(parse_u64(bad).is_err(), "{bad:?} was accepted as u64");
        }
        assert_eq!("0".parse::<Balance>().ok(), Some(Balance::ZERO));
        assert_eq!(parse_u64("18446744073709551615").ok(), Some(u64::MAX));
        assert!(parse_u64("18446744073709551616").is_err());
    }

    #[test]
    fn decimal_parses_uint256_bounds() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(max.parse::<Balance>().ok(), Some(Balance::MAX));
        assert_eq!(Balance::MAX.to_string(), max);
        let above =
            "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert!(above.parse::<Balance>().is_err());
        assert!("1".repeat(79).parse::<Balance>().is_err());
    }

    #[test]
    fn base64_refuses_non_canonical_text() {
        assert_eq!(decode_base64("QQ==").ok(), Some(b"A".to_vec()));
        assert!(decode_base64("QQ").is_err(), "missing padding");
        assert!(decode_base64("QR==").is_err(), "trailing bits");
        assert_eq!(decode_base64("").ok(), Some(Vec::new()));
    }

    #[test]
    fn null_address_text() {
        assert_eq!(Address::NULL.to_string(), "11111111111111111111");
        assert_eq!(
            "11111111111111111111".parse::<Address>().ok(),
            Some(Address::NULL)
        );
    }

    #[test]
    fn errors_name_the_offending_value() {
        let error = "12x".parse::<Balance>().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("invalid decimal \"12x\": only the digits 0-9 are allowed")
        );
        let long = "9".repeat(500);
        let message = long
            .parse::<Address>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.len() < 200, "{message}");
    }
}
