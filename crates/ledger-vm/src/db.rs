//! The ledger's state as revm's database: every read goes through core's
//! [`StateView`], which sees the block's earlier transactions.

use std::cell::RefCell;
use std::collections::HashMap;

use ledger_core::{AccountKind, Address, CoreError, StateView};
use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, DatabaseRef};
use revm::primitives::{self, keccak256, StorageKey, StorageValue, B256, KECCAK_EMPTY, U256};
use revm::state::AccountInfo;

/// A storage failure while the EVM read state: not the contract's fault,
/// so it ends the execution with an error instead of an outcome.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct StateError(pub(crate) CoreError);

impl DBErrorMarker for StateError {}

/// Contracts' code as revm runs it (hashed and its jump destinations
/// analysed), by address, so a contract called again is not hashed and
/// analysed again. An entry is used only if the code read from the state
/// is byte for byte the code it was made from: the cache can never make
/// an execution differ, whatever happened to the state since.
#[derive(Clone, Debug, Default)]
pub(crate) struct CodeCache {
    entries: HashMap<Address, (Vec<u8>, B256, Bytecode)>,
}

impl CodeCache {
    /// Entries kept at most; past it the cache starts over.
    const MAX_ENTRIES: usize = 4096;

    fn get(&mut self, address: Address, code: Vec<u8>) -> (B256, Bytecode) {
        if let Some((cached, hash, bytecode)) = self.entries.get(&address) {
            if *cached == code {
                return (*hash, bytecode.clone());
            }
        }
        let hash = keccak256(&code);
        // Stored code is deployed code, which never starts with 0xEF
        // (EIP-3541): always legacy bytecode.
        let bytecode = Bytecode::new_legacy(code.clone().into());
        if self.entries.len() >= Self::MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(address, (code, hash, bytecode.clone()));
        (hash, bytecode)
    }
}

/// [`StateView`] as a [`DatabaseRef`].
pub(crate) struct StateDb<'a> {
    pub(crate) state: &'a dyn StateView,
    pub(crate) code: RefCell<&'a mut CodeCache>,
}

pub(crate) fn ledger_address(address: primitives::Address) -> Address {
    Address(address.into_array())
}

pub(crate) fn evm_address(address: &Address) -> primitives::Address {
    primitives::Address::from(address.0)
}

pub(crate) fn evm_balance(balance: ledger_core::Balance) -> U256 {
    U256::from_be_bytes(balance.to_be_bytes())
}

pub(crate) fn ledger_balance(balance: U256) -> ledger_core::Balance {
    ledger_core::Balance::from_be_bytes(balance.to_be_bytes())
}

impl DatabaseRef for StateDb<'_> {
    type Error = StateError;

    fn basic_ref(&self, address: primitives::Address) -> Result<Option<AccountInfo>, StateError> {
        let address = ledger_address(address);
        let balance = self.state.balance(&address).map_err(StateError)?;
        let nonce = self.state.nonce(&address).map_err(StateError)?;
        let code = match self.state.kind(&address).map_err(StateError)? {
            AccountKind::Contract => self.state.code(&address).map_err(StateError)?,
            AccountKind::Client => None,
        };
        let (code_hash, code) = match code {
            Some(code) if !code.is_empty() => self.code.borrow_mut().get(address, code),
            _ => (KECCAK_EMPTY, Bytecode::default()),
        };
        if balance.is_zero() && nonce == 0 && code_hash == KECCAK_EMPTY {
            return Ok(None);
        }
        Ok(Some(AccountInfo::new(
            evm_balance(balance),
            nonce,
            code_hash,
            code,
        )))
    }

    fn code_by_hash_ref(&self, _code_hash: B256) -> Result<Bytecode, StateError> {
        // `basic_ref` hands every account's code over with its info, so
        // revm never looks code up by hash.
        Ok(Bytecode::default())
    }

    fn storage_ref(
        &self,
        address: primitives::Address,
        index: StorageKey,
    ) -> Result<StorageValue, StateError> {
        let value = self
            .state
            .storage(&ledger_address(address), &index.to_be_bytes())
            .map_err(StateError)?;
        Ok(U256::from_be_bytes(value))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        Ok(self
            .state
            .block_hash(number)
            .map_err(StateError)?
            .map_or(B256::ZERO, |hash| B256::from(hash.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_cache_never_serves_other_code_than_the_state_holds() {
        let mut cache = CodeCache::default();
        let address = Address([1; 20]);
        let first = vec![0x60, 0x00, 0x56];
        let second = vec![0x5b, 0x00];
        assert_eq!(cache.get(address, first.clone()).0, keccak256(&first));
        assert_eq!(cache.get(address, first.clone()).0, keccak256(&first));
        let (hash, bytecode) = cache.get(address, second.clone());
        assert_eq!(hash, keccak256(&second));
        assert_eq!(bytecode.original_bytes().to_vec(), second);
    }
}
