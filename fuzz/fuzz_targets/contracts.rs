//! Arbitrary init code, call data, values and fees through ledger-vm, in
//! blocks: whatever the code does, executing never panics, a block is
//! either applied whole or refused as a block, and the supply invariant of
//! ledger-rules.md holds after every block (the sum of all balances is the
//! genesis allocations plus the reward of every block after genesis).
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use ledger_core::testing::{genesis_for, keys};
use ledger_core::{
    execute_block, execute_genesis, ActionType, Address, Balance, Block, CoreError, MemoryStore,
    Sealable, Signature, StateCommit, StateRead, StatusCode, Transaction,
};
use ledger_vm::Evm;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Deploys `code` as init code.
    Create {
        code: Vec<u8>,
        amount: u16,
        fee: u32,
    },
    /// Calls a contract deployed earlier (or a client, if none is).
    Call {
        target: u8,
        data: Vec<u8>,
        amount: u16,
        fee: u32,
    },
    /// A plain transfer between the two funded keys.
    Transfer { amount: u64, fee: u16 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    blocks: Vec<Vec<Op>>,
}

const MAX_BLOCKS: usize = 4;
const MAX_OPS: usize = 6;
const MAX_CODE: usize = 4096;

fn fee(raw: u32) -> u64 {
    // Contract fees between the intrinsic gas and a few million, so
    // blocks stay under the 30,000,000 block gas limit.
    21_000 + u64::from(raw % 4_000_000)
}

fuzz_target!(|input: Input| {
    let keys = keys(2, 77);
    let genesis = genesis_for(&keys);
    let settings = genesis.settings.resolve();
    let store = MemoryStore::new();
    let first = execute_genesis(genesis.block(), &settings).expect("genesis executes");
    store.commit(&first).expect("genesis commits");
    let mut balances: HashMap<Address, Balance> = first
        .accounts
        .iter()
        .map(|(a, acc)| (*a, acc.balance))
        .collect();
    let mut supply = balances
        .values()
        .fold(Balance::ZERO, |sum, b| sum.checked_add(*b).expect("fits"));
    let mut engine = Evm::new();
    let mut contracts: Vec<Address> = Vec::new();
    let mut n: u32 = 0;

    for ops in input.blocks.into_iter().take(MAX_BLOCKS) {
        let tip = store.tip().expect("reads").expect("a tip");
        let transactions: Vec<_> = ops
            .into_iter()
            .take(MAX_OPS)
            .map(|op| {
                n += 1;
                let sender = keys[(n % 2) as usize].address();
                let (to, amount, fee, data) = match op {
                    Op::Create {
                        mut code,
                        amount,
                        fee: raw,
                    } => {
                        code.truncate(MAX_CODE);
                        (Address::NULL, u64::from(amount), fee(raw), code)
                    }
                    Op::Call {
                        target,
                        mut data,
                        amount,
                        fee: raw,
                    } => {
                        data.truncate(MAX_CODE);
                        let to = if contracts.is_empty() {
                            keys[0].address()
                        } else {
                            contracts[usize::from(target) % contracts.len()]
                        };
                        (to, u64::from(amount), fee(raw), data)
                    }
                    Op::Transfer { amount, fee } => (
                        keys[((n + 1) % 2) as usize].address(),
                        amount,
                        u64::from(fee),
                        Vec::new(),
                    ),
                };
                Transaction {
                    from: sender,
                    to,
                    amount: Balance::from(amount),
                    fee,
                    timestamp: 1_800_000_000 + n,
                    data,
                    sign: Signature::NONE,
                }
                .seal()
            })
            .collect();
        let block = Block {
            depth: tip.depth + 1,
            nonce: 0,
            timestamp: tip.timestamp + 1,
            previous_block_hash: tip.hash,
            coinbase: Address([0xcb; 20]),
            transactions,
        }
        .seal();
        let changes =
            match execute_block(&store, block, genesis.block_reward, &settings, &mut engine) {
                Ok(changes) => changes,
                // A block may be refused as a block (over the gas limit, …);
                // never for a broken state.
                Err(CoreError::Inconsistent(inconsistency)) => {
                    panic!("inconsistent: {inconsistency}")
                }
                Err(_) => continue,
            };
        store.commit(&changes).expect("commits");
        for (hash, record) in &changes.transactions {
            let status = &record.status;
            if status.status_code == StatusCode::Success
                && status.action_type == ActionType::ContractCreation
            {
                let address: Address = status
                    .message
                    .parse()
                    .expect("a creation names its address");
                // Init code may return no code (as on Ethereum): then the
                // account holds none and stays a client.
                let code = store.code(&address).expect("reads");
                let kind = store.account_or_default(&address).expect("reads").kind;
                assert_eq!(
                    code.as_ref().is_some_and(|code| !code.is_empty()),
                    kind == ledger_core::AccountKind::Contract,
                    "{hash}: code {code:?} and kind {kind:?} agree"
                );
                contracts.push(address);
            }
        }
        for (address, account) in &changes.accounts {
            balances.insert(*address, account.balance);
        }
        supply = supply.checked_add(genesis.block_reward).expect("fits");
        let total = balances
            .values()
            .fold(Balance::ZERO, |sum, b| sum.checked_add(*b).expect("fits"));
        assert_eq!(
            total, supply,
            "the supply invariant after block {}",
            changes.block.depth
        );
    }
});
