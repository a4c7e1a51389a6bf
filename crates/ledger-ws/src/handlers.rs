//! The v1 API's reads, as functions of the stored state: a command in, an
//! answer or a [`RequestError`] out, with no socket, session or chain
//! service in sight. The connection decides when and where they run.

use ledger_core::{
    encode_base64, Account, Address, ChainTip, Hash, RawBlock, RawTransaction, StateRead,
    TransactionStatus, ViewOutcome,
};

use crate::protocol::{AccountInfo, BlockRef, TransactionLogs, WireLog};
use crate::request_error::RequestError;

/// The top block.
pub(crate) fn tip<S: StateRead + ?Sized>(state: &S) -> Result<ChainTip, RequestError> {
    state.tip()?.ok_or(RequestError::NoGenesis)
}

/// An account and its whole transaction list; with `account` given (from
/// a block event), the list is read up to that block's length.
pub(crate) fn account_info<S: StateRead + ?Sized>(
    state: &S,
    address: &Address,
    account: Option<Account>,
) -> Result<AccountInfo, RequestError> {
    let account = match account {
        Some(account) => account,
        None => state.account_or_default(address)?,
    };
    let length = usize::try_from(account.transaction_count).unwrap_or(usize::MAX);
    let hashes = state.account_transactions(address, 0, length)?;
    Ok(AccountInfo::new(*address, account, hashes))
}

/// A block by hash or depth.
pub(crate) fn find_block<S: StateRead + ?Sized>(
    state: &S,
    by: BlockRef,
) -> Result<RawBlock, RequestError> {
    let block = match by {
        BlockRef::Hash(hash) => state.block(&hash)?,
        BlockRef::Number(depth) => state.block_at(depth)?,
    };
    match block {
        Some(block) => Ok(block.to_raw()),
        None => Err(RequestError::BlockNotFound {
            by,
            top: tip(state)?.depth,
        }),
    }
}

/// An applied transaction, from its block.
pub(crate) fn find_transaction<S: StateRead + ?Sized>(
    state: &S,
    hash: Hash,
) -> Result<RawTransaction, RequestError> {
    let Some(record) = state.transaction(&hash)? else {
        return Err(RequestError::TransactionNotFound { hash });
    };
    state
        .block_at(record.block_depth)?
        .and_then(|block| {
            let index = usize::try_from(record.index).ok()?;
            block.transactions.get(index).map(|tx| tx.to_raw())
        })
        .ok_or(RequestError::TransactionNotFound { hash })
}

/// The final status of an applied transaction, if it is applied.
pub(crate) fn stored_status<S: StateRead + ?Sized>(
    state: &S,
    hash: &Hash,
) -> Result<Option<TransactionStatus>, RequestError> {
    Ok(state.transaction(hash)?.map(|record| record.status))
}

/// The logs of an applied transaction; `not_found` for an unknown or
/// pending one.
pub(crate) fn find_transaction_logs<S: StateRead + ?Sized>(
    state: &S,
    hash: Hash,
) -> Result<TransactionLogs, RequestError> {
    if state.transaction(&hash)?.is_none() {
        return Err(RequestError::TransactionNotFound { hash });
    }
    let logs = state.logs(&hash)?;
    Ok(TransactionLogs {
        logs: logs.iter().map(WireLog::from).collect(),
    })
}

/// The answer to a view call: base64 of what it returned, or
/// `execution_failed` with the revert data (`""` when none).
pub(crate) fn view_answer(outcome: ViewOutcome) -> Result<String, RequestError> {
    let (reason, data) = match outcome {
        ViewOutcome::Returned(output) => return Ok(encode_base64(&output)),
        ViewOutcome::Reverted { data, reason } => (
            reason.unwrap_or_else(|| "the view call reverted".to_owned()),
            data,
        ),
        ViewOutcome::Halted(reason) => (reason, Vec::new()),
        other => (format!("the view call failed: {other:?}"), Vec::new()),
    };
    Err(RequestError::ViewFailed {
        reason,
        data: encode_base64(&data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::{ChainConfig, Genesis, Ledger, MemoryStore, Transaction};

    fn chain() -> (Ledger<MemoryStore>, Transaction) {
        let mut ledger = Ledger::open(MemoryStore::new(), Genesis::dev(), ChainConfig::default())
            .expect("opens");
        let tx = Transaction::signed(
            &Genesis::dev_key(),
            Address([3; 20]),
            ledger_core::Balance::from(5),
            1,
            1_800_000_000,
            Vec::new(),
        );
        ledger.push(&tx.to_raw()).expect("pushes");
        ledger
            .produce_block(1_800_000_001, Address([9; 20]))
            .expect("produces");
        (ledger, tx)
    }

    #[test]
    fn reads_answer_from_the_state_alone() {
        let (ledger, tx) = chain();
        let state = ledger.store();
        assert_eq!(tip(state).expect("tip").depth, 1);
        assert_eq!(
            find_block(state, BlockRef::Number(1)).expect("block").depth,
            1
        );
        assert_eq!(find_transaction(state, tx.hash()).expect("tx"), tx.to_raw());
        let info = account_info(state, &Address([3; 20]), None).expect("account");
        assert_eq!(info.transaction_hashes, vec![tx.hash()]);
        assert!(stored_status(state, &tx.hash()).expect("status").is_some());
    }

    #[test]
    fn what_is_not_there_is_named() {
        let (ledger, _) = chain();
        let state = ledger.store();
        match find_block(state, BlockRef::Number(7)) {
            Err(RequestError::BlockNotFound {
                by: BlockRef::Number(7),
                top: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
        let missing = Hash([4; 32]);
        assert!(matches!(
            find_transaction(state, missing),
            Err(RequestError::TransactionNotFound { hash }) if hash == missing
        ));
        assert_eq!(stored_status(state, &missing).expect("reads"), None);
    }

    #[test]
    fn a_view_call_that_does_not_return_is_execution_failed_with_its_data() {
        assert_eq!(
            view_answer(ViewOutcome::Returned(vec![1])).expect("ok"),
            "AQ=="
        );
        let error = view_answer(ViewOutcome::Reverted {
            data: vec![2],
            reason: None,
        })
        .expect_err("reverted");
        let wire = error.to_api_error();
        assert_eq!(wire.code, crate::ErrorCode::ExecutionFailed);
        assert_eq!(wire.data.as_deref(), Some("Ag=="));
        assert_eq!(wire.message, "the view call reverted");
        let wire = view_answer(ViewOutcome::Reverted {
            data: vec![3],
            reason: Some("too low".into()),
        })
        .expect_err("reverted")
        .to_api_error();
        assert_eq!(
            (wire.message.as_str(), wire.data.as_deref()),
            ("too low", Some("Aw=="))
        );
        let wire = view_answer(ViewOutcome::Halted("out of gas".into()))
            .expect_err("halted")
            .to_api_error();
        assert_eq!(
            (wire.message.as_str(), wire.data.as_deref()),
            ("out of gas", Some(""))
        );
    }
}
