//! What a transaction will cost: the smallest fee the rules accept for it
//! as the first transaction of the next block, found as Ethereum's
//! `eth_estimateGas` finds it (api-extensions.md, `estimate_fee`).
//!
//! A contract creation or call pays its fee as its gas limit, and a limit
//! too low fails the transaction and keeps the fee. So the estimate runs
//! the transaction, unsigned and writing nothing, first at the highest
//! limit allowed, then at what that run used (enough for most
//! transactions: two runs), then a little above it, then searches
//! between the highest limit that failed and the lowest that succeeded
//! until they meet: a dozen runs at most for those, each bounded like a
//! view call.

use super::{refuse_balances, refuse_nonces, Overlay};
use crate::error::{CoreError, Inconsistency};
use crate::execution::{contract_address, ViewOutcome};
use crate::primitives::{Address, Balance};
use crate::settings::ChainSettings;
use crate::state::{AccountKind, StateRead};
use crate::status::ActionType;
use crate::vm::{BlockEnv, CallTarget, ContractCall, ContractEngine, ContractResult};

/// A transaction to estimate. It is not signed: it changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeRequest {
    /// The sender.
    pub from: Address,
    /// The receiver; [`Address::NULL`] for a contract creation.
    pub to: Address,
    /// The amount moved.
    pub amount: Balance,
    /// Call data, or init code for a creation.
    pub data: Vec<u8>,
}

/// What an estimate found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeeEstimate {
    /// The transaction succeeds with `fee` as its fee, the smallest that
    /// does, using `gas_used` of it; `runs` executions found it.
    Fits {
        /// What it would be.
        action: ActionType,
        /// The smallest fee that succeeds (0 for a transfer).
        fee: u64,
        /// What that run used.
        gas_used: u64,
        /// How many executions the search took.
        runs: u32,
    },
    /// It fails even with `cap` as its fee: how, as a view call says it.
    Fails {
        /// What it would be.
        action: ActionType,
        /// The highest fee tried.
        cap: u64,
        /// The revert or halt.
        outcome: ViewOutcome,
    },
    /// It would succeed with `fee`, but the sender's balance does not cover
    /// `amount` and that fee.
    Unaffordable {
        /// What it would be.
        action: ActionType,
        /// The sender's balance.
        balance: Balance,
        /// The amount asked for.
        amount: Balance,
        /// The fee it needs.
        fee: u64,
    },
}

/// How one run at a gas limit went.
enum Trial {
    /// Succeeded, using this much gas.
    Fits(u64),
    /// Failed: reverted, halted, or its changes could not be settled.
    Fails(ViewOutcome),
}

/// The transaction, ready to run at any gas limit on the newest state.
struct Runner<'a, S: ?Sized, E: ?Sized> {
    state: &'a S,
    engine: &'a mut E,
    env: BlockEnv,
    request: &'a FeeRequest,
    target: CallTarget,
    /// The sender's nonce once this transaction counts.
    nonce: u64,
    runs: u32,
}

impl<S: StateRead + ?Sized, E: ContractEngine + ?Sized> Runner<'_, S, E> {
    /// Runs the transaction with `gas` as its limit, as execution would,
    /// and drops whatever it changed.
    fn run(&mut self, gas: u64) -> Result<Trial, CoreError> {
        self.runs += 1;
        let mut overlay = Overlay::new(self.state);
        overlay.account_mut(self.request.from)?.nonce = self.nonce;
        let call = ContractCall {
            caller: self.request.from,
            target: self.target,
            value: self.request.amount,
            data: &self.request.data,
            gas_limit: gas,
        };
        let outcome = self.engine.execute(&self.env, &call, &overlay)?;
        let used = gas - outcome.gas_left.min(gas);
        let changes = match outcome.result {
            ContractResult::Success { .. } => outcome.changes,
            ContractResult::Revert { output } => {
                return Ok(Trial::Fails(ViewOutcome::Reverted {
                    reason: self.engine.revert_reason(&output),
                    data: output,
                }))
            }
            ContractResult::Halt { reason } => {
                return Ok(Trial::Fails(ViewOutcome::Halted(reason)))
            }
        };
        // Whether the sender can pay is asked once, of the fee found
        // (`Unaffordable`): a trial checks only what the engine did.
        let refused =
            match refuse_balances(&overlay, &call.caller, Balance::ZERO, &changes.balances)? {
                Some(reason) => Some(reason),
                None => refuse_nonces(&overlay, &changes)?,
            };
        Ok(match refused {
            Some(reason) => Trial::Fails(ViewOutcome::Halted(reason)),
            None => Trial::Fits(used),
        })
    }
}

/// The smallest fee `request` succeeds with as the first transaction of
/// the block after the newest stored one: for a transfer to a client
/// account 0 (the rules set no minimum); for a contract creation or call
/// the smallest gas limit from its intrinsic gas up to `cap` (the block
/// gas limit, or less) at which it neither runs out of gas nor fails.
/// Nothing is written.
pub fn estimate_fee<S, E>(
    state: &S,
    request: &FeeRequest,
    settings: &ChainSettings,
    cap: u64,
    engine: &mut E,
) -> Result<FeeEstimate, CoreError>
where
    S: StateRead + ?Sized,
    E: ContractEngine + ?Sized,
{
    let overlay = Overlay::new(state);
    let sender = overlay.get(&request.from)?;
    let action = if request.to.is_null() {
        ActionType::ContractCreation
    } else if overlay.get(&request.to)?.kind == AccountKind::Contract {
        ActionType::ContractCall
    } else {
        ActionType::Transfer
    };
    let affordable = |fee: u64, gas_used: u64, runs: u32| {
        let covered = request
            .amount
            .checked_add(Balance::from(fee))
            .is_some_and(|cost| cost <= sender.balance);
        if covered {
            FeeEstimate::Fits {
                action,
                fee,
                gas_used,
                runs,
            }
        } else {
            FeeEstimate::Unaffordable {
                action,
                balance: sender.balance,
                amount: request.amount,
                fee,
            }
        }
    };
    if action == ActionType::Transfer {
        return Ok(affordable(0, 0, 0));
    }
    let cap = cap.min(settings.block_gas_limit);
    let create = action == ActionType::ContractCreation;
    let Some(intrinsic) = engine.intrinsic_gas(settings, create, &request.data) else {
        return Ok(FeeEstimate::Fails {
            action,
            cap,
            outcome: ViewOutcome::Halted("this node runs no contracts".to_owned()),
        });
    };
    if intrinsic > cap {
        return Ok(FeeEstimate::Fails {
            action,
            cap,
            outcome: ViewOutcome::Halted(format!(
                "its intrinsic gas {intrinsic} is more than the {cap} a block allows"
            )),
        });
    }
    let tip = state
        .tip()?
        .ok_or(CoreError::Inconsistent(Inconsistency::NoGenesis))?;
    let nonce = sender.nonce.saturating_add(1);
    let target = match action {
        ActionType::ContractCreation => {
            CallTarget::Create(contract_address(&request.data, &request.from, nonce))
        }
        _ => CallTarget::Call(request.to),
    };
    let mut runner = Runner {
        state,
        engine,
        env: BlockEnv {
            depth: tip.depth.saturating_add(1),
            timestamp: tip.timestamp,
            coinbase: Address::NULL,
            previous_hash: tip.hash,
            settings: *settings,
        },
        request,
        target,
        nonce,
        runs: 0,
    };
    let used = match runner.run(cap)? {
        Trial::Fits(used) => used,
        Trial::Fails(outcome) => {
            return Ok(FeeEstimate::Fails {
                action,
                cap,
                outcome,
            })
        }
    };
    // `lo` fails (below what the run at the cap used, the transaction
    // runs out of gas), `hi` fits: search between them.
    let (mut lo, mut hi, mut hi_used) = (used.max(intrinsic).saturating_sub(1), cap, used);
    // Most transactions need exactly what they use: try that first, and
    // the search is over. Those that need more need little more (what the
    // 63/64 rule keeps back for a call, a refund given back only at the
    // end): try that next, so the search covers a small range (a dozen runs at most).
    let optimistic = used.saturating_add(2_300).saturating_mul(64) / 63;
    for guess in [used, optimistic] {
        if guess > lo && guess < hi {
            match runner.run(guess)? {
                Trial::Fits(used) => (hi, hi_used) = (guess, used),
                Trial::Fails(_) => lo = guess,
            }
        }
    }
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        match runner.run(mid)? {
            Trial::Fits(used) => (hi, hi_used) = (mid, used),
            Trial::Fails(_) => lo = mid,
        }
    }
    Ok(affordable(hi, hi_used, runner.runs))
}
