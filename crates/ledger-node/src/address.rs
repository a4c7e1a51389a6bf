//! An address as people give it on the command line: the ledger's base58,
//! or the `0x` hex of its 20 bytes that the EVM, `logs` and Solidity tools
//! show. Echoed back in the form it was given.

use std::fmt;
use std::str::FromStr;

use ledger_core::Address;

/// An address from the command line, and the form it came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AddressArg {
    pub(crate) address: Address,
    hex: bool,
}

impl AddressArg {
    /// `address` shown in the same form as `self` was given.
    pub(crate) fn same_form(&self, address: Address) -> String {
        if self.hex {
            hex_form(&address)
        } else {
            address.to_string()
        }
    }
}

/// The `0x` form of an address.
pub(crate) fn hex_form(address: &Address) -> String {
    format!("0x{}", hex::encode(address.0))
}

impl fmt::Display for AddressArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.same_form(self.address))
    }
}

impl FromStr for AddressArg {
    type Err = String;

    fn from_str(text: &str) -> Result<AddressArg, String> {
        let text = text.trim();
        if let Some(digits) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            let bytes = hex::decode(digits)
                .map_err(|_| format!("{text:?} is not an address: not hex after 0x"))?;
            let bytes: [u8; 20] = bytes.try_into().map_err(|bytes: Vec<u8>| {
                format!(
                    "{text:?} is not an address: {} bytes of hex, not 20",
                    bytes.len()
                )
            })?;
            return Ok(AddressArg {
                address: Address(bytes),
                hex: true,
            });
        }
        let address = text
            .parse::<Address>()
            .map_err(|error| crate::failure::fold(&error.to_string()))?;
        Ok(AddressArg {
            address,
            hex: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_read_the_same_address_and_echo_as_given() {
        let address = ledger_core::Genesis::dev_key().address();
        let base58: AddressArg = address.to_string().parse().expect("base58");
        let hex: AddressArg = hex_form(&address).parse().expect("hex");
        assert_eq!(base58.address, hex.address);
        assert_eq!(base58.to_string(), address.to_string());
        assert_eq!(hex.to_string(), hex_form(&address));
        let upper: AddressArg = format!("0X{}", hex::encode_upper(address.0))
            .parse()
            .expect("upper-case hex");
        assert_eq!(upper.address, address);
    }

    #[test]
    fn what_is_no_address_says_why() {
        assert!("0x12"
            .parse::<AddressArg>()
            .unwrap_err()
            .contains("1 bytes of hex, not 20"));
        assert!("0xzz"
            .parse::<AddressArg>()
            .unwrap_err()
            .contains("not hex"));
        assert!("hello".parse::<AddressArg>().unwrap_err().contains("hello"));
    }
}
