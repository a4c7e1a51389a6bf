//! The ledger's smart-contract engine: `ledger-core`'s [`ContractEngine`]
//! on [revm](https://github.com/bluealloy/revm), the Ethereum Virtual
//! Machine, so that code from a current Solidity compiler runs unchanged
//! (ledger-rules.md, "Inside the EVM").
//!
//! Core decides whether a transaction reaches a contract and settles the
//! fee; this crate runs the code. Each execution is one revm transaction
//! over the state core shows it ([`StateView`], which includes the block's
//! earlier transactions), with:
//!
//! - the chain's fork, chain id and block gas limit (stored with the chain);
//! - gas priced at 0 inside the EVM: the fee is core's to charge, from the
//!   gas used that this engine reports (after refunds);
//! - nonce checks off: core counts a client account's nonce itself;
//! - EIP-7825's per-transaction gas cap off: the ledger's block gas limit
//!   bounds a transaction instead;
//! - a top-level creation deployed at the ledger's contract address
//!   ([`handler`]).
//!
//! Its answer is the changes, never written here: core writes them only if
//! the execution succeeded and they move no value out of thin air.

pub mod artifact;
mod db;
mod handler;

use ledger_core::{
    BlockEnv, CallTarget, ChainSettings, ContractCall, ContractChanges, ContractEngine,
    ContractOutcome, CoreError, EvmFork, Log, StateView,
};
use revm::context::result::{EVMError, ExecutionResult, HaltReason, OutOfGasError, Output};
use revm::context::{BlockEnv as EvmBlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::cfg::gas::calculate_initial_tx_gas;
use revm::database_interface::WrapDatabaseRef;
use revm::handler::{ExecuteEvm, Handler, MainBuilder, MainContext};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Bytes, TxKind, B256, U256};
use revm::state::EvmState;

use std::cell::RefCell;

use crate::db::{evm_address, evm_balance, ledger_address, ledger_balance, CodeCache, StateDb};
use crate::handler::LedgerHandler;

/// The revm release this engine is built on, for `node_info` and logs.
pub const REVM_VERSION: &str = "43.0.3";

/// revm's rules for a ledger fork.
pub fn spec_id(fork: EvmFork) -> SpecId {
    match fork {
        EvmFork::Cancun => SpecId::CANCUN,
        EvmFork::Prague => SpecId::PRAGUE,
        EvmFork::Osaka => SpecId::OSAKA,
    }
}

/// The EVM, as a [`ContractEngine`].
///
/// ```
/// use ledger_core::{ChainConfig, Genesis, Ledger, MemoryStore};
/// use ledger_vm::Evm;
///
/// let ledger = Ledger::open_with_engine(MemoryStore::new(), Genesis::dev(), ChainConfig::default(), Evm::new())?;
/// # Ok::<(), ledger_core::CoreError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Evm {
    code: CodeCache,
}

impl Evm {
    /// The engine.
    pub fn new() -> Evm {
        Evm::default()
    }
}

impl ContractEngine for Evm {
    fn execute(
        &mut self,
        env: &BlockEnv,
        call: &ContractCall<'_>,
        state: &dyn StateView,
    ) -> Result<ContractOutcome, CoreError> {
        let spec = spec_id(env.settings.evm_fork);
        let mut cfg = CfgEnv::new_with_spec(spec);
        cfg.chain_id = env.settings.chain_id;
        cfg.disable_nonce_check = true;
        cfg.disable_block_gas_limit = true;
        cfg.tx_gas_limit_cap = Some(u64::MAX);
        let block = EvmBlockEnv {
            number: U256::from(env.depth),
            beneficiary: evm_address(&env.coinbase),
            timestamp: U256::from(env.timestamp),
            gas_limit: env.settings.block_gas_limit,
            basefee: 0,
            difficulty: U256::ZERO,
            prevrandao: Some(B256::from(env.previous_hash.0)),
            ..EvmBlockEnv::default()
        };
        let (kind, create_at) = match call.target {
            CallTarget::Create(address) => (TxKind::Create, Some(evm_address(&address))),
            CallTarget::Call(address) => (TxKind::Call(evm_address(&address)), None),
        };
        let tx = TxEnv {
            caller: evm_address(&call.caller),
            gas_limit: call.gas_limit,
            gas_price: 0,
            kind,
            value: evm_balance(call.value),
            data: Bytes::copy_from_slice(call.data),
            chain_id: Some(env.settings.chain_id),
            ..TxEnv::default()
        };
        let mut evm = Context::mainnet()
            .with_db(WrapDatabaseRef(StateDb {
                state,
                code: RefCell::new(&mut self.code),
            }))
            .with_cfg(cfg)
            .with_block(block)
            .with_tx(tx)
            .build_mainnet();
        let result = LedgerHandler::new(create_at).run(&mut evm);
        let changed = evm.finalize();
        let result = match result {
            Ok(result) => result,
            Err(EVMError::Database(error)) => return Err(error.0),
            // The transaction itself is not valid for the EVM (its fee
            // cannot pay for its intrinsic gas, in a block admitted by
            // another node): it fails and its whole fee is charged.
            Err(error) => return Ok(ContractOutcome::halt(error.to_string(), 0)),
        };
        let gas_left = call.gas_limit.saturating_sub(result.tx_gas_used());
        Ok(match result {
            ExecutionResult::Success { logs, output, .. } => {
                let output = match output {
                    Output::Call(bytes) => bytes.to_vec(),
                    Output::Create(..) => Vec::new(),
                };
                let mut changes = changes_of(changed);
                changes.logs = logs
                    .into_iter()
                    .map(|log| Log {
                        address: ledger_address(log.address),
                        topics: log.data.topics().iter().map(|topic| topic.0).collect(),
                        data: log.data.data.to_vec(),
                    })
                    .collect();
                ContractOutcome::success(output, gas_left, changes)
            }
            ExecutionResult::Revert { output, .. } => {
                ContractOutcome::revert(output.to_vec(), gas_left)
            }
            ExecutionResult::Halt { reason, .. } => {
                ContractOutcome::halt(describe_halt(&reason), gas_left)
            }
        })
    }

    fn intrinsic_gas(&self, settings: &ChainSettings, create: bool, data: &[u8]) -> Option<u64> {
        let spec = spec_id(settings.evm_fork);
        let gas = calculate_initial_tx_gas(spec, data, create, 0, 0, 0, None);
        // From Prague on a transaction also pays at least the calldata
        // floor (EIP-7623).
        let floor = if spec.is_enabled_in(SpecId::PRAGUE) {
            gas.floor_gas()
        } else {
            0
        };
        Some(gas.initial_total_gas().max(floor))
    }

    fn revert_reason(&self, data: &[u8]) -> Option<String> {
        // alloy reads empty data as an empty reason: there is none.
        alloy_sol_types::decode_revert_reason(data).filter(|reason| !reason.is_empty())
    }
}

/// The changes a successful execution made, as core takes them: balances
/// that moved, code of created contracts, written storage slots, and the
/// nonces of accounts that hold code. A contract created and destroyed in
/// the same transaction leaves only its balance (zero) behind.
fn changes_of(changed: EvmState) -> ContractChanges {
    let mut changes = ContractChanges::default();
    for (address, account) in changed {
        let ledger = ledger_address(address);
        let original = account.original_info();
        if account.info.balance != original.balance {
            changes
                .balances
                .push((ledger, ledger_balance(account.info.balance)));
        }
        if account.is_selfdestructed() {
            continue;
        }
        let code = account
            .info
            .code
            .as_ref()
            .map(|code| code.original_bytes())
            .filter(|code| !code.is_empty());
        if account.is_created() {
            if let Some(code) = &code {
                changes.code.push((ledger, code.to_vec()));
            }
        }
        if code.is_some() && account.info.nonce != original.nonce {
            changes.nonces.push((ledger, account.info.nonce));
        }
        for (slot, value) in account.changed_storage_slots() {
            changes.storage.push((
                ledger,
                slot.to_be_bytes(),
                value.present_value.to_be_bytes(),
            ));
        }
    }
    changes
}

/// A halt, for people.
fn describe_halt(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::Basic | OutOfGasError::ReentrancySentry) => {
            "out of gas".to_owned()
        }
        HaltReason::OutOfGas(OutOfGasError::Memory | OutOfGasError::MemoryLimit) => {
            "out of gas: memory".to_owned()
        }
        HaltReason::OutOfGas(other) => format!("out of gas: {other:?}"),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".to_owned(),
        HaltReason::NotActivated => "invalid opcode: not active in this chain's fork".to_owned(),
        HaltReason::InvalidJump => "invalid jump destination".to_owned(),
        HaltReason::StackUnderflow => "stack underflow".to_owned(),
        HaltReason::StackOverflow => "stack overflow".to_owned(),
        HaltReason::CreateCollision => "a contract already exists at the address".to_owned(),
        HaltReason::CreateContractSizeLimit => {
            "the deployed code is larger than the limit (EIP-170)".to_owned()
        }
        HaltReason::CreateInitCodeSizeLimit => {
            "the init code is larger than the limit (EIP-3860)".to_owned()
        }
        HaltReason::OutOfFunds => "out of funds".to_owned(),
        other => format!("halted: {other:?}"),
    }
}
