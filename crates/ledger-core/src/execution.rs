//! Applying a block to the state (ledger-rules.md, "Admission and execution").
//!
//! [`execute_block`] is a pure function of the state before the block and
//! the block: it reads through [`StateRead`], collects every change in an
//! overlay and returns them as one [`BlockChanges`], which a store commits
//! atomically. Nothing is written while a block executes, so a failure
//! half-way leaves nothing half-applied.

use std::collections::{HashMap, HashSet};

use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

use crate::block::Block;
use crate::error::{BlockError, CoreError, Inconsistency};
use crate::primitives::{encode_base64, Address, Balance, Hash};
use crate::sealed::Sealed;
use crate::settings::ChainSettings;
use crate::state::{
    Account, AccountKind, BlockChanges, ListAppend, Log, StateRead, TransactionRecord,
};
use crate::status::{ActionType, StatusCode, TransactionStatus};
use crate::transaction::{Transaction, ViewCall};
use crate::vm::{
    BlockEnv, CallTarget, ContractCall, ContractChanges, ContractEngine, ContractOutcome,
    ContractResult, StateView,
};

/// The address of a contract created by `from` with init code `data`, when
/// `from`'s nonce (already counting this transaction) is `nonce`:
/// ripemd160(sha256(data) ‖ from ‖ decimal nonce).
pub fn contract_address(data: &[u8], from: &Address, nonce: u64) -> Address {
    let mut hasher = Ripemd160::new();
    hasher.update(Sha256::digest(data));
    hasher.update(from.0);
    hasher.update(nonce.to_string().as_bytes());
    Address(hasher.finalize().into())
}

/// Changes collected over the state while a block executes.
struct Overlay<'s, S: ?Sized> {
    state: &'s S,
    accounts: HashMap<Address, Account>,
    lists: HashMap<Address, ListAppend>,
    code: HashMap<Address, Vec<u8>>,
    storage: HashMap<(Address, [u8; 32]), [u8; 32]>,
    logs: Vec<(Hash, Vec<Log>)>,
    creators: Vec<(Address, Hash)>,
}

impl<'s, S: StateRead + ?Sized> Overlay<'s, S> {
    fn new(state: &'s S) -> Self {
        Overlay {
            state,
            accounts: HashMap::new(),
            lists: HashMap::new(),
            code: HashMap::new(),
            storage: HashMap::new(),
            logs: Vec::new(),
            creators: Vec::new(),
        }
    }

    fn get(&self, address: &Address) -> Result<Account, CoreError> {
        match self.accounts.get(address) {
            Some(account) => Ok(*account),
            None => self.state.account_or_default(address),
        }
    }

    fn account_mut(&mut self, address: Address) -> Result<&mut Account, CoreError> {
        if !self.accounts.contains_key(&address) {
            let account = self.state.account_or_default(&address)?;
            self.accounts.insert(address, account);
        }
        Ok(self.accounts.entry(address).or_default())
    }

    fn credit(&mut self, address: Address, amount: Balance) -> Result<(), CoreError> {
        let account = self.account_mut(address)?;
        account.balance = account
            .balance
            .checked_add(amount)
            .ok_or(CoreError::BalanceOverflow { address })?;
        Ok(())
    }

    /// Debits an amount the caller has checked is covered.
    fn debit(&mut self, address: Address, amount: Balance) -> Result<(), CoreError> {
        let account = self.account_mut(address)?;
        account.balance = account
            .balance
            .checked_sub(amount)
            .ok_or(CoreError::Inconsistent(Inconsistency::Debit {
                address,
                amount,
            }))?;
        Ok(())
    }

    fn append(&mut self, address: Address, hash: Hash) -> Result<(), CoreError> {
        let account = self.account_mut(address)?;
        let first_index = account.transaction_count;
        account.transaction_count += 1;
        self.lists
            .entry(address)
            .or_insert_with(|| ListAppend {
                address,
                first_index,
                hashes: Vec::new(),
            })
            .hashes
            .push(hash);
        Ok(())
    }

    fn finish(
        self,
        block: Sealed<Block>,
        records: Vec<(Hash, TransactionRecord)>,
        settings: Option<ChainSettings>,
    ) -> BlockChanges {
        let mut accounts: Vec<_> = self.accounts.into_iter().collect();
        accounts.sort_unstable_by_key(|(address, _)| *address);
        let mut lists: Vec<_> = self.lists.into_values().collect();
        lists.sort_unstable_by_key(|append| append.address);
        let mut code: Vec<_> = self.code.into_iter().collect();
        code.sort_unstable_by_key(|(address, _)| *address);
        let mut storage: Vec<_> = self
            .storage
            .into_iter()
            .map(|((address, slot), value)| (address, slot, value))
            .collect();
        storage.sort_unstable();
        BlockChanges {
            block,
            accounts,
            lists,
            transactions: records,
            code,
            storage,
            logs: self.logs,
            creators: self.creators,
            settings,
            decision: None,
        }
    }
}

impl<S: StateRead + ?Sized> StateView for Overlay<'_, S> {
    fn balance(&self, address: &Address) -> Result<Balance, CoreError> {
        Ok(self.get(address)?.balance)
    }

    fn nonce(&self, address: &Address) -> Result<u64, CoreError> {
        Ok(self.get(address)?.nonce)
    }

    fn kind(&self, address: &Address) -> Result<AccountKind, CoreError> {
        Ok(self.get(address)?.kind)
    }

    fn code(&self, address: &Address) -> Result<Option<Vec<u8>>, CoreError> {
        match self.code.get(address) {
            Some(code) => Ok(Some(code.clone())),
            None => self.state.code(address),
        }
    }

    fn storage(&self, address: &Address, slot: &[u8; 32]) -> Result<[u8; 32], CoreError> {
        match self.storage.get(&(*address, *slot)) {
            Some(value) => Ok(*value),
            None => self.state.storage(address, slot),
        }
    }

    fn block_hash(&self, depth: u64) -> Result<Option<Hash>, CoreError> {
        self.state.block_hash_at(depth)
    }
}

/// The gas a transaction counts against its block's gas limit: its fee if
/// it is a contract transaction by the state before the block (`to` is
/// the null address or holds code), nothing otherwise. Deciding by the
/// state before the block keeps the rule the same for a producer choosing
/// transactions and a validator checking them.
pub fn block_gas<S: StateRead + ?Sized>(state: &S, tx: &Transaction) -> Result<u64, CoreError> {
    let contract =
        tx.to.is_null() || state.account_or_default(&tx.to)?.kind == AccountKind::Contract;
    Ok(if contract { tx.fee } else { 0 })
}

/// Whether the fees of `transactions`, all of them, add up to at most
/// `limit`: then their contract transactions' fees do too, and no
/// [`block_gas`] (a state read per transaction) is needed.
pub(crate) fn all_fees_within<'t>(
    transactions: impl IntoIterator<Item = &'t Transaction>,
    limit: u64,
) -> bool {
    transactions
        .into_iter()
        .try_fold(0u64, |sum, tx| sum.checked_add(tx.fee))
        .is_some_and(|sum| sum <= limit)
}

/// Applies `block` on top of `state`, whose tip must be its parent, and
/// returns every change it makes. The state itself is not touched.
///
/// Fails, changing nothing, if the block holds a transaction already
/// applied in the chain or twice in itself (a transaction is never applied
/// twice), or if the storage fails. Signatures are not checked here: the
/// caller passes blocks whose transactions it verified ([`crate::chain`]).
pub fn execute_block<S, E>(
    state: &S,
    block: Sealed<Block>,
    reward: Balance,
    settings: &ChainSettings,
    engine: &mut E,
) -> Result<BlockChanges, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    execute_checked(state, block, reward, settings, engine, Applied::Unknown)
}

/// What the caller of [`execute_checked`] knows of whether the block's
/// transactions were applied before it.
#[derive(Clone, Copy)]
pub(crate) enum Applied {
    /// Nothing: every transaction is looked up in the state.
    Unknown,
    /// None of them was: the caller looked every one up in this same
    /// state a moment ago ([`crate::produce_block`], which skips the
    /// applied), or they come from the mempool of the ledger that wrote
    /// every block of the state since they were admitted ([`Ledger`]).
    ///
    /// [`Ledger`]: crate::Ledger
    NoneOfThem,
}

impl Applied {
    /// Whether `hash` was applied in `state`: read there only when
    /// nothing is known (a read per transaction: on a loaded node, a few
    /// microseconds each).
    pub(crate) fn in_state<S: StateRead + ?Sized>(
        self,
        state: &S,
        hash: &Hash,
    ) -> Result<bool, CoreError> {
        match self {
            Applied::Unknown => Ok(state.transaction(hash)?.is_some()),
            Applied::NoneOfThem => Ok(false),
        }
    }
}

/// [`execute_block`], reading whether a transaction was applied before
/// only when the caller does not know ([`Applied::in_state`]).
pub(crate) fn execute_checked<S, E>(
    state: &S,
    block: Sealed<Block>,
    reward: Balance,
    settings: &ChainSettings,
    engine: &mut E,
    applied: Applied,
) -> Result<BlockChanges, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    let mut overlay = Overlay::new(state);
    let env = BlockEnv {
        depth: block.depth,
        timestamp: block.timestamp,
        coinbase: block.coinbase,
        previous_hash: block.previous_block_hash,
        settings: *settings,
    };
    overlay.credit(block.coinbase, reward)?;
    let mut seen = HashSet::with_capacity(block.transactions.len());
    let mut records = Vec::with_capacity(block.transactions.len());
    for (index, tx) in block.transactions.iter().enumerate() {
        let hash = tx.hash();
        if !seen.insert(hash) || applied.in_state(state, &hash)? {
            return Err(CoreError::InvalidBlock {
                hash: block.hash(),
                depth: block.depth,
                reason: BlockError::AppliedTwice { hash },
            });
        }
        let status = execute_transaction(&mut overlay, &env, tx, engine)?;
        records.push((
            hash,
            TransactionRecord {
                block_depth: block.depth,
                index: u32::try_from(index).map_err(|_| CoreError::InvalidBlock {
                    hash: block.hash(),
                    depth: block.depth,
                    reason: BlockError::TooManyTransactions {
                        count: block.transactions.len(),
                        max: u32::MAX as usize,
                    },
                })?,
                status,
            },
        ));
    }
    Ok(overlay.finish(block, records, None))
}

/// How a read-only call of a contract ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViewOutcome {
    /// It returned this data.
    Returned(Vec<u8>),
    /// It reverted.
    Reverted {
        /// The revert data.
        data: Vec<u8>,
        /// What the data says, when the engine can decode it.
        reason: Option<String>,
    },
    /// It halted (out of gas, invalid opcode, no engine), for this reason.
    Halted(String),
}

/// The gas a view call may use unless the node sets another cap
/// (ledger-rules.md, "Inside the EVM").
pub const VIEW_CALL_GAS: u64 = 50_000_000;

/// Runs `call` read-only against the newest stored state, as if in the
/// block after the tip, with value 0 and `gas` as its limit. Nothing is
/// written: whatever the engine answers, its changes are dropped.
///
/// Fails with [`CoreError::NotAContract`] when the target holds no code.
pub fn view_call<S, E>(
    state: &S,
    call: &ViewCall,
    gas: u64,
    settings: &ChainSettings,
    engine: &mut E,
) -> Result<ViewOutcome, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    let overlay = Overlay::new(state);
    if overlay.get(&call.to)?.kind != AccountKind::Contract {
        return Err(CoreError::NotAContract { address: call.to });
    }
    let tip = state
        .tip()?
        .ok_or(CoreError::Inconsistent(Inconsistency::NoGenesis))?;
    let env = BlockEnv {
        depth: tip.depth.saturating_add(1),
        timestamp: tip.timestamp,
        coinbase: Address::NULL,
        previous_hash: tip.hash,
        settings: *settings,
    };
    let request = ContractCall {
        caller: call.from,
        target: CallTarget::Call(call.to),
        value: Balance::ZERO,
        data: &call.message,
        gas_limit: gas,
    };
    let outcome = engine.execute(&env, &request, &overlay)?;
    Ok(match outcome.result {
        ContractResult::Success { output } => ViewOutcome::Returned(output),
        ContractResult::Revert { output } => ViewOutcome::Reverted {
            reason: engine.revert_reason(&output),
            data: output,
        },
        ContractResult::Halt { reason } => ViewOutcome::Halted(reason),
    })
}

/// Applies the genesis block: credits its allocations and records them,
/// with the chain's settings; nothing else (no reward, no nonces, no
/// account lists).
pub fn execute_genesis(
    block: Sealed<Block>,
    settings: &ChainSettings,
) -> Result<BlockChanges, CoreError> {
    let empty = crate::state::MemoryStore::new();
    let mut overlay = Overlay::new(&empty);
    let mut records = Vec::with_capacity(block.transactions.len());
    for (index, tx) in block.transactions.iter().enumerate() {
        overlay.credit(tx.to, tx.amount)?;
        let record = TransactionRecord {
            block_depth: 0,
            index: index as u32,
            status: TransactionStatus {
                status_code: StatusCode::Success,
                action_type: ActionType::Transfer,
                fee_left: 0,
                message: String::new(),
            },
        };
        records.push((tx.hash(), record));
    }
    Ok(overlay.finish(block, records, Some(*settings)))
}

fn status(
    status_code: StatusCode,
    action_type: ActionType,
    fee_left: u64,
    message: String,
) -> TransactionStatus {
    TransactionStatus {
        status_code,
        action_type,
        fee_left,
        message,
    }
}

fn execute_transaction<S, E>(
    overlay: &mut Overlay<'_, S>,
    env: &BlockEnv,
    tx: &Sealed<Transaction>,
    engine: &mut E,
) -> Result<TransactionStatus, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    let hash = tx.hash();
    let sender = overlay.account_mut(tx.from)?;
    sender.nonce =
        sender
            .nonce
            .checked_add(1)
            .ok_or(CoreError::Inconsistent(Inconsistency::Nonce {
                address: tx.from,
            }))?;
    let nonce = sender.nonce;
    let balance = sender.balance;
    overlay.append(tx.from, hash)?;

    let action = if tx.to.is_null() {
        ActionType::ContractCreation
    } else if overlay.get(&tx.to)?.kind == AccountKind::Contract {
        ActionType::ContractCall
    } else {
        ActionType::Transfer
    };
    if action != ActionType::ContractCreation && tx.to != tx.from {
        overlay.append(tx.to, hash)?;
    }

    let fee = Balance::from(tx.fee);
    let covered = tx
        .amount
        .checked_add(fee)
        .is_some_and(|cost| cost <= balance);
    if !covered {
        let message = format!(
            "balance {balance} of {} does not cover amount {} + fee {}",
            tx.from, tx.amount, tx.fee
        );
        return Ok(status(
            StatusCode::NotEnoughBalance,
            action,
            tx.fee,
            message,
        ));
    }

    if action == ActionType::Transfer {
        overlay.debit(tx.from, tx.amount.checked_add(fee).unwrap_or(Balance::MAX))?;
        overlay.credit(tx.to, tx.amount)?;
        overlay.credit(env.coinbase, fee)?;
        return Ok(status(StatusCode::Success, action, 0, String::new()));
    }

    let target = match action {
        ActionType::ContractCreation => {
            CallTarget::Create(contract_address(&tx.data, &tx.from, nonce))
        }
        _ => CallTarget::Call(tx.to),
    };
    let call = ContractCall {
        caller: tx.from,
        target,
        value: tx.amount,
        data: &tx.data,
        gas_limit: tx.fee,
    };
    let outcome = engine.execute(env, &call, &*overlay)?;
    let gas_left = outcome.gas_left.min(tx.fee);
    let charge = Balance::from(tx.fee - gas_left);
    let (code, message) = settle_contract(overlay, hash, &call, outcome, charge)?;
    overlay.debit(tx.from, charge)?;
    overlay.credit(env.coinbase, charge)?;
    Ok(status(code, action, gas_left, message))
}

/// Writes a contract outcome's changes into the overlay if it succeeded and
/// its balances can be settled (see [`refuse_balances`]), leaving the
/// caller able to pay `charge` for the gas used; returns the status code
/// and message.
fn settle_contract<S: StateRead + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    hash: Hash,
    call: &ContractCall<'_>,
    outcome: ContractOutcome,
    charge: Balance,
) -> Result<(StatusCode, String), CoreError> {
    let output = match outcome.result {
        ContractResult::Revert { output } => {
            return Ok((StatusCode::Revert, encode_base64(&output)))
        }
        ContractResult::Halt { reason } => return Ok((StatusCode::Failed, reason)),
        ContractResult::Success { output } => output,
    };
    let changes = outcome.changes;
    if let Some(reason) = refuse_balances(overlay, &call.caller, charge, &changes.balances)? {
        return Ok((StatusCode::Failed, reason));
    }
    if let Some(reason) = refuse_nonces(overlay, &changes)? {
        return Ok((StatusCode::Failed, reason));
    }
    for (address, balance) in changes.balances {
        overlay.account_mut(address)?.balance = balance;
    }
    for (address, code) in changes.code {
        overlay.account_mut(address)?.kind = AccountKind::Contract;
        overlay.code.insert(address, code);
        overlay.creators.push((address, hash));
    }
    for (address, slot, value) in changes.storage {
        overlay.storage.insert((address, slot), value);
    }
    for (address, nonce) in changes.nonces {
        overlay.account_mut(address)?.nonce = nonce;
    }
    if !changes.logs.is_empty() {
        overlay.logs.push((hash, changes.logs));
    }
    let message = match call.target {
        CallTarget::Create(address) => {
            overlay.append(address, hash)?;
            address.to_string()
        }
        CallTarget::Call(_) => encode_base64(&output),
    };
    Ok((StatusCode::Success, message))
}

/// Why an engine's new nonces cannot be kept, if they cannot: core counts
/// the nonces of client accounts itself, so an engine may only set those
/// of accounts that hold code after the call.
fn refuse_nonces<S: StateRead + ?Sized>(
    overlay: &Overlay<'_, S>,
    changes: &ContractChanges,
) -> Result<Option<String>, CoreError> {
    for (address, _) in &changes.nonces {
        let deployed = changes.code.iter().any(|(to, _)| to == address);
        if !deployed && overlay.get(address)?.kind != AccountKind::Contract {
            return Ok(Some(format!(
                "contract engine set the nonce of {address}, which holds no code"
            )));
        }
    }
    Ok(None)
}

/// Why an engine's new balances cannot be settled, if they cannot. Core
/// trusts an engine to run code, never to create or destroy value: each
/// address may appear once (a second entry would be counted against the
/// old balance twice while the last write won), the totals before and
/// after must be equal, and the caller must still cover `charge`, the gas
/// it pays after the execution.
fn refuse_balances<S: StateRead + ?Sized>(
    overlay: &Overlay<'_, S>,
    caller: &Address,
    charge: Balance,
    balances: &[(Address, Balance)],
) -> Result<Option<String>, CoreError> {
    let mut seen = HashSet::with_capacity(balances.len());
    let (mut before, mut after) = (Balance::ZERO, Balance::ZERO);
    for (address, new) in balances {
        if !seen.insert(*address) {
            return Ok(Some(format!(
                "contract engine reported the balance of {address} twice"
            )));
        }
        let old = overlay.get(address)?.balance;
        // Distinct balances add up to at most the supply, which fits.
        before = before
            .checked_add(old)
            .ok_or(CoreError::Inconsistent(Inconsistency::Supply))?;
        let Some(total) = after.checked_add(*new) else {
            return Ok(Some(format!(
                "contract engine's balances add up past {}",
                Balance::MAX
            )));
        };
        after = total;
    }
    if before != after {
        return Ok(Some(format!(
            "contract engine changed total balances from {before} to {after}"
        )));
    }
    let caller_after = match balances.iter().find(|(address, _)| address == caller) {
        Some((_, balance)) => *balance,
        None => overlay.get(caller)?.balance,
    };
    if caller_after < charge {
        return Ok(Some(format!(
            "contract engine left {caller} with {caller_after}, less than the {charge} of gas it used"
        )));
    }
    Ok(None)
}

mod estimate;
pub use estimate::{estimate_fee, FeeEstimate, FeeRequest};

#[cfg(test)]
mod tests;
