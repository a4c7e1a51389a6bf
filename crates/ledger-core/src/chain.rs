//! Block production and validation, and [`Ledger`]: a chain with its
//! mempool, ready to embed.
//!
//! Time comes from the caller (`time` arguments), never from a clock, so a
//! run replays exactly from its inputs.

use crate::block::Block;
use crate::error::{BlockError, CoreError, Inconsistency};
use crate::execution::{
    all_fees_within, block_gas, estimate_fee, execute_block, execute_checked, execute_genesis,
    view_call, Applied, FeeEstimate, FeeRequest, ViewOutcome, VIEW_CALL_GAS,
};
use crate::genesis::Genesis;
use crate::mempool::{Admission, Mempool};
use crate::primitives::{Address, Balance, Hash};
use crate::sealed::{Sealable, Sealed};
use crate::settings::ChainSettings;
use crate::state::{AccountKind, BlockChanges, ChainTip, StateCommit, StateRead};
use crate::status::{ActionType, StatusCode, TransactionStatus};
use crate::transaction::{RawTransaction, Transaction, VerifiedTransaction, ViewCall};
use crate::vm::{ContractEngine, NoContracts};

/// Limits of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainConfig {
    /// Most transactions in one block.
    pub max_block_transactions: usize,
    /// Most transactions pending in the mempool.
    pub max_pending: usize,
    /// Most bytes pending in the mempool (see [`Mempool::size_of`]), so
    /// large payloads cannot exhaust memory within `max_pending`.
    pub max_pending_bytes: usize,
    /// The gas a view call may use ([`VIEW_CALL_GAS`] unless the node sets
    /// another cap).
    pub view_call_gas: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            max_block_transactions: 10_000,
            max_pending: 100_000,
            max_pending_bytes: 256 << 20,
            view_call_gas: VIEW_CALL_GAS,
        }
    }
}

/// What the producer of a block decides, beside the transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockParams {
    /// The time, seconds since the Unix epoch, from the caller's clock;
    /// the block takes the parent's if this is earlier.
    pub time: u32,
    /// Credited with the reward and the fees.
    pub coinbase: Address,
    /// The block reward (the genesis fixes it).
    pub reward: Balance,
    /// Most transactions in the block.
    pub max_transactions: usize,
    /// The chain's settings; their block gas limit bounds the fees of the
    /// block's contract transactions (see [`crate::block_gas`]).
    pub settings: ChainSettings,
}

/// Builds and executes the block after `parent` from `candidates` (in
/// order, at most `params.max_transactions`, skipping any already applied
/// or repeated, and contract transactions past the block gas limit, which
/// wait for a later block). `None` when no candidate is left: empty blocks
/// are never produced.
pub fn produce_block<S, E>(
    state: &S,
    parent: ChainTip,
    candidates: Vec<VerifiedTransaction>,
    params: BlockParams,
    engine: &mut E,
) -> Result<Option<BlockChanges>, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    produce_from(state, parent, candidates, params, engine, Applied::Unknown)
}

/// [`produce_block`], looking the candidates up in `state` only when the
/// caller does not know that none of them was applied.
fn produce_from<S, E>(
    state: &S,
    parent: ChainTip,
    candidates: Vec<VerifiedTransaction>,
    params: BlockParams,
    engine: &mut E,
    applied: Applied,
) -> Result<Option<BlockChanges>, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    let BlockParams {
        time,
        coinbase,
        reward,
        max_transactions,
        settings,
    } = params;
    let mut seen = std::collections::HashSet::new();
    let mut transactions = Vec::with_capacity(candidates.len().min(max_transactions));
    // Transfers with small fees, the common load, never need the read.
    let fit = all_fees_within(
        candidates.iter().map(|tx| &**tx.sealed()),
        settings.block_gas_limit,
    );
    let mut gas_left = settings.block_gas_limit;
    for tx in candidates {
        if transactions.len() == max_transactions {
            break;
        }
        let hash = tx.hash();
        if !seen.insert(hash) || applied.in_state(state, &hash)? {
            continue;
        }
        if !fit {
            let gas = block_gas(state, &tx)?;
            if gas > gas_left {
                continue;
            }
            gas_left -= gas;
        }
        transactions.push(tx.into_sealed());
    }
    if transactions.is_empty() {
        return Ok(None);
    }
    let block = Block {
        depth: parent.depth + 1,
        nonce: 0,
        timestamp: time.max(parent.timestamp),
        previous_block_hash: parent.hash,
        coinbase,
        transactions,
    };
    // Every transaction kept is known not to be applied, or was just
    // looked up in `state` and found not to be.
    execute_checked(
        state,
        block.seal(),
        reward,
        &settings,
        engine,
        Applied::NoneOfThem,
    )
    .map(Some)
}

/// Validates a block produced elsewhere against `state` (whose tip must be
/// its parent) and executes it: the seam a replicated consensus engine
/// drives. Checks the block rules, every signature and that no
/// transaction is applied twice, and that its contract transactions'
/// fees fit the block gas limit.
pub fn validate_block<S, E>(
    state: &S,
    block: Block,
    max_transactions: usize,
    reward: Balance,
    settings: &ChainSettings,
    engine: &mut E,
) -> Result<BlockChanges, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    let limits = (max_transactions, reward, settings);
    validate_block_knowing(state, block, limits, engine, |_| false)
}

/// [`validate_block`], not recovering again the signer of a transaction
/// for which `verified` says these exact bytes, signature included, were
/// verified already (a pending transaction of the mempool).
fn validate_block_knowing<S, E>(
    state: &S,
    block: Block,
    (max_transactions, reward, settings): (usize, Balance, &ChainSettings),
    engine: &mut E,
    verified: impl Fn(&Sealed<Transaction>) -> bool + Sync,
) -> Result<BlockChanges, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    let block = block.seal();
    let invalid = |reason| CoreError::InvalidBlock {
        hash: block.hash(),
        depth: block.depth,
        reason,
    };
    let tip = state.tip()?.ok_or_else(|| invalid(BlockError::NoGenesis))?;
    if Some(block.depth) != tip.depth.checked_add(1) {
        return Err(invalid(BlockError::Depth {
            expected: tip.depth.saturating_add(1),
        }));
    }
    if block.previous_block_hash != tip.hash {
        return Err(invalid(BlockError::Parent {
            previous: block.previous_block_hash,
            top: tip.hash,
            top_depth: tip.depth,
        }));
    }
    if block.timestamp < tip.timestamp {
        return Err(invalid(BlockError::Timestamp {
            timestamp: block.timestamp,
            parent: tip.timestamp,
        }));
    }
    if block.transactions.is_empty() {
        return Err(invalid(BlockError::Empty));
    }
    if block.transactions.len() > max_transactions {
        return Err(invalid(BlockError::TooManyTransactions {
            count: block.transactions.len(),
            max: max_transactions,
        }));
    }
    verify_signatures(&block.transactions, verified)
        .map_err(|(index, source)| invalid(BlockError::Transaction { index, source }))?;
    let limit = settings.block_gas_limit;
    let gas = if all_fees_within(block.transactions.iter().map(|tx| &**tx), limit) {
        0
    } else {
        block.transactions.iter().try_fold(0u64, |sum, tx| {
            block_gas(state, tx).map(|gas| sum.saturating_add(gas))
        })?
    };
    if gas > limit {
        return Err(invalid(BlockError::GasLimit {
            gas,
            limit: settings.block_gas_limit,
        }));
    }
    execute_block(state, block, reward, settings, engine)
}

/// Checks every signature of a block's `transactions`; the first failure in
/// block order, whichever thread found it. With the `parallel` feature the
/// checks run on every core.
fn verify_signatures(
    transactions: &[Sealed<Transaction>],
    verified: impl Fn(&Sealed<Transaction>) -> bool + Sync,
) -> Result<(), (usize, Box<CoreError>)> {
    let check = |(index, tx): (usize, &Sealed<Transaction>)| {
        if verified(tx) {
            return None;
        }
        tx.clone()
            .verify()
            .err()
            .map(|error| (index, Box::new(error)))
    };
    #[cfg(feature = "parallel")]
    let failed = {
        use rayon::prelude::*;
        transactions
            .par_iter()
            .enumerate()
            .filter_map(check)
            .min_by_key(|(index, _)| *index)
    };
    #[cfg(not(feature = "parallel"))]
    let failed = transactions.iter().enumerate().find_map(check);
    failed.map_or(Ok(()), Err)
}

/// A chain on a store, with its mempool and contract engine: what a node
/// or an embedding program drives.
///
/// ```
/// use ledger_core::{ChainConfig, Genesis, Ledger, MemoryStore, Transaction, Balance, SecretKey};
///
/// let mut ledger = Ledger::open(MemoryStore::new(), Genesis::dev(), ChainConfig::default())?;
/// let key = Genesis::dev_key();
/// let to = SecretKey::generate().address();
/// let tx = Transaction::signed(&key, to, Balance::from(100), 5, 1_735_700_000, vec![]);
/// let status = ledger.push(&tx.to_raw())?;
/// assert_eq!(status.status_code, ledger_core::StatusCode::Pending);
/// let block = ledger.produce_block(1_735_700_001, key.address())?.expect("one pending");
/// assert_eq!(block.block.depth, 1);
/// # Ok::<(), ledger_core::CoreError>(())
/// ```
pub struct Ledger<S, E = NoContracts> {
    store: S,
    genesis: Genesis,
    settings: ChainSettings,
    /// The settings still have to be stored (a chain created before they
    /// were): they go with the next block.
    store_settings: bool,
    config: ChainConfig,
    mempool: Mempool,
    engine: E,
    /// The store's tip as this ledger left it: found on open, then the
    /// tip of each block it committed. While the store's tip is still
    /// this, nothing else has written to it, so no pending transaction is
    /// applied (admission looked each up, and [`Ledger::committed`] takes
    /// a block's out of the mempool): building a block need not look them
    /// up again.
    known_tip: Option<ChainTip>,
}

impl<S: StateCommit> Ledger<S, NoContracts> {
    /// Opens the chain of `genesis` on `store` without smart contracts.
    pub fn open(store: S, genesis: Genesis, config: ChainConfig) -> Result<Self, CoreError> {
        Ledger::open_with_engine(store, genesis, config, NoContracts)
    }
}

impl<S: StateCommit, E: ContractEngine> Ledger<S, E> {
    /// Opens the chain of `genesis` on `store`: an empty store gets the
    /// genesis block and the genesis's settings; a store holding another
    /// chain, or the same chain with other settings, is refused.
    pub fn open_with_engine(
        store: S,
        genesis: Genesis,
        config: ChainConfig,
        engine: E,
    ) -> Result<Self, CoreError> {
        genesis.check()?;
        let block = genesis.block();
        let (settings, store_settings) = match store.genesis_hash()? {
            None => {
                let settings = genesis.settings.resolve();
                store.commit(&execute_genesis(block, &settings)?)?;
                (settings, false)
            }
            Some(stored) if stored != block.hash() => {
                return Err(CoreError::GenesisMismatch {
                    stored,
                    configured: block.hash(),
                })
            }
            Some(_) => match store.settings()? {
                Some(stored) if genesis.settings.accepts(&stored) => (stored, false),
                Some(stored) => {
                    return Err(CoreError::SettingsMismatch {
                        stored,
                        configured: genesis.settings,
                    })
                }
                None => (genesis.settings.resolve(), true),
            },
        };
        let known_tip = store.tip()?;
        Ok(Ledger {
            store,
            genesis,
            settings,
            store_settings,
            config,
            mempool: Mempool::new(config.max_pending, config.max_pending_bytes),
            engine,
            known_tip,
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The chain's contract settings, as stored with it.
    pub fn settings(&self) -> &ChainSettings {
        &self.settings
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The mempool.
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// The top block.
    pub fn tip(&self) -> Result<ChainTip, CoreError> {
        self.store
            .tip()?
            .ok_or(CoreError::Inconsistent(Inconsistency::NoGenesis))
    }

    /// Admission of a wire transaction: all checks of ledger-rules.md, in
    /// order. Form and signature failures are statuses, not errors; an
    /// error is a full mempool or a storage failure.
    pub fn push(&mut self, raw: &RawTransaction) -> Result<TransactionStatus, CoreError> {
        match VerifiedTransaction::from_raw(raw) {
            Ok(tx) => Ok(self.admit(tx)?.status()),
            Err(error) => Ok(TransactionStatus::from_admission_error(&error)),
        }
    }

    /// Admission of a transaction whose signature was already checked.
    pub fn admit(&mut self, tx: VerifiedTransaction) -> Result<Admission, CoreError> {
        if let Some(refusal) = self.refuse_gas(&tx)? {
            return Ok(Admission::Rejected(refusal));
        }
        self.mempool.admit(tx, &self.store)
    }

    /// Why a contract transaction's fee cannot pay for it, if it cannot:
    /// less than its intrinsic gas, or more than a block may hold
    /// (ledger-rules.md, "Inside the EVM"). Whether `to` holds code is read
    /// only when the fee fails a check: a transfer whose fee lies between
    /// the intrinsic gas and the block gas limit costs no read, one with a
    /// smaller fee (the usual transfer) costs one account read.
    fn refuse_gas(&self, tx: &VerifiedTransaction) -> Result<Option<TransactionStatus>, CoreError> {
        let create = tx.to.is_null();
        let Some(intrinsic) = self.engine.intrinsic_gas(&self.settings, create, &tx.data) else {
            return Ok(None);
        };
        let limit = self.settings.block_gas_limit;
        if (intrinsic..=limit).contains(&tx.fee) {
            return Ok(None);
        }
        let action = if create {
            ActionType::ContractCreation
        } else if self.store.account_or_default(&tx.to)?.kind == AccountKind::Contract {
            ActionType::ContractCall
        } else {
            return Ok(None);
        };
        let message = if tx.fee < intrinsic {
            format!(
                "fee {} does not cover the intrinsic gas {intrinsic} of this contract transaction",
                tx.fee
            )
        } else {
            format!("fee {} is more than the block gas limit {limit}", tx.fee)
        };
        Ok(Some(TransactionStatus {
            status_code: StatusCode::BadQueryForm,
            action_type: action,
            fee_left: tx.fee,
            message,
        }))
    }

    /// Produces, commits and returns the next block from the oldest pending
    /// transactions, at `time` (or the parent's time, if later). `None` if
    /// nothing is pending.
    pub fn produce_block(
        &mut self,
        time: u32,
        coinbase: Address,
    ) -> Result<Option<BlockChanges>, CoreError> {
        let Some(mut changes) = self.build_block(time, coinbase)? else {
            return Ok(None);
        };
        self.commit_block(&mut changes)?;
        Ok(Some(changes))
    }

    /// Validates, executes and commits a block produced elsewhere.
    pub fn import_block(&mut self, block: Block) -> Result<BlockChanges, CoreError> {
        let mut changes = self.check_block(block)?;
        self.commit_block(&mut changes)?;
        Ok(changes)
    }

    /// The next block from the oldest pending transactions, executed but
    /// not committed: [`Ledger::produce_block`] in two steps, for a caller
    /// that times or observes the commit. `None` if nothing is pending.
    pub fn build_block(
        &mut self,
        time: u32,
        coinbase: Address,
    ) -> Result<Option<BlockChanges>, CoreError> {
        let candidates = self.mempool.select(self.config.max_block_transactions);
        let params = BlockParams {
            time,
            coinbase,
            reward: self.genesis.block_reward,
            max_transactions: self.config.max_block_transactions,
            settings: self.settings,
        };
        let tip = self.tip()?;
        let applied = if self.known_tip == Some(tip) {
            Applied::NoneOfThem
        } else {
            Applied::Unknown
        };
        produce_from(
            &self.store,
            tip,
            candidates,
            params,
            &mut self.engine,
            applied,
        )
    }

    /// A block produced elsewhere, validated and executed but not
    /// committed: [`Ledger::import_block`] in two steps.
    ///
    /// A transaction pending in the mempool with the very same bytes,
    /// signature included, had its signer recovered on admission and is
    /// not recovered again: validators of a network receive most of a
    /// block's transactions before the block.
    pub fn check_block(&mut self, block: Block) -> Result<BlockChanges, CoreError> {
        let mempool = &self.mempool;
        validate_block_knowing(
            &self.store,
            block,
            (
                self.config.max_block_transactions,
                self.genesis.block_reward,
                &self.settings,
            ),
            &mut self.engine,
            |tx| {
                mempool
                    .get(&tx.hash())
                    .is_some_and(|pending| pending.sealed() == tx)
            },
        )
    }

    /// Commits changes from [`Ledger::build_block`] or
    /// [`Ledger::check_block`] (built on the current tip; the store refuses
    /// others) and takes their transactions out of the mempool.
    pub fn commit_block(&mut self, changes: &mut BlockChanges) -> Result<(), CoreError> {
        self.prepare_commit(changes);
        self.store.commit(changes)?;
        self.committed(changes);
        Ok(())
    }

    /// [`Ledger::commit_block`] in three steps, for a caller that stores
    /// the block on another thread while this one goes on admitting: this
    /// first step adds what the store must write besides the block's own
    /// changes (the chain's settings, once). Until [`Ledger::committed`],
    /// the block's transactions stay pending, so admissions count what
    /// they spend against the state before the block; build no other
    /// block meanwhile.
    pub fn prepare_commit(&self, changes: &mut BlockChanges) {
        if self.store_settings {
            changes.settings = Some(self.settings);
        }
    }

    /// The last step of [`Ledger::commit_block`], once the store has
    /// committed `changes`: their transactions leave the mempool.
    pub fn committed(&mut self, changes: &BlockChanges) {
        self.known_tip = Some(changes.tip());
        self.store_settings = false;
        self.mempool
            .remove(changes.transactions.iter().map(|(hash, _)| hash));
    }

    /// Re-checks the mempool after `changes` were committed: pending
    /// transactions of the senders the block touched that their balance
    /// no longer covers are evicted (see [`Mempool::recheck`]); returns
    /// their hashes and final statuses.
    pub fn recheck_pending(
        &mut self,
        changes: &BlockChanges,
    ) -> Result<Vec<(Hash, TransactionStatus)>, CoreError> {
        let touched = changes.accounts.iter().map(|(address, _)| *address);
        self.mempool.recheck(&self.store, touched)
    }

    /// Runs a view call read-only against the newest state
    /// ([`crate::view_call`], with the configured gas cap).
    pub fn view_call(&mut self, call: &ViewCall) -> Result<ViewOutcome, CoreError> {
        view_call(
            &self.store,
            call,
            self.config.view_call_gas,
            &self.settings,
            &mut self.engine,
        )
    }

    /// What `request` would cost as the first transaction of the next
    /// block ([`crate::estimate_fee`]), each run bounded like a view call
    /// (the configured gas cap, and the block gas limit).
    pub fn estimate_fee(&mut self, request: &FeeRequest) -> Result<FeeEstimate, CoreError> {
        estimate_fee(
            &self.store,
            request,
            &self.settings,
            self.config.view_call_gas,
            &mut self.engine,
        )
    }

    /// The block at `depth`.
    pub fn block_at(&self, depth: u64) -> Result<Option<Sealed<Block>>, CoreError> {
        self.store.block_at(depth)
    }
}
