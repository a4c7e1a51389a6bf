//! A block of 1,000 ERC-20 `transfer` calls (OpenZeppelin's token from
//! contracts/) executed by ledger-vm inside `execute_block`, beside the
//! same 1,000 calls run by revm alone on its in-memory database: the limit
//! of the engine. And what `estimate_fee` costs on an ERC-20 transfer and
//! on the token's creation, beside one view call of the same: the search
//! runs the transaction a dozen times or so. docs/benchmarks.md reports
//! both.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger_core::{
    execute_block, Address, Balance, ChainConfig, Genesis, Ledger, MemoryStore, Sealable,
    Signature, StateRead, Transaction,
};
use ledger_vm::artifact::Artifact;
use ledger_vm::Evm;
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::{Bytes, TxKind, U256};
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

const TRANSFERS: usize = 1_000;
const T0: u32 = 1_800_000_000;

fn token_init(supply: u64) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contracts/artifacts/Token.json"
    );
    let mut code = Artifact::read(path)
        .expect("the Token artifact")
        .init_code();
    code.extend_from_slice(&U256::from(supply).to_be_bytes::<32>());
    code
}

/// `transfer(to, 1)` call data.
fn transfer_data(to: [u8; 20]) -> Vec<u8> {
    // transfer(address,uint256) selector
    let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
    data.extend_from_slice(&[0; 12]);
    data.extend_from_slice(&to);
    data.extend_from_slice(&U256::from(1).to_be_bytes::<32>());
    data
}

fn recipient(n: usize) -> [u8; 20] {
    let mut to = [0x77; 20];
    to[..8].copy_from_slice(&(n as u64).to_be_bytes());
    to
}

fn ledger_vm(c: &mut Criterion) {
    let key = Genesis::dev_key();
    let mut ledger = Ledger::open_with_engine(
        MemoryStore::new(),
        Genesis::dev(),
        ChainConfig::default(),
        Evm::new(),
    )
    .expect("opens");
    let init = token_init(1_000_000_000);
    let deploy = Transaction::signed(&key, Address::NULL, Balance::ZERO, 3_000_000, T0, init);
    ledger.push(&deploy.to_raw()).expect("pushes");
    ledger
        .produce_block(T0 + 1, Address([0xcb; 20]))
        .expect("produces")
        .expect("a block");
    let status = ledger
        .store()
        .transaction(&deploy.hash())
        .expect("reads")
        .expect("applied")
        .status;
    let token: Address = status.message.parse().expect("the token's address");
    let tip = ledger.tip().expect("tip");
    let transactions: Vec<_> = (0..TRANSFERS)
        .map(|n| {
            Transaction {
                from: key.address(),
                to: token,
                amount: Balance::ZERO,
                fee: 100_000,
                timestamp: T0 + 2 + n as u32,
                data: transfer_data(recipient(n)),
                sign: Signature::NONE,
            }
            .seal()
        })
        .collect();
    let block = ledger_core::Block {
        depth: tip.depth + 1,
        nonce: 0,
        timestamp: T0 + 2,
        previous_block_hash: tip.hash,
        coinbase: Address([0xcb; 20]),
        transactions,
    }
    .seal();
    let settings = *ledger.settings();
    let mut group = c.benchmark_group("erc20_block");
    group.throughput(Throughput::Elements(TRANSFERS as u64));
    group.sample_size(20);
    // One engine across blocks, as a node's ledger keeps it.
    let mut engine = Evm::new();
    group.bench_function("ledger_vm_execute_block", |b| {
        b.iter(|| {
            let changes = execute_block(
                ledger.store(),
                block.clone(),
                Balance::from(1000),
                &settings,
                &mut engine,
            )
            .expect("executes");
            assert_eq!(changes.logs.len(), TRANSFERS);
            changes
        })
    });

    // revm alone: the same code and calls on its in-memory database.
    let sender = revm::primitives::Address::repeat_byte(0x11);
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(sender, AccountInfo::from_balance(U256::from(1u64 << 60)));
    let mut evm = Context::mainnet().with_db(db).build_mainnet();
    let created = evm
        .transact_commit(
            TxEnv::builder()
                .caller(sender)
                .kind(TxKind::Create)
                .data(Bytes::from(token_init(1_000_000_000)))
                .gas_limit(3_000_000)
                .gas_price(0)
                .nonce(0)
                .build()
                .expect("a transaction"),
        )
        .expect("deploys");
    let token = created.created_address().expect("an address");
    let db = evm.ctx.journaled_state.database.clone();
    group.bench_function("revm_in_memory", |b| {
        b.iter_batched(
            || Context::mainnet().with_db(db.clone()).build_mainnet(),
            |mut evm| {
                for n in 0..TRANSFERS {
                    let tx = TxEnv::builder()
                        .caller(sender)
                        .kind(TxKind::Call(token))
                        .data(Bytes::from(transfer_data(recipient(n))))
                        .gas_limit(100_000)
                        .gas_price(0)
                        .nonce(1 + n as u64)
                        .build()
                        .expect("a transaction");
                    let result = evm.transact_commit(tx).expect("runs");
                    assert!(result.is_success());
                }
                evm
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// `estimate_fee` of a token transfer and of the token's creation, beside
/// a view call running the same transfer once.
fn estimates(c: &mut Criterion) {
    let key = Genesis::dev_key();
    let mut ledger = Ledger::open_with_engine(
        MemoryStore::new(),
        Genesis::dev(),
        ChainConfig::default(),
        Evm::new(),
    )
    .expect("opens");
    let init = token_init(1_000_000_000);
    let deploy = Transaction::signed(
        &key,
        Address::NULL,
        Balance::ZERO,
        3_000_000,
        T0,
        init.clone(),
    );
    ledger.push(&deploy.to_raw()).expect("pushes");
    ledger
        .produce_block(T0 + 1, Address([0xcb; 20]))
        .expect("produces")
        .expect("a block");
    let token: Address = ledger
        .store()
        .transaction(&deploy.hash())
        .expect("reads")
        .expect("applied")
        .status
        .message
        .parse()
        .expect("the token's address");
    let transfer = ledger_core::FeeRequest {
        from: key.address(),
        to: token,
        amount: Balance::ZERO,
        data: transfer_data(recipient(1)),
    };
    let creation = ledger_core::FeeRequest {
        from: key.address(),
        to: Address::NULL,
        amount: Balance::ZERO,
        data: init,
    };
    let runs = |estimate: ledger_core::FeeEstimate| match estimate {
        ledger_core::FeeEstimate::Fits { runs, .. } => runs,
        other => panic!("no fee: {other:?}"),
    };
    println!(
        "estimate_fee runs: ERC-20 transfer {}, creation {}",
        runs(ledger.estimate_fee(&transfer).expect("estimates")),
        runs(ledger.estimate_fee(&creation).expect("estimates"))
    );
    let view = ledger_core::ViewCall {
        from: key.address(),
        to: token,
        timestamp: T0 + 2,
        message: transfer_data(recipient(1)),
    };
    let mut group = c.benchmark_group("estimate_fee");
    group.sample_size(30);
    group.bench_function("view_call_erc20_transfer", |b| {
        b.iter(|| ledger.view_call(&view).expect("runs"))
    });
    group.bench_function("estimate_erc20_transfer", |b| {
        b.iter(|| ledger.estimate_fee(&transfer).expect("estimates"))
    });
    group.bench_function("estimate_erc20_creation", |b| {
        b.iter(|| ledger.estimate_fee(&creation).expect("estimates"))
    });
    group.finish();
}

// The macros generate undocumented functions.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, ledger_vm, estimates);
}
criterion_main!(harness::benches);
