//! Solidity contracts (contracts/src, compiled artifacts in
//! contracts/artifacts) run by ledger-vm inside a ledger: statuses, fees,
//! addresses, logs and the supply invariant after every test.

use std::collections::BTreeSet;
use std::path::PathBuf;

use alloy_primitives::{keccak256, Address as EvmAddress, B256, U256};
use alloy_sol_types::{sol, SolCall, SolEvent};
use ledger_core::{
    contract_address, ActionType, Address, Balance, ChainConfig, EvmFork, Genesis, GenesisSettings,
    Hash, Ledger, MemoryStore, SecretKey, StateRead, StatusCode, Transaction, TransactionStatus,
    ViewCall, ViewOutcome,
};
use ledger_vm::artifact::Artifact;
use ledger_vm::Evm;
use sha2::{Digest, Sha256};

sol! {
    interface IStorage {
        event Set(address indexed by, uint256 value);
        function get() external view returns (uint256);
        function set(uint256 newValue) external;
        function atLeast(uint256 minimum) external view returns (uint256);
        function burn() external;
    }
    interface IAuction {
        function bid() external payable;
        function withdraw() external returns (bool);
        function end() external;
        function highestBid() external view returns (uint256);
    }
    interface ICalculatorClient {
        function addThrough(address calculator, uint256 a, uint256 b) external view returns (uint256);
        function addAndKeep(address calculator, uint256 a, uint256 b) external returns (uint256);
    }
    interface IWallet {
        function ownBalance() external view returns (uint256);
        function pay(address to, uint256 amount) external;
        function destroy(address to) external;
    }
    interface IBlocks {
        function previousHash() external view returns (bytes32);
        function chainId() external view returns (uint256);
        function record() external;
        function recordedHash() external view returns (bytes32);
        function recordedNumber() external view returns (uint256);
        function recordedCoinbase() external view returns (address);
    }
    interface IToken {
        event Transfer(address indexed from, address indexed to, uint256 value);
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
        function transferFrom(address from, address to, uint256 value) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
    }
    interface IFactory {
        function deploy(bytes32 salt, uint256 tag) external returns (address);
        function deployPlain(uint256 tag) external returns (address);
    }
    interface IChild {
        function tag() external view returns (uint256);
    }
}

const GAS: u64 = 3_000_000;
const T0: u32 = 1_800_000_000;

fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts")
}

fn artifact(name: &str) -> Artifact {
    Artifact::read(
        contracts_dir()
            .join("artifacts")
            .join(format!("{name}.json")),
    )
    .expect("the artifact reads")
}

fn evm(address: Address) -> EvmAddress {
    EvmAddress::from(address.0)
}

fn ledger(address: EvmAddress) -> Address {
    Address(address.into_array())
}

fn u256(value: u64) -> U256 {
    U256::from(value)
}

/// A ledger with the EVM, the dev key funded, and the addresses it has
/// seen, to check the supply invariant over.
struct Chain {
    ledger: Ledger<MemoryStore, Evm>,
    key: SecretKey,
    coinbase: Address,
    time: u32,
    seen: BTreeSet<Address>,
}

impl Chain {
    fn new() -> Chain {
        Chain::with_settings(GenesisSettings::default())
    }

    fn with_settings(settings: GenesisSettings) -> Chain {
        let genesis = Genesis {
            settings,
            ..Genesis::dev()
        };
        let key = Genesis::dev_key();
        let ledger = Ledger::open_with_engine(
            MemoryStore::new(),
            genesis,
            ChainConfig::default(),
            Evm::new(),
        )
        .expect("opens");
        let coinbase = Address([0xcb; 20]);
        Chain {
            ledger,
            coinbase,
            seen: BTreeSet::from([key.address(), coinbase]),
            key,
            time: T0,
        }
    }

    fn sign(
        &mut self,
        key: &SecretKey,
        to: Address,
        amount: u64,
        fee: u64,
        data: Vec<u8>,
    ) -> Transaction {
        self.time += 1;
        self.seen.insert(to);
        Transaction::signed(key, to, Balance::from(amount), fee, self.time, data)
    }

    /// Pushes `tx`, produces a block with it, and returns its final status.
    fn apply(&mut self, tx: Transaction) -> TransactionStatus {
        let pushed = self.ledger.push(&tx.to_raw()).expect("pushes");
        assert_eq!(pushed.status_code, StatusCode::Pending, "{pushed:?}");
        self.time += 1;
        self.ledger
            .produce_block(self.time, self.coinbase)
            .expect("produces")
            .expect("a block");
        let status = self.status(&tx.hash());
        self.check_supply();
        status
    }

    fn status(&self, hash: &Hash) -> TransactionStatus {
        self.ledger
            .store()
            .transaction(hash)
            .expect("reads")
            .expect("applied")
            .status
    }

    fn send(&mut self, to: Address, amount: u64, fee: u64, data: Vec<u8>) -> TransactionStatus {
        let key = self.key.clone();
        let tx = self.sign(&key, to, amount, fee, data);
        self.apply(tx)
    }

    fn call(&mut self, to: Address, data: Vec<u8>) -> TransactionStatus {
        let status = self.send(to, 0, GAS, data);
        assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
        status
    }

    /// Deploys `name` with constructor arguments `args`, returns its address.
    fn deploy(&mut self, name: &str, args: &[u8], amount: u64) -> Address {
        let code = [artifact(name).init_code(), args.to_vec()].concat();
        let key = self.key.clone();
        let tx = self.sign(&key, Address::NULL, amount, GAS, code.clone());
        let nonce = self.nonce(&key.address()) + 1;
        let address = contract_address(&code, &key.address(), nonce);
        self.seen.insert(address);
        let status = self.apply(tx);
        assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
        assert_eq!(status.action_type, ActionType::ContractCreation);
        assert_eq!(status.message, address.to_string());
        address
    }

    fn view(&mut self, to: Address, data: Vec<u8>) -> ViewOutcome {
        let call = ViewCall {
            from: self.key.address(),
            to,
            timestamp: self.time,
            message: data,
        };
        self.ledger.view_call(&call).expect("runs")
    }

    fn view_returns(&mut self, to: Address, data: Vec<u8>) -> Vec<u8> {
        match self.view(to, data) {
            ViewOutcome::Returned(output) => output,
            other => panic!("the view call did not return: {other:?}"),
        }
    }

    fn balance(&self, address: &Address) -> U256 {
        amount(
            self.ledger
                .store()
                .account_or_default(address)
                .expect("reads")
                .balance,
        )
    }

    fn nonce(&self, address: &Address) -> u64 {
        self.ledger
            .store()
            .account_or_default(address)
            .expect("reads")
            .nonce
    }

    /// The sum of every balance the chain could have moved value to equals
    /// the genesis supply plus a reward per block.
    fn check_supply(&self) {
        let genesis = self.ledger.genesis();
        let depth = self.ledger.tip().expect("tip").depth;
        let expected = amount(genesis.total_supply().expect("fits"))
            + amount(genesis.block_reward) * u256(depth);
        let total = self
            .seen
            .iter()
            .fold(U256::ZERO, |sum, address| sum + self.balance(address));
        assert_eq!(total, expected, "value was created or lost");
    }
}

fn amount(balance: Balance) -> U256 {
    U256::from_be_bytes(balance.to_be_bytes())
}

fn decode_u256(output: &[u8]) -> U256 {
    U256::from_be_slice(output)
}

#[test]
fn artifacts_are_compiled_from_the_sources_beside_them() {
    let dir = contracts_dir().join("artifacts");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("the artifacts directory lists") {
        let path = entry.expect("an entry").path();
        let artifact = Artifact::read(&path).expect("reads");
        let source = std::fs::read(contracts_dir().join(&artifact.source)).expect("source reads");
        assert_eq!(
            hex::encode(Sha256::digest(&source)),
            artifact.source_sha256,
            "{} is stale against {}: run scripts/compile-contracts.sh",
            path.display(),
            artifact.source
        );
        count += 1;
    }
    assert!(count >= 9, "only {count} artifacts");
}

#[test]
fn storage_contract_sets_gets_and_charges_what_it_used() {
    let mut chain = Chain::new();
    let storage = chain.deploy("Storage", &[], 0);
    let kind = chain
        .ledger
        .store()
        .account_or_default(&storage)
        .expect("reads");
    assert_eq!(
        (kind.kind, kind.nonce),
        (ledger_core::AccountKind::Contract, 1)
    );
    assert_eq!(
        chain.ledger.store().code(&storage).expect("reads"),
        Some(artifact("Storage").deployed_code())
    );
    let get = chain.view_returns(storage, IStorage::getCall {}.abi_encode());
    assert_eq!(decode_u256(&get), u256(8888));

    let sender = chain.key.address();
    let (before, coinbase_before) = (chain.balance(&sender), chain.balance(&chain.coinbase));
    let status = chain.call(
        storage,
        IStorage::setCall {
            newValue: u256(5555),
        }
        .abi_encode(),
    );
    assert_eq!(status.action_type, ActionType::ContractCall);
    assert_eq!(status.message, "", "set returns nothing");
    let used = GAS - status.fee_left;
    assert!((21_000..100_000).contains(&used), "gas used {used}");
    assert_eq!(chain.balance(&sender), before - u256(used));
    assert_eq!(
        chain.balance(&chain.coinbase),
        coinbase_before + u256(used) + amount(chain.ledger.genesis().block_reward)
    );
    let get = chain.view_returns(storage, IStorage::getCall {}.abi_encode());
    assert_eq!(decode_u256(&get), u256(5555));
}

#[test]
fn a_call_returns_its_data_base64_in_the_message() {
    let mut chain = Chain::new();
    let calculator = chain.deploy("Calculator", &[], 0);
    let client = chain.deploy("CalculatorClient", &[], 0);
    let data = ICalculatorClient::addAndKeepCall {
        calculator: evm(calculator),
        a: u256(5),
        b: u256(6),
    }
    .abi_encode();
    let status = chain.call(client, data);
    let output = ledger_core::decode_base64(&status.message).expect("base64");
    assert_eq!(decode_u256(&output), u256(11));
    let through = ICalculatorClient::addThroughCall {
        calculator: evm(calculator),
        a: u256(5),
        b: u256(6),
    }
    .abi_encode();
    assert_eq!(decode_u256(&chain.view_returns(client, through)), u256(11));
}

#[test]
fn an_underbid_reverts_with_its_reason_and_the_end_pays_the_beneficiary() {
    let mut chain = Chain::new();
    let beneficiary = Address([0xbe; 20]);
    chain.seen.insert(beneficiary);
    let args = alloy_sol_types::SolValue::abi_encode(&evm(beneficiary));
    let auction = chain.deploy("Auction", &args, 0);
    let bid = IAuction::bidCall {}.abi_encode();
    assert_eq!(
        chain.send(auction, 1000, GAS, bid.clone()).status_code,
        StatusCode::Success
    );

    let sender = chain.key.address();
    let before = chain.balance(&sender);
    let underbid = chain.send(auction, 500, GAS, bid);
    assert_eq!(underbid.status_code, StatusCode::Revert, "{underbid:?}");
    let data = ledger_core::decode_base64(&underbid.message).expect("base64 revert data");
    assert_eq!(
        alloy_sol_types::decode_revert_reason(&data).as_deref(),
        Some("revert: There already is a higher bid.")
    );
    // The bid came back; only the gas used was charged.
    let used = GAS - underbid.fee_left;
    assert!(used > 21_000);
    assert_eq!(chain.balance(&sender), before - u256(used));
    assert_eq!(chain.balance(&auction), u256(1000));

    // Only the beneficiary ends it: the dev key's `end` reverts.
    let end = chain.send(auction, 0, GAS, IAuction::endCall {}.abi_encode());
    assert_eq!(end.status_code, StatusCode::Revert);

    // The beneficiary, funded, ends it and is paid the highest bid.
    let beneficiary_key = SecretKey::from_hex(&"be".repeat(32)).expect("a key");
    let beneficiary_address = beneficiary_key.address();
    let args = alloy_sol_types::SolValue::abi_encode(&evm(beneficiary_address));
    let auction = chain.deploy("Auction", &args, 0);
    chain.send(beneficiary_address, 1_000_000, 1, vec![]);
    chain.send(auction, 7000, GAS, IAuction::bidCall {}.abi_encode());
    let before = chain.balance(&beneficiary_address);
    let tx = chain.sign(
        &beneficiary_key,
        auction,
        0,
        100_000,
        IAuction::endCall {}.abi_encode(),
    );
    let status = chain.apply(tx);
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let used = 100_000 - status.fee_left;
    assert_eq!(
        chain.balance(&beneficiary_address),
        before + u256(7000) - u256(used)
    );
    assert_eq!(chain.balance(&auction), U256::ZERO);
}

#[test]
fn a_contract_holds_value_reads_its_balance_pays_out_and_self_destructs() {
    let mut chain = Chain::new();
    let wallet = chain.deploy("Wallet", &[], 50_000);
    let own = IWallet::ownBalanceCall {}.abi_encode();
    assert_eq!(
        decode_u256(&chain.view_returns(wallet, own.clone())),
        u256(50_000)
    );
    chain.send(wallet, 20_000, GAS, vec![]);
    assert_eq!(
        decode_u256(&chain.view_returns(wallet, own.clone())),
        u256(70_000)
    );

    let payee = Address([0x0e; 20]);
    chain.seen.insert(payee);
    let list_before = chain
        .ledger
        .store()
        .account_or_default(&payee)
        .expect("reads");
    chain.call(
        wallet,
        IWallet::payCall {
            to: evm(payee),
            amount: u256(30_000),
        }
        .abi_encode(),
    );
    let payee_after = chain
        .ledger
        .store()
        .account_or_default(&payee)
        .expect("reads");
    assert_eq!(amount(payee_after.balance), u256(30_000));
    assert_eq!(
        payee_after.transaction_count, list_before.transaction_count,
        "value moved inside the EVM adds nothing to the receiver's transaction list"
    );
    assert_eq!(chain.balance(&wallet), u256(40_000));

    // From Cancun on, SELFDESTRUCT of an existing contract only sends its
    // balance away: the code stays.
    let code = chain.ledger.store().code(&wallet).expect("reads");
    assert!(code.as_ref().is_some_and(|code| !code.is_empty()));
    chain.call(wallet, IWallet::destroyCall { to: evm(payee) }.abi_encode());
    assert_eq!(chain.balance(&payee), u256(70_000));
    assert_eq!(chain.balance(&wallet), U256::ZERO);
    assert_eq!(chain.ledger.store().code(&wallet).expect("reads"), code);
}

#[test]
fn blockhash_block_number_and_chain_id_are_the_chains() {
    let mut chain = Chain::with_settings(GenesisSettings {
        chain_id: 4242,
        ..GenesisSettings::default()
    });
    let blocks = chain.deploy("Blocks", &[], 0);
    chain.call(blocks, IBlocks::recordCall {}.abi_encode());
    let tip = chain.ledger.tip().expect("tip");
    let previous = chain
        .ledger
        .store()
        .block_hash_at(tip.depth - 1)
        .expect("reads")
        .expect("stored");
    let recorded = chain.view_returns(blocks, IBlocks::recordedHashCall {}.abi_encode());
    assert_eq!(recorded, previous.0.to_vec());
    let number = chain.view_returns(blocks, IBlocks::recordedNumberCall {}.abi_encode());
    assert_eq!(decode_u256(&number), u256(tip.depth));
    let coinbase = chain.view_returns(blocks, IBlocks::recordedCoinbaseCall {}.abi_encode());
    assert_eq!(&coinbase[12..], &chain.coinbase.0);
    // A view call runs as if in the next block: its previous block is the tip.
    let view = chain.view_returns(blocks, IBlocks::previousHashCall {}.abi_encode());
    assert_eq!(view, tip.hash.0.to_vec());
    let id = chain.view_returns(blocks, IBlocks::chainIdCall {}.abi_encode());
    assert_eq!(decode_u256(&id), u256(4242));
}

#[test]
fn erc20_transfers_and_allowances_emit_transfer_logs() {
    let mut chain = Chain::new();
    let supply = u256(1_000_000);
    let token = chain.deploy("Token", &alloy_sol_types::SolValue::abi_encode(&supply), 0);
    let owner = evm(chain.key.address());
    let alice = EvmAddress::repeat_byte(0xa1);
    let spender_key = SecretKey::from_hex(&"5e".repeat(32)).expect("a key");
    let spender = evm(spender_key.address());

    let tx = chain.sign(
        &chain.key.clone(),
        token,
        0,
        GAS,
        IToken::transferCall {
            to: alice,
            value: u256(250),
        }
        .abi_encode(),
    );
    let hash = tx.hash();
    assert_eq!(chain.apply(tx).status_code, StatusCode::Success);
    let logs = chain.ledger.store().logs(&hash).expect("reads");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, token);
    assert_eq!(logs[0].topics[0], IToken::Transfer::SIGNATURE_HASH.0);
    assert_eq!(
        logs[0].topics[1],
        B256::left_padding_from(owner.as_slice()).0
    );
    assert_eq!(
        logs[0].topics[2],
        B256::left_padding_from(alice.as_slice()).0
    );
    assert_eq!(decode_u256(&logs[0].data), u256(250));

    chain.call(
        token,
        IToken::approveCall {
            spender,
            value: u256(100),
        }
        .abi_encode(),
    );
    chain.send(spender_key.address(), 1_000_000, 1, vec![]);
    let from = IToken::transferFromCall {
        from: owner,
        to: alice,
        value: u256(60),
    }
    .abi_encode();
    let tx = chain.sign(&spender_key, token, 0, 200_000, from.clone());
    assert_eq!(chain.apply(tx).status_code, StatusCode::Success);
    // More than what is left of the allowance reverts, and keeps no logs.
    let tx = chain.sign(&spender_key, token, 0, 200_000, from);
    let hash = tx.hash();
    assert_eq!(chain.apply(tx).status_code, StatusCode::Revert);
    assert_eq!(chain.ledger.store().logs(&hash).expect("reads"), vec![]);

    let balance = |chain: &mut Chain, who| {
        decode_u256(&chain.view_returns(token, IToken::balanceOfCall { owner: who }.abi_encode()))
    };
    assert_eq!(balance(&mut chain, alice), u256(310));
    assert_eq!(balance(&mut chain, owner), u256(1_000_000 - 310));
    let allowance = IToken::allowanceCall { owner, spender }.abi_encode();
    assert_eq!(decode_u256(&chain.view_returns(token, allowance)), u256(40));
}

#[test]
fn create2_and_create_deploy_at_ethereums_addresses() {
    let mut chain = Chain::new();
    let factory = chain.deploy("Factory", &[], 0);
    let salt = B256::repeat_byte(0x51);
    let status = chain.call(
        factory,
        IFactory::deployCall {
            salt,
            tag: u256(77),
        }
        .abi_encode(),
    );
    let returned = ledger_core::decode_base64(&status.message).expect("base64");
    let init = [
        artifact("Child").init_code(),
        alloy_sol_types::SolValue::abi_encode(&u256(77)),
    ]
    .concat();
    let expected = evm(factory).create2(salt, keccak256(&init));
    assert_eq!(&returned[12..], expected.as_slice());
    let child = ledger(expected);
    assert_eq!(
        decode_u256(&chain.view_returns(child, IChild::tagCall {}.abi_encode())),
        u256(77)
    );
    // The factory's EVM nonce counts its creations: 1, then 2.
    assert_eq!(chain.nonce(&factory), 2);
    let status = chain.call(
        factory,
        IFactory::deployPlainCall { tag: u256(1) }.abi_encode(),
    );
    let returned = ledger_core::decode_base64(&status.message).expect("base64");
    assert_eq!(&returned[12..], evm(factory).create(2).as_slice());
    assert_eq!(chain.nonce(&factory), 3);
}

#[test]
fn out_of_gas_fails_and_charges_the_whole_fee() {
    let mut chain = Chain::new();
    let storage = chain.deploy("Storage", &[], 0);
    let sender = chain.key.address();
    let before = chain.balance(&sender);
    let status = chain.send(storage, 0, 60_000, IStorage::burnCall {}.abi_encode());
    assert_eq!(status.status_code, StatusCode::Failed, "{status:?}");
    assert_eq!(status.fee_left, 0);
    assert_eq!(status.message, "out of gas");
    assert_eq!(chain.balance(&sender), before - u256(60_000));
    // Nothing it wrote stayed.
    let get = chain.view_returns(storage, IStorage::getCall {}.abi_encode());
    assert_eq!(decode_u256(&get), u256(8888));
}

#[test]
fn a_view_call_that_reverts_gives_its_reason_and_data() {
    let mut chain = Chain::new();
    let storage = chain.deploy("Storage", &[], 0);
    let ok = IStorage::atLeastCall { minimum: u256(10) }.abi_encode();
    assert_eq!(decode_u256(&chain.view_returns(storage, ok)), u256(8888));
    let fails = IStorage::atLeastCall {
        minimum: u256(9999),
    }
    .abi_encode();
    match chain.view(storage, fails) {
        ViewOutcome::Reverted { data, reason } => {
            assert_eq!(
                reason.as_deref(),
                Some("revert: value is below the minimum")
            );
            assert!(!data.is_empty());
        }
        other => panic!("expected a revert: {other:?}"),
    }
}

#[test]
fn a_fee_below_the_intrinsic_gas_or_above_the_block_limit_is_refused_at_admission() {
    let mut chain = Chain::new();
    let storage = chain.deploy("Storage", &[], 0);
    let key = chain.key.clone();
    let set = IStorage::setCall { newValue: u256(1) }.abi_encode();
    for (to, fee, data) in [
        (storage, 20_999, set.clone()),
        (Address::NULL, 53_000, artifact("Storage").init_code()),
        (storage, 30_000_001, set),
    ] {
        let tx = chain.sign(&key, to, 0, fee, data);
        let status = chain.ledger.push(&tx.to_raw()).expect("answers");
        assert_eq!(status.status_code, StatusCode::BadQueryForm, "{status:?}");
        assert!(status.message.contains("fee"), "{}", status.message);
    }
    // A transfer to a client account pays any fee.
    let tx = chain.sign(&key, Address([7; 20]), 1, 1, vec![]);
    assert_eq!(chain.apply(tx).status_code, StatusCode::Success);
}

#[test]
fn contract_fees_in_one_block_stay_within_the_block_gas_limit() {
    let mut chain = Chain::with_settings(GenesisSettings {
        block_gas_limit: 3_000_000,
        ..GenesisSettings::default()
    });
    let storage = chain.deploy("Storage", &[], 0);
    let key = chain.key.clone();
    let hashes: Vec<Hash> = (0..3)
        .map(|n| {
            let data = IStorage::setCall { newValue: u256(n) }.abi_encode();
            let tx = chain.sign(&key, storage, 0, 1_200_000, data);
            chain.ledger.push(&tx.to_raw()).expect("pushes");
            tx.hash()
        })
        .collect();
    chain.time += 1;
    let first = chain
        .ledger
        .produce_block(chain.time, chain.coinbase)
        .expect("ok")
        .expect("a block");
    assert_eq!(
        first.block.transactions.len(),
        2,
        "two fees of 1,200,000 fit 3,000,000, three do not"
    );
    let second = chain
        .ledger
        .produce_block(chain.time, chain.coinbase)
        .expect("ok")
        .expect("a block");
    assert_eq!(second.block.transactions.len(), 1);
    for hash in hashes {
        assert_eq!(chain.status(&hash).status_code, StatusCode::Success);
    }
    chain.check_supply();
}

#[test]
fn a_block_whose_contract_fees_pass_the_block_gas_limit_is_refused_on_import() {
    let mut chain = Chain::with_settings(GenesisSettings {
        block_gas_limit: 3_000_000,
        ..GenesisSettings::default()
    });
    let storage = chain.deploy("Storage", &[], 0);
    let key = chain.key.clone();
    let transactions = (0..3)
        .map(|n| {
            let data = IStorage::setCall { newValue: u256(n) }.abi_encode();
            ledger_core::Sealable::seal(chain.sign(&key, storage, 0, 1_200_000, data))
        })
        .collect();
    let tip = chain.ledger.tip().expect("tip");
    let block = ledger_core::Block {
        depth: tip.depth + 1,
        nonce: 0,
        timestamp: tip.timestamp,
        previous_block_hash: tip.hash,
        coinbase: chain.coinbase,
        transactions,
    };
    match chain.ledger.import_block(block) {
        Err(ledger_core::CoreError::InvalidBlock {
            reason: ledger_core::BlockError::GasLimit { gas, limit },
            ..
        }) => assert_eq!((gas, limit), (3_600_000, 3_000_000)),
        other => panic!("expected the gas limit to refuse the block: {other:?}"),
    }
    assert_eq!(chain.ledger.tip().expect("tip"), tip);
}

#[test]
fn the_fork_is_the_genesis_one_and_older_forks_refuse_newer_opcodes() {
    // CLZ (0x1e) arrived with Osaka: `PUSH1 1 CLZ PUSH1 0 MSTORE PUSH1 32
    // PUSH1 0 RETURN` as init code returns 255 on Osaka, halts on Cancun.
    let init = vec![
        0x60, 0x01, 0x1e, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
    ];
    let mut osaka = Chain::new();
    assert_eq!(osaka.ledger.settings().evm_fork, EvmFork::Osaka);
    let status = osaka.send(Address::NULL, 0, GAS, init.clone());
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let mut cancun = Chain::with_settings(GenesisSettings {
        evm_fork: Some(EvmFork::Cancun),
        ..GenesisSettings::default()
    });
    let status = cancun.send(Address::NULL, 0, GAS, init);
    assert_eq!(status.status_code, StatusCode::Failed, "{status:?}");
    assert_eq!(
        status.message,
        "invalid opcode: not active in this chain's fork"
    );
}

/// Found by the `contracts` fuzz target (as a wrong assumption of its
/// own): init code that returns no code is a successful creation, as on
/// Ethereum; the account keeps the value sent, holds no code, stays a
/// client, and a later call to it moves value like a transfer.
#[test]
fn init_code_that_returns_nothing_creates_an_account_without_code() {
    let mut chain = Chain::new();
    let key = chain.key.clone();
    let code = Vec::new();
    let tx = chain.sign(&key, Address::NULL, 7, GAS, code.clone());
    let nonce = chain.nonce(&key.address()) + 1;
    let address = contract_address(&code, &key.address(), nonce);
    chain.seen.insert(address);
    let status = chain.apply(tx);
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    assert_eq!(status.action_type, ActionType::ContractCreation);
    assert_eq!(status.message, address.to_string());
    let state = chain.ledger.store();
    assert_eq!(state.code(&address).expect("reads"), None);
    let account = state.account_or_default(&address).expect("reads");
    assert_eq!(account.kind, ledger_core::AccountKind::Client);
    assert_eq!(chain.balance(&address), u256(7));

    let status = chain.send(address, 5, 21_000, vec![1, 2, 3]);
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    assert_eq!(status.action_type, ActionType::Transfer);
    assert_eq!(chain.balance(&address), u256(12));
}

impl Chain {
    /// The node's estimate for a transaction from the dev key.
    fn estimate(&mut self, to: Address, amount: u64, data: Vec<u8>) -> ledger_core::FeeEstimate {
        let request = ledger_core::FeeRequest {
            from: self.key.address(),
            to,
            amount: Balance::from(amount),
            data,
        };
        self.ledger.estimate_fee(&request).expect("estimates")
    }

    /// The fee the estimate found, asserting it found one.
    fn estimated_fee(&mut self, to: Address, data: Vec<u8>) -> u64 {
        match self.estimate(to, 0, data) {
            ledger_core::FeeEstimate::Fits { fee, runs, .. } => {
                assert!(runs <= 20, "{runs} runs to estimate");
                fee
            }
            other => panic!("expected a fee, got {other:?}"),
        }
    }
}

/// The estimate is the smallest fee that succeeds: sent with it, a call
/// and a creation succeed; with one less, each runs out of gas and keeps
/// the whole fee. Nothing the estimate ran was written.
#[test]
fn the_estimate_is_the_smallest_fee_that_succeeds() {
    let mut chain = Chain::new();
    let storage = chain.deploy("Storage", &[], 0);
    let set = IStorage::setCall { newValue: u256(42) }.abi_encode();
    let tip = chain.ledger.tip().expect("tip");
    let fee = chain.estimated_fee(storage, set.clone());
    assert_eq!(
        chain.ledger.tip().expect("tip"),
        tip,
        "the estimate wrote nothing"
    );
    let short = chain.send(storage, 0, fee - 1, set.clone());
    assert_eq!(short.status_code, StatusCode::Failed, "{short:?}");
    assert_eq!(short.fee_left, 0, "out of gas keeps the whole fee");
    let exact = chain.send(storage, 0, fee, set);
    assert_eq!(exact.status_code, StatusCode::Success, "{exact:?}");

    // A creation, its address depending on the sender's nonce: the same.
    let code = artifact("Storage").init_code();
    let fee = chain.estimated_fee(Address::NULL, code.clone());
    let short = chain.send(Address::NULL, 0, fee - 1, code.clone());
    assert_eq!(short.status_code, StatusCode::Failed, "{short:?}");
    let exact = chain.send(Address::NULL, 0, fee, code);
    assert_eq!(exact.status_code, StatusCode::Success, "{exact:?}");
    chain
        .seen
        .insert(exact.message.parse().expect("an address"));
    chain.check_supply();
}

/// What the estimate cannot give: a transfer needs no fee; a call that
/// reverts whatever its fee says why, with its data; a sender who cannot
/// pay is told so; a loop that burns all gas fails at the cap.
#[test]
fn an_estimate_says_why_there_is_no_fee() {
    let mut chain = Chain::new();
    let storage = chain.deploy("Storage", &[], 0);
    match chain.estimate(Address([0x77; 20]), 5, Vec::new()) {
        ledger_core::FeeEstimate::Fits {
            fee: 0,
            gas_used: 0,
            action: ActionType::Transfer,
            ..
        } => {}
        other => panic!("a transfer needs no fee: {other:?}"),
    }
    let below = IStorage::atLeastCall {
        minimum: u256(10_000),
    }
    .abi_encode();
    match chain.estimate(storage, 0, below) {
        ledger_core::FeeEstimate::Fails {
            outcome: ViewOutcome::Reverted { reason, data },
            ..
        } => {
            assert_eq!(
                reason.as_deref(),
                Some("revert: value is below the minimum")
            );
            assert!(!data.is_empty());
        }
        other => panic!("expected a revert, got {other:?}"),
    }
    match chain.estimate(storage, 0, IStorage::burnCall {}.abi_encode()) {
        ledger_core::FeeEstimate::Fails {
            outcome: ViewOutcome::Halted(_),
            cap,
            ..
        } => assert_eq!(cap, chain.ledger.settings().block_gas_limit),
        other => panic!("expected a halt, got {other:?}"),
    }
    let poor = SecretKey::generate();
    let request = ledger_core::FeeRequest {
        from: poor.address(),
        to: storage,
        amount: Balance::ZERO,
        data: IStorage::setCall { newValue: u256(1) }.abi_encode(),
    };
    match chain.ledger.estimate_fee(&request).expect("estimates") {
        ledger_core::FeeEstimate::Unaffordable { balance, fee, .. } => {
            assert_eq!(balance, Balance::ZERO);
            assert!(fee > 21_000, "{fee}");
        }
        other => panic!("expected the sender unable to pay, got {other:?}"),
    }
}
