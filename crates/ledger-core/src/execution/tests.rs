//! Settlement of contract outcomes, with a scripted engine in place of an
//! EVM: what an engine may and may not hand back to core.

use crate::testing::{genesis_for, keys, ScriptedEngine, T0};
use crate::{
    contract_address, AccountKind, Address, Balance, BlockChanges, ChainConfig, ContractChanges,
    ContractOutcome, Ledger, MemoryStore, SecretKey, StateRead, StatusCode, Transaction,
};

const FEE: u64 = 100;
const FUNDS: u64 = 1_000_000;

struct Run {
    changes: BlockChanges,
    ledger: Ledger<MemoryStore, ScriptedEngine>,
    sender: Address,
    created: Address,
}

impl Run {
    fn balance(&self, address: &Address) -> Balance {
        self.ledger
            .store()
            .account_or_default(address)
            .expect("reads")
            .balance
    }

    fn status(&self) -> &crate::TransactionStatus {
        &self.changes.transactions[0].1.status
    }

    /// Total of every balance the genesis funded or the block could touch.
    fn supply(&self) -> Balance {
        let others = keys(2, 77)[1].address();
        [
            self.sender,
            others,
            self.created,
            COINBASE,
            Address([1; 20]),
        ]
        .iter()
        .fold(Balance::ZERO, |sum, address| {
            sum.checked_add(self.balance(address)).expect("no overflow")
        })
    }
}

/// The coinbase: a third address, so fees are easy to follow.
const COINBASE: Address = Address([9; 20]);

/// A contract creation of value 0 and fee [`FEE`] by a funded key, in a
/// block whose engine answers with `outcome(sender, created)`.
fn create_with(outcome: impl FnOnce(Address, Address) -> ContractOutcome) -> Run {
    create_then(|sender, created| vec![outcome(sender, created)])
}

/// As [`create_with`], the engine scripted with `outcomes(sender,
/// created)`: the first answers the creation, the rest later calls.
fn create_then(outcomes: impl FnOnce(Address, Address) -> Vec<ContractOutcome>) -> Run {
    let keys: Vec<SecretKey> = keys(2, 77);
    let sender = keys[0].address();
    let tx = Transaction::signed(
        &keys[0],
        Address::NULL,
        Balance::ZERO,
        FEE,
        T0 + 1,
        vec![1, 2],
    );
    // The sender's nonce counts this transaction when the address is made.
    let created = contract_address(&tx.data, &sender, 1);
    let engine = ScriptedEngine::new(outcomes(sender, created));
    let mut ledger = Ledger::open_with_engine(
        MemoryStore::new(),
        genesis_for(&keys),
        ChainConfig::default(),
        engine,
    )
    .expect("opens");
    ledger.push(&tx.to_raw()).expect("admitted");
    let changes = ledger
        .produce_block(T0 + 1, COINBASE)
        .expect("produces")
        .expect("a block");
    Run {
        changes,
        ledger,
        sender,
        created,
    }
}

fn with_balances(balances: Vec<(Address, Balance)>) -> ContractChanges {
    ContractChanges {
        balances,
        ..ContractChanges::default()
    }
}

fn funds_less(amount: u64) -> Balance {
    Balance::from(FUNDS - amount)
}

#[test]
fn a_conserving_move_is_applied_and_the_gas_used_charged() {
    let run = create_with(|sender, created| {
        let mut changes = with_balances(vec![
            (sender, funds_less(500)),
            (created, Balance::from(500)),
        ]);
        changes.code = vec![(created, vec![0x60, 0x00])];
        ContractOutcome::success(Vec::new(), 40, changes)
    });
    assert_eq!(run.status().status_code, StatusCode::Success);
    assert_eq!(run.status().message, run.created.to_string());
    assert_eq!(run.status().fee_left, 40);
    assert_eq!(run.balance(&run.created), Balance::from(500));
    assert_eq!(run.balance(&run.sender), funds_less(500 + (FEE - 40)));
    let account = run
        .ledger
        .store()
        .account_or_default(&run.created)
        .expect("reads");
    assert_eq!(account.kind, AccountKind::Contract);
}

#[test]
fn an_address_named_twice_cannot_create_value() {
    // The defect: [(A, 5), (A, 15)] for an account holding 10 summed the
    // old balance twice (20 = 5 + 15) and kept the last write, creating 5.
    let run = create_with(|sender, _| {
        let changes = with_balances(vec![
            (sender, funds_less(500_000)),
            (
                sender,
                funds_less(0).checked_add(Balance::from(500_000)).unwrap(),
            ),
        ]);
        ContractOutcome::success(Vec::new(), 0, changes)
    });
    assert_eq!(run.status().status_code, StatusCode::Failed);
    assert!(
        run.status().message.contains("twice"),
        "{}",
        run.status().message
    );
    assert_eq!(run.balance(&run.sender), funds_less(FEE));
}

#[test]
fn value_created_or_destroyed_fails_the_transaction() {
    for delta in [-1i64, 1] {
        let run = create_with(|sender, created| {
            let moved = Balance::from(500);
            let to_created = if delta > 0 {
                Balance::from(501)
            } else {
                Balance::from(499)
            };
            let changes = with_balances(vec![
                (sender, Balance::from(FUNDS).checked_sub(moved).unwrap()),
                (created, to_created),
            ]);
            ContractOutcome::success(Vec::new(), 0, changes)
        });
        assert_eq!(
            run.status().status_code,
            StatusCode::Failed,
            "delta {delta}"
        );
        assert_eq!(run.balance(&run.created), Balance::ZERO);
        assert_eq!(run.balance(&run.sender), funds_less(FEE));
    }
}

#[test]
fn totals_that_overflow_fail_without_panicking() {
    let run = create_with(|_, created| {
        let changes = with_balances(vec![
            (Address([1; 20]), Balance::MAX),
            (created, Balance::MAX),
        ]);
        ContractOutcome::success(Vec::new(), 0, changes)
    });
    assert_eq!(run.status().status_code, StatusCode::Failed);
    assert_eq!(run.balance(&Address([1; 20])), Balance::ZERO);
}

#[test]
fn an_engine_that_leaves_the_caller_unable_to_pay_fails_the_transaction() {
    // Conserving, but it moves the whole balance away: the gas used could
    // not be charged. This must be a failed transaction, not a node error.
    let run = create_with(|sender, created| {
        let changes = with_balances(vec![
            (sender, Balance::ZERO),
            (created, Balance::from(FUNDS)),
        ]);
        ContractOutcome::success(Vec::new(), 0, changes)
    });
    assert_eq!(run.status().status_code, StatusCode::Failed);
    assert_eq!(run.balance(&run.sender), funds_less(FEE));
    assert_eq!(run.balance(&run.created), Balance::ZERO);
}

#[test]
fn a_revert_writes_nothing_and_charges_the_gas_used() {
    let run = create_with(|sender, created| {
        let mut outcome = ContractOutcome::revert(vec![0xde, 0xad], 30);
        // Changes on a revert are ignored whatever they say.
        outcome.changes = with_balances(vec![
            (sender, Balance::ZERO),
            (created, Balance::from(FUNDS)),
        ]);
        outcome
    });
    assert_eq!(run.status().status_code, StatusCode::Revert);
    assert_eq!(run.status().message, crate::encode_base64(&[0xde, 0xad]));
    assert_eq!(run.status().fee_left, 30);
    assert_eq!(run.balance(&run.sender), funds_less(FEE - 30));
    assert_eq!(run.balance(&run.created), Balance::ZERO);
}

#[test]
fn a_halt_charges_the_gas_used_and_a_reported_excess_is_capped() {
    let run = create_with(|_, _| ContractOutcome::halt("out of gas", u64::MAX));
    assert_eq!(run.status().status_code, StatusCode::Failed);
    assert_eq!(run.status().message, "out of gas");
    assert_eq!(run.status().fee_left, FEE, "gas left is at most the limit");
    assert_eq!(run.balance(&run.sender), funds_less(0));
}

#[test]
fn no_outcome_moves_the_supply() {
    let before = create_with(|_, _| ContractOutcome::halt("x", 0)).supply();
    let outcomes: Vec<fn(Address, Address) -> ContractOutcome> = vec![
        |s, c| {
            ContractOutcome::success(
                Vec::new(),
                0,
                with_balances(vec![(s, Balance::ZERO), (c, Balance::from(FUNDS))]),
            )
        },
        |s, _| ContractOutcome::success(Vec::new(), 0, with_balances(vec![(s, Balance::ZERO)])),
        |s, c| {
            ContractOutcome::success(
                Vec::new(),
                7,
                with_balances(vec![(s, funds_less(1)), (c, Balance::from(1))]),
            )
        },
        |_, _| ContractOutcome::revert(Vec::new(), 3),
    ];
    for outcome in outcomes {
        assert_eq!(create_with(outcome).supply(), before);
    }
}

#[test]
fn a_view_call_runs_against_a_contract_and_writes_nothing() {
    let mut run = create_then(|sender, created| {
        let deploy = ContractChanges {
            code: vec![(created, vec![0x60, 0x00])],
            ..ContractChanges::default()
        };
        let mut moving = with_balances(vec![
            (sender, Balance::ZERO),
            (created, Balance::from(FUNDS)),
        ]);
        moving.storage = vec![(created, [1; 32], [2; 32])];
        vec![
            ContractOutcome::success(Vec::new(), 0, deploy),
            ContractOutcome::success(vec![7, 7], 1, moving),
            ContractOutcome::revert(vec![9], 0),
        ]
    });
    let (sender, created) = (run.sender, run.created);
    let ledger = &mut run.ledger;

    let call = |to| crate::ViewCall {
        from: sender,
        to,
        timestamp: T0,
        message: vec![0xab],
    };
    match ledger.view_call(&call(sender)) {
        Err(crate::CoreError::NotAContract { address }) => assert_eq!(address, sender),
        other => panic!("expected not a contract, got {other:?}"),
    }
    let before = ledger.store().account_or_default(&sender).expect("reads");
    assert_eq!(
        ledger.view_call(&call(created)).expect("runs"),
        crate::ViewOutcome::Returned(vec![7, 7])
    );
    assert_eq!(
        ledger.view_call(&call(created)).expect("runs"),
        crate::ViewOutcome::Reverted {
            data: vec![9],
            reason: None
        }
    );
    assert_eq!(
        ledger.store().account_or_default(&sender).expect("reads"),
        before
    );
    assert_eq!(
        ledger.store().storage(&created, &[1; 32]).expect("reads"),
        [0; 32]
    );
}
