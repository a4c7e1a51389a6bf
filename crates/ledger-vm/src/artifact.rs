//! Compiled contracts as `contracts/compile.js` writes them: the ABI, the
//! init code and the deployed code of one contract, and the SHA-256 of the
//! source it was compiled from.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One compiled contract.
#[derive(Clone, Debug, Deserialize)]
pub struct Artifact {
    /// The contract's name.
    pub contract: String,
    /// Its source file, relative to the contracts directory.
    pub source: String,
    /// SHA-256 (hex) of the source it was compiled from.
    pub source_sha256: String,
    /// The compiler and its version.
    pub compiler: String,
    /// The contract's JSON ABI.
    pub abi: serde_json::Value,
    /// Init code, `0x`-prefixed hex.
    pub bytecode: String,
    /// Deployed code, `0x`-prefixed hex.
    pub deployed_bytecode: String,
}

/// Why an artifact could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not an artifact.
    #[error("{path} is not a contract artifact: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
    /// A code field is not hex.
    #[error("{path}: {field} is not 0x-prefixed hex: {source}")]
    Hex {
        /// The file.
        path: PathBuf,
        /// `bytecode` or `deployed_bytecode`.
        field: &'static str,
        /// What the hex decoder said.
        source: hex::FromHexError,
    },
}

impl Artifact {
    /// Reads an artifact file.
    pub fn read(path: impl AsRef<Path>) -> Result<Artifact, ArtifactError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ArtifactError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Artifact::parse(path, &text)
    }

    /// Parses an artifact's `text`, read from `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Artifact, ArtifactError> {
        let artifact: Artifact =
            serde_json::from_str(text).map_err(|source| ArtifactError::Json {
                path: path.to_path_buf(),
                source,
            })?;
        for (field, text) in [
            ("bytecode", &artifact.bytecode),
            ("deployed_bytecode", &artifact.deployed_bytecode),
        ] {
            decode_hex(text).map_err(|source| ArtifactError::Hex {
                path: path.to_path_buf(),
                field,
                source,
            })?;
        }
        Ok(artifact)
    }

    /// The init code.
    pub fn init_code(&self) -> Vec<u8> {
        decode_hex(&self.bytecode).unwrap_or_default()
    }

    /// The deployed code.
    pub fn deployed_code(&self) -> Vec<u8> {
        decode_hex(&self.deployed_bytecode).unwrap_or_default()
    }
}

/// Hex with or without `0x`.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, hex::FromHexError> {
    let text = text.trim();
    hex::decode(text.strip_prefix("0x").unwrap_or(text))
}
