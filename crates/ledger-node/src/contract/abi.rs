//! A contract's ABI as the commands use it: arguments checked and encoded
//! before anything is signed; results, custom errors and events decoded
//! and shown by name. Encoding and decoding are alloy's
//! (`alloy-dyn-abi`), never hand-written.

use std::path::Path;

use alloy_dyn_abi::{DynSolType, DynSolValue, EventExt, JsonAbiExt, Specifier};
use alloy_json_abi::{Function, JsonAbi, Param};
use anyhow::{bail, Context};
use ledger_core::Address;
use ledger_vm::artifact::Artifact;

/// The ABI of a compiled contract, and the file it came from.
pub(crate) struct Abi {
    abi: JsonAbi,
    /// The artifact's file name, for messages.
    name: String,
}

impl Abi {
    /// The ABI of the artifact at `path` (`scripts/compile-contracts.sh`'s
    /// JSON).
    pub(crate) fn read(path: &Path) -> anyhow::Result<Abi> {
        let artifact = Artifact::read(path)?;
        Abi::of(&artifact, path)
    }

    /// The ABI of `artifact`, read from `path`.
    pub(crate) fn of(artifact: &Artifact, path: &Path) -> anyhow::Result<Abi> {
        let abi = serde_json::from_value(artifact.abi.clone())
            .with_context(|| format!("{}: its `abi` is not a contract ABI", path.display()))?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        Ok(Abi { abi, name })
    }

    /// The constructor's inputs (none when it declares no constructor).
    pub(crate) fn constructor_inputs(&self) -> &[Param] {
        self.abi
            .constructor
            .as_ref()
            .map_or(&[], |constructor| &constructor.inputs)
    }

    /// The constructor as people read it: `constructor(uint256 supply)`.
    pub(crate) fn constructor_signature(&self) -> String {
        format!("constructor({})", declared(self.constructor_inputs()))
    }

    /// The function `sig` names: a full signature (`transfer(address,uint256)`,
    /// outputs optional) or a name the ABI holds once.
    pub(crate) fn function(&self, sig: &str) -> anyhow::Result<Function> {
        let name = sig.split('(').next().unwrap_or_default().trim();
        let candidates = self.abi.function(name).map(Vec::as_slice).unwrap_or(&[]);
        let found = if sig.contains('(') {
            let wanted = Function::parse(sig)
                .with_context(|| format!("--sig: {sig:?} is not a function signature"))?;
            candidates
                .iter()
                .find(|function| function.signature() == wanted.signature())
        } else {
            match candidates {
                [one] => Some(one),
                [] => None,
                many => bail!(
                    "{} has {} functions named {name}; give the whole signature: {}",
                    self.name,
                    many.len(),
                    many.iter()
                        .map(Function::signature)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        };
        found.cloned().with_context(|| {
            let mut known: Vec<String> = self
                .abi
                .functions()
                .map(|function| function.signature())
                .collect();
            known.sort();
            format!(
                "{} has no function {sig}; it has {}",
                self.name,
                known.join(", ")
            )
        })
    }

    /// What revert `data` says, by the ABI's custom errors where one
    /// matches (`ERC20InsufficientBalance(sender=…, balance=…, needed=…)`),
    /// else as [`revert_text`] says it.
    pub(crate) fn revert_text(&self, data: &[u8]) -> String {
        let custom = data.get(..4).and_then(|selector| {
            self.abi
                .errors()
                .find(|error| error.selector().as_slice() == selector)
        });
        if let Some(error) = custom {
            if let Ok(values) = error.abi_decode_input(&data[4..]) {
                return format!("{}({})", error.name, named(&error.inputs, &values));
            }
        }
        revert_text(data)
    }

    /// A log by the ABI's events, if one matches its first topic:
    /// `Transfer(from=…, to=…, value=…)`.
    pub(crate) fn event_text(&self, topics: &[[u8; 32]], data: &[u8]) -> Option<String> {
        let first = topics.first()?;
        let event = self
            .abi
            .events()
            .find(|event| !event.anonymous && event.selector().as_slice() == first)?;
        let decoded = event
            .decode_log_parts(topics.iter().map(|topic| (*topic).into()), data)
            .ok()?;
        let (mut indexed, mut body) = (decoded.indexed.iter(), decoded.body.iter());
        let fields: Vec<String> = event
            .inputs
            .iter()
            .map(|input| {
                let value = if input.indexed {
                    indexed.next()
                } else {
                    body.next()
                };
                let value = value.map(render).unwrap_or_default();
                match input.name.as_str() {
                    "" => value,
                    name => format!("{name}={value}"),
                }
            })
            .collect();
        Some(format!("{}({})", event.name, fields.join(", ")))
    }
}

/// What revert `data` says without an ABI: Solidity's `Error(string)`
/// and `Panic(uint256)` decoded, anything else as hex with its 4-byte
/// selector (the key to look it up by), or that there was none.
pub(crate) fn revert_text(data: &[u8]) -> String {
    if data.is_empty() {
        return "reverted without data".to_owned();
    }
    if let Some(reason) = alloy_sol_types::decode_revert_reason(data) {
        return reason;
    }
    match data.get(..4) {
        Some(selector) => format!(
            "reverted with data 0x{} (selector 0x{})",
            hex::encode(data),
            hex::encode(selector)
        ),
        None => format!("reverted with data 0x{}", hex::encode(data)),
    }
}

/// `values` coerced to the types of `params`, named `what` in errors;
/// addresses may be base58 or `0x` hex.
pub(crate) fn coerce(
    params: &[Param],
    values: &[String],
    what: &str,
) -> anyhow::Result<Vec<DynSolValue>> {
    if params.len() != values.len() {
        let takes = match params.len() {
            0 => "no arguments".to_owned(),
            1 => format!("1 argument ({})", declared(params)),
            n => format!("{n} arguments ({})", declared(params)),
        };
        bail!("{what} takes {takes}, {} given", values.len());
    }
    params
        .iter()
        .zip(values)
        .map(|(param, value)| {
            let kind = param.resolve()?;
            if kind == DynSolType::Address {
                if let Ok(address) = value.parse::<crate::address::AddressArg>() {
                    return Ok(DynSolValue::Address(address.address.0.into()));
                }
            }
            // alloy's parser error draws a diagram over several lines:
            // the type is what a person needs to hear.
            kind.coerce_str(value).map_err(|_| {
                let name = kind.sol_type_name();
                anyhow::anyhow!("{what}: {value:?} is not {} {name}", article(&name))
            })
        })
        .collect()
}

/// Parameters as declared: `uint256 supply, address to`.
fn declared(params: &[Param]) -> String {
    params
        .iter()
        .map(|param| match param.name.as_str() {
            "" => param.ty.clone(),
            name => format!("{} {name}", param.ty),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values with their parameters' names: `sender=…, balance=…`.
fn named(params: &[Param], values: &[DynSolValue]) -> String {
    params
        .iter()
        .zip(values)
        .map(|(param, value)| match param.name.as_str() {
            "" => render(value),
            name => format!("{name}={}", render(value)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// "a" or "an" before a Solidity type's name (`an address`, `an int8`,
/// `a uint256`: "u" is said "you").
fn article(name: &str) -> &'static str {
    match name.chars().next() {
        Some('a' | 'e' | 'i' | 'o') => "an",
        _ => "a",
    }
}

/// A decoded value as people write it; addresses in the ledger's base58.
pub(crate) fn render(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(address) => Address(address.into_array()).to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Bytes(bytes) => format!("0x{}", hex::encode(bytes)),
        DynSolValue::FixedBytes(word, size) => format!("0x{}", hex::encode(&word[..*size])),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!(
                "[{}]",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            )
        }
        DynSolValue::Tuple(items) => {
            format!(
                "({})",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            )
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Abi {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/artifacts/Token.json");
        Abi::read(&path).expect("reads the artifact")
    }

    #[test]
    fn a_custom_error_is_shown_by_name_with_its_fields() {
        let abi = token();
        // ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)
        let error = abi
            .abi
            .errors()
            .find(|e| e.name == "ERC20InsufficientBalance")
            .expect("declared");
        let sender = Address([7; 20]);
        let data = error
            .abi_encode_input(&[
                DynSolValue::Address(sender.0.into()),
                DynSolValue::Uint(alloy_primitives::U256::from(5), 256),
                DynSolValue::Uint(alloy_primitives::U256::from(9), 256),
            ])
            .expect("encodes");
        assert_eq!(
            abi.revert_text(&data),
            format!("ERC20InsufficientBalance(sender={sender}, balance=5, needed=9)")
        );
        // Without the ABI: the selector, to look it up by.
        assert!(revert_text(&data).contains(&format!("(selector 0x{})", hex::encode(&data[..4]))));
    }

    #[test]
    fn functions_are_found_by_name_or_signature_and_a_missing_one_is_named() {
        let abi = token();
        assert_eq!(
            abi.function("transfer").expect("by name").signature(),
            "transfer(address,uint256)"
        );
        assert!(abi.function("balanceOf(address)(uint256)").is_ok());
        let missing = abi
            .function("mint(uint256)")
            .expect_err("absent")
            .to_string();
        assert!(
            missing.starts_with("Token.json has no function mint(uint256); it has ")
                && missing.contains("transfer(address,uint256)"),
            "{missing}"
        );
    }

    #[test]
    fn arguments_are_counted_and_typed_before_anything_is_signed() {
        let abi = token();
        let missing = coerce(abi.constructor_inputs(), &[], "the constructor")
            .expect_err("refused")
            .to_string();
        assert_eq!(
            missing,
            "the constructor takes 1 argument (uint256 supply), 0 given"
        );
        let typed = coerce(
            abi.constructor_inputs(),
            &["x".to_owned()],
            "the constructor",
        )
        .expect_err("refused")
        .to_string();
        assert_eq!(typed, "the constructor: \"x\" is not a uint256");
    }
}
