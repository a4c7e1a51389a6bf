//! The v1 API's reads, as functions of the stored state: a command in, an
//! answer or a [`RequestError`] out, with no socket, session or chain
//! service in sight. The connection decides when and where they run.

use ledger_core::{
    encode_base64, Account, Address, ChainTip, FeeEstimate, Hash, RawBlock, RawTransaction,
    StateRead, TransactionStatus, ViewOutcome,
};

use ledger_chain::NodeMode;

use crate::extensions::{
    AccountCode, AccountStorage, AccountTransactions, EstimatedFee, HistoryItem, NodeInfo,
    EXTENSIONS,
};
use crate::protocol::{
    AccountInfo, BlockRef, Cursor, HistoryPage, TransactionLogs, WireLog, API_VERSION,
};
use crate::request_error::RequestError;

/// The top block.
pub(crate) fn tip<S: StateRead + ?Sized>(state: &S) -> Result<ChainTip, RequestError> {
    state.tip()?.ok_or(RequestError::NoGenesis)
}

/// An account and its whole transaction list; with `account` given (from
/// a block event), the list is read up to that block's length. A list
/// longer than `max_hashes` is refused before it is read, pointing to
/// `account_transactions`.
pub(crate) fn account_info<S: StateRead + ?Sized>(
    state: &S,
    address: &Address,
    account: Option<Account>,
    max_hashes: usize,
) -> Result<AccountInfo, RequestError> {
    let account = match account {
        Some(account) => account,
        None => state.account_or_default(address)?,
    };
    let length = usize::try_from(account.transaction_count).unwrap_or(usize::MAX);
    if length > max_hashes {
        return Err(RequestError::HistoryTooLong {
            address: *address,
            count: account.transaction_count,
            limit: max_hashes,
        });
    }
    let hashes = state.account_transactions(address, 0, length)?;
    Ok(AccountInfo::new(*address, account, hashes))
}

/// A page of an account's history, newest first, and the cursor of the
/// next (older) page.
pub(crate) fn account_transactions<S: StateRead + ?Sized>(
    state: &S,
    page: HistoryPage,
) -> Result<AccountTransactions, RequestError> {
    let address = page.address;
    let count = state.account_or_default(&address)?.transaction_count;
    let before = match page.cursor {
        None => count,
        Some(cursor) if cursor.before <= count => cursor.before,
        Some(cursor) => {
            return Err(RequestError::InvalidCursor {
                cursor: cursor.to_text(&address),
                address,
            })
        }
    };
    let entries = state.account_history(&address, before, page.limit)?;
    let cursor = match entries.last() {
        Some(oldest) if oldest.position > 0 => Some(
            Cursor {
                before: oldest.position,
            }
            .to_text(&address),
        ),
        _ => None,
    };
    Ok(AccountTransactions {
        transactions: entries.iter().map(HistoryItem::from).collect(),
        cursor,
    })
}

/// What the node is and where its chain stands.
pub(crate) fn node_info<S: StateRead + ?Sized>(
    state: &S,
    mode: NodeMode,
) -> Result<NodeInfo, RequestError> {
    let tip = tip(state)?;
    let genesis_hash = state.genesis_hash()?.ok_or(RequestError::NoGenesis)?;
    // A chain created before settings were stored runs on the defaults
    // until its next block stores them.
    let settings = state.settings()?.unwrap_or_default();
    Ok(NodeInfo {
        // The workspace's version: every crate of the node, `ledger-node`
        // included, carries the same.
        version: env!("CARGO_PKG_VERSION").to_owned(),
        api: vec![API_VERSION],
        extensions: EXTENSIONS.iter().map(|name| (*name).to_owned()).collect(),
        genesis_hash,
        top_block_number: tip.depth,
        top_block_hash: tip.hash,
        chain_id: settings.chain_id,
        evm_fork: settings.evm_fork.name().to_owned(),
        mode: mode.name().to_owned(),
    })
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

/// A contract's deployed code (`""` for an account without code).
pub(crate) fn account_code<S: StateRead>(
    state: &S,
    address: &Address,
) -> Result<AccountCode, RequestError> {
    let code = state.code(address)?.unwrap_or_default();
    Ok(AccountCode {
        code: encode_base64(&code),
    })
}

/// One storage slot of a contract (zeros when never written).
pub(crate) fn account_storage<S: StateRead>(
    state: &S,
    address: &Address,
    slot: &[u8; 32],
) -> Result<AccountStorage, RequestError> {
    Ok(AccountStorage {
        value: encode_base64(&state.storage(address, slot)?),
    })
}

/// The answer to `estimate_fee` from `from`: the fee found, or
/// `execution_failed` saying why there is none.
pub(crate) fn estimate_answer(
    from: Address,
    estimate: FeeEstimate,
) -> Result<EstimatedFee, RequestError> {
    match estimate {
        FeeEstimate::Fits {
            action,
            fee,
            gas_used,
            ..
        } => Ok(EstimatedFee {
            fee: fee.to_string(),
            gas_used: gas_used.to_string(),
            action_type: action,
        }),
        FeeEstimate::Unaffordable {
            balance,
            amount,
            fee,
            ..
        } => Err(RequestError::Unaffordable {
            from,
            balance,
            amount,
            fee,
        }),
        FeeEstimate::Fails { cap, outcome, .. } => {
            let (reason, data) = failure(outcome, "the transaction reverted");
            Err(RequestError::EstimateFailed { reason, data, cap })
        }
        other => Err(RequestError::EstimateFailed {
            reason: format!("the estimate failed: {other:?}"),
            data: String::new(),
            cap: 0,
        }),
    }
}

/// A failed run's reason for people and its revert data in base64;
/// `reverted` when the revert data says nothing.
fn failure(outcome: ViewOutcome, reverted: &str) -> (String, String) {
    let (reason, data) = match outcome {
        ViewOutcome::Reverted { data, reason } => (
            reason
                .filter(|reason| !reason.is_empty())
                .unwrap_or_else(|| reverted.to_owned()),
            data,
        ),
        ViewOutcome::Halted(reason) => (reason, Vec::new()),
        ViewOutcome::Returned(_) => ("it returned".to_owned(), Vec::new()),
        other => (format!("it failed: {other:?}"), Vec::new()),
    };
    (reason, encode_base64(&data))
}

/// The answer to a view call: base64 of what it returned, or
/// `execution_failed` with the revert data (`""` when none).
pub(crate) fn view_answer(outcome: ViewOutcome) -> Result<String, RequestError> {
    if let ViewOutcome::Returned(output) = outcome {
        return Ok(encode_base64(&output));
    }
    let (reason, data) = failure(outcome, "the view call reverted");
    Err(RequestError::ViewFailed { reason, data })
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
        let info = account_info(state, &Address([3; 20]), None, 1).expect("account");
        assert_eq!(info.transaction_hashes, vec![tx.hash()]);
        let info = node_info(state, NodeMode::Single).expect("node info");
        assert_eq!(info.top_block_number, 1);
        assert_eq!(
            info.genesis_hash,
            state.genesis_hash().expect("reads").expect("genesis")
        );
        assert_eq!((info.chain_id, info.mode.as_str()), (1337, "single"));
        assert!(stored_status(state, &tx.hash()).expect("status").is_some());
    }

    /// Seven transfers of the dev key to itself and two others, in
    /// three blocks; its history read in pages of three.
    #[test]
    fn history_pages_are_newest_first_and_their_cursors_hold_as_the_chain_grows() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let mut ledger =
            Ledger::open(store.clone(), Genesis::dev(), ChainConfig::default()).expect("opens");
        let key = Genesis::dev_key();
        let me = key.address();
        let mut push_block = |block: u32, targets: &[Address]| {
            let hashes: Vec<Hash> = targets
                .iter()
                .enumerate()
                .map(|(n, to)| {
                    let tx = Transaction::signed(
                        &key,
                        *to,
                        ledger_core::Balance::from(1),
                        1,
                        1_800_000_000 + block * 10 + n as u32,
                        Vec::new(),
                    );
                    ledger.push(&tx.to_raw()).expect("pushes");
                    tx.hash()
                })
                .collect();
            ledger
                .produce_block(1_800_000_000 + block, Address([9; 20]))
                .expect("produces");
            hashes
        };
        let others = [Address([3; 20]), Address([4; 20])];
        let mut sent = push_block(1, &[others[0], me, others[1]]);
        sent.extend(push_block(2, &[others[1], others[0]]));
        sent.extend(push_block(3, &[me, others[0]]));
        let state = &*store;
        let page = |cursor: Option<Cursor>| HistoryPage {
            address: me,
            limit: 3,
            cursor,
        };
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let answer = account_transactions(state, page(cursor)).expect("a page");
            seen.extend(answer.transactions);
            match answer.cursor {
                Some(text) => cursor = Some(Cursor::parse(&text, &me).expect("our cursor")),
                None => break,
            }
            // A new block between pages does not move the next page.
            if seen.len() == 3 {
                push_block(4, &[others[0]]);
            }
        }
        let hashes: Vec<Hash> = seen.iter().map(|item| item.hash).collect();
        assert_eq!(hashes, sent.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(
            seen.iter()
                .map(|item| item.direction.as_str())
                .collect::<Vec<_>>(),
            ["out", "self", "out", "out", "out", "self", "out"]
        );
        assert_eq!((seen[0].block_number, seen[0].index), (3, 1));
        // The newest page now starts with block 4's transfer.
        let newest = account_transactions(state, page(None)).expect("a page");
        assert_eq!(newest.transactions[0].block_number, 4);
        // A cursor of this history is refused for another's.
        let text = Cursor { before: 3 }.to_text(&me);
        assert_eq!(Cursor::parse(&text, &others[0]), None);
        // An empty history is one empty page.
        let empty = HistoryPage {
            address: Address([7; 20]),
            limit: 3,
            cursor: None,
        };
        let answer = account_transactions(state, empty).expect("a page");
        assert!(answer.transactions.is_empty() && answer.cursor.is_none());
        // account_info refuses a list longer than it may carry, by name.
        assert!(matches!(
            account_info(state, &me, None, 5),
            Err(RequestError::HistoryTooLong {
                count: 8,
                limit: 5,
                ..
            })
        ));
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

    #[test]
    fn an_estimate_is_a_fee_or_execution_failed_saying_why() {
        let from = Address([4; 20]);
        let fits = estimate_answer(
            from,
            FeeEstimate::Fits {
                action: ledger_core::ActionType::ContractCall,
                fee: 27_902,
                gas_used: 23_102,
                runs: 11,
            },
        )
        .expect("a fee");
        assert_eq!(
            serde_json::to_value(&fits).expect("json"),
            serde_json::json!({"fee": "27902", "gas_used": "23102", "action_type": 2})
        );
        // A revert without data says so, never an empty reason.
        let wire = estimate_answer(
            from,
            FeeEstimate::Fails {
                action: ledger_core::ActionType::ContractCall,
                cap: 30_000_000,
                outcome: ViewOutcome::Reverted {
                    data: Vec::new(),
                    reason: Some(String::new()),
                },
            },
        )
        .expect_err("fails")
        .to_api_error();
        assert_eq!(wire.code, crate::ErrorCode::ExecutionFailed);
        assert_eq!(
            (wire.message.as_str(), wire.data.as_deref()),
            (
                "the transaction reverted (even with a fee of 30000000)",
                Some("")
            )
        );
        let wire = estimate_answer(
            from,
            FeeEstimate::Unaffordable {
                action: ledger_core::ActionType::ContractCall,
                balance: ledger_core::Balance::from(7),
                amount: ledger_core::Balance::from(1),
                fee: 27_902,
            },
        )
        .expect_err("unaffordable")
        .to_api_error();
        assert_eq!(wire.code, crate::ErrorCode::ExecutionFailed);
        assert_eq!(
            wire.message,
            format!("balance 7 of {from} does not cover amount 1 + fee 27902")
        );
    }
}
