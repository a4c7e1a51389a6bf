//! Contracts end to end: the real `ledger-node` binary, Solidity artifacts
//! from contracts/artifacts, driven over its WebSocket API and its CLI.

mod support;

use std::path::PathBuf;
use std::process::Command;

use alloy_sol_types::{sol, SolCall, SolEvent, SolValue};
use futures_util::StreamExt;
use ledger_core::{
    contract_address, decode_base64, ActionType, Address, SecretKey, StatusCode, ViewCall,
};
use ledger_vm::artifact::Artifact;
use ledger_ws::protocol::{LogFilter, LogsEvent};
use ledger_ws::{ErrorCode, WsError};
use serde_json::Value;
use support::{check_supply, dev_key, dev_tx, Node, BINARY};

sol! {
    interface IStorage {
        function get() external view returns (uint256);
        function set(uint256 newValue) external;
        function atLeast(uint256 minimum) external view returns (uint256);
    }
    interface IToken {
        event Transfer(address indexed from, address indexed to, uint256 value);
        function transfer(address to, uint256 value) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
    }
}

const GAS: u64 = 3_000_000;

fn artifact_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../contracts/artifacts/{name}.json"))
}

fn init_code(name: &str) -> Vec<u8> {
    Artifact::read(artifact_path(name))
        .expect("reads")
        .init_code()
}

fn view(to: Address, data: &[u8]) -> ledger_core::RawViewCall {
    ViewCall::sign_raw(&dev_key(), to, 1_800_000_000, data)
}

fn word(output: &str) -> alloy_primitives::U256 {
    alloy_primitives::U256::from_be_slice(&decode_base64(output).expect("base64"))
}

fn balance(info: &ledger_ws::AccountInfo) -> alloy_primitives::U256 {
    alloy_primitives::U256::from_be_bytes(info.balance.to_be_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storage_contract_deploys_answers_and_survives_a_restart() {
    let node = Node::start();
    let client = node.client().await;
    let sender = dev_key().address();
    let code = init_code("Storage");
    let deploy = dev_tx(Address::NULL, 0, GAS, code.clone(), 1);
    let status = client
        .push_and_wait(&deploy.to_raw())
        .await
        .expect("deploys");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    assert_eq!(status.action_type, ActionType::ContractCreation);
    let storage = contract_address(&code, &sender, 1);
    assert_eq!(status.message, storage.to_string());
    let info = client.account_info(&storage).await.expect("account");
    assert_eq!(serde_json::to_value(info.kind).expect("json"), "contract");
    assert_eq!(info.transaction_hashes, vec![deploy.hash()]);

    let get = IStorage::getCall {}.abi_encode();
    let answer = client
        .call_contract_view(&view(storage, &get))
        .await
        .expect("view");
    assert_eq!(word(&answer), alloy_primitives::U256::from(8888));

    let before = balance(&client.account_info(&sender).await.expect("account"));
    let set = IStorage::setCall {
        newValue: alloy_primitives::U256::from(5555),
    }
    .abi_encode();
    let status = client
        .push_and_wait(&dev_tx(storage, 0, 100_000, set, 2).to_raw())
        .await
        .expect("sets");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let used = 100_000 - status.fee_left;
    let after = balance(&client.account_info(&sender).await.expect("account"));
    assert_eq!(before - after, alloy_primitives::U256::from(used));
    check_supply(&client, &[sender, node.coinbase, storage]).await;

    // A view call that reverts: execution_failed with the reason and data.
    let fails = IStorage::atLeastCall {
        minimum: alloy_primitives::U256::from(9999),
    }
    .abi_encode();
    match client.call_contract_view(&view(storage, &fails)).await {
        Err(WsError::Api(error)) => {
            assert_eq!(error.code, ErrorCode::ExecutionFailed);
            assert_eq!(error.message, "revert: value is below the minimum");
            let data = decode_base64(error.data.as_deref().expect("data")).expect("base64");
            assert_eq!(
                alloy_sol_types::decode_revert_reason(&data).as_deref(),
                Some("revert: value is below the minimum")
            );
        }
        other => panic!("expected execution_failed, got {other:?}"),
    }
    // No contract there: not_found.
    match client.call_contract_view(&view(sender, &get)).await {
        Err(WsError::Api(error)) => assert_eq!(error.code, ErrorCode::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }

    // Code and storage are stored with their blocks: a restart keeps them.
    drop(client);
    let coinbase = node.coinbase;
    let (_, temp, dir) = node.stop();
    let node = Node::start_in(&dir, &[]).expect("restarts");
    let client = node.client().await;
    let answer = client
        .call_contract_view(&view(storage, &get))
        .await
        .expect("view");
    assert_eq!(word(&answer), alloy_primitives::U256::from(5555));
    check_supply(&client, &[sender, coinbase, storage]).await;
    drop(temp);
}

#[tokio::test(flavor = "multi_thread")]
async fn erc20_transfer_logs_reach_find_transaction_logs_and_the_logs_subscription() {
    let node = Node::start();
    let client = node.client().await;
    let sender = dev_key().address();
    let code = [
        init_code("Token"),
        alloy_primitives::U256::from(1_000_000).abi_encode(),
    ]
    .concat();
    let status = client
        .push_and_wait(&dev_tx(Address::NULL, 0, GAS, code.clone(), 1).to_raw())
        .await
        .expect("deploys");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let token = contract_address(&code, &sender, 1);

    let transfer_topic = ledger_core::Hash(IToken::Transfer::SIGNATURE_HASH.0);
    let mut all = client
        .subscribe_logs(&LogFilter {
            address: Some(token),
            topics: vec![Some(transfer_topic)],
        })
        .await
        .expect("subscribes");
    let mut other_contract = client
        .subscribe_logs(&LogFilter {
            address: Some(Address([9; 20])),
            topics: vec![],
        })
        .await
        .expect("subscribes");
    let Some(Ok(LogsEvent::Started(start))) = all.next().await else {
        panic!("the subscription starts with from_block");
    };
    assert!(matches!(
        other_contract.next().await,
        Some(Ok(LogsEvent::Started(_)))
    ));

    let alice = Address([0xa1; 20]);
    let mut hashes = Vec::new();
    for (n, value) in [(2, 250u64), (3, 40)] {
        let data = IToken::transferCall {
            to: alloy_primitives::Address::from(alice.0),
            value: alloy_primitives::U256::from(value),
        }
        .abi_encode();
        let tx = dev_tx(token, 0, 200_000, data, n);
        let status = client.push_and_wait(&tx.to_raw()).await.expect("transfers");
        assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
        hashes.push(tx.hash());
    }
    let logs = client
        .find_transaction_logs(&hashes[0])
        .await
        .expect("logs");
    assert_eq!(logs.logs.len(), 1);
    assert_eq!(logs.logs[0].address, token);
    assert_eq!(logs.logs[0].topics[0], transfer_topic);
    assert_eq!(logs.logs[0].topics[2].0[12..], alice.0);
    assert_eq!(word(&logs.logs[0].data), alloy_primitives::U256::from(250));

    for (hash, value) in hashes.iter().zip([250u64, 40]) {
        let Some(Ok(LogsEvent::Log(message))) = all.next().await else {
            panic!("a log message");
        };
        assert!(message.block_number > start.from_block);
        assert_eq!(message.transaction_hash, *hash);
        assert_eq!(message.log_index, 0);
        assert_eq!(word(&message.data), alloy_primitives::U256::from(value));
    }
    // The other filter saw nothing: its next message would be a log of a
    // later block, and unsubscribing answers at once.
    assert!(client
        .unsubscribe(
            "logs",
            LogFilter {
                address: Some(Address([9; 20])),
                topics: vec![]
            }
            .to_args()
        )
        .await
        .expect("unsubscribes"));

    // A transfer and a pending or unknown hash.
    let plain = dev_tx(Address([7; 20]), 1, 1, vec![], 9);
    client
        .push_and_wait(&plain.to_raw())
        .await
        .expect("transfers");
    assert!(client
        .find_transaction_logs(&plain.hash())
        .await
        .expect("logs")
        .logs
        .is_empty());
    match client
        .find_transaction_logs(&ledger_core::Hash([5; 32]))
        .await
    {
        Err(WsError::Api(error)) => assert_eq!(error.code, ErrorCode::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
    let balance_of = IToken::balanceOfCall {
        owner: alloy_primitives::Address::from(alice.0),
    }
    .abi_encode();
    let answer = client
        .call_contract_view(&view(token, &balance_of))
        .await
        .expect("view");
    assert_eq!(word(&answer), alloy_primitives::U256::from(290));
    check_supply(&client, &[sender, node.coinbase, token, Address([7; 20])]).await;
}

fn cli(node: &Node, args: &[&str]) -> (bool, Value) {
    let output = Command::new(BINARY)
        .args(args)
        .args(["--node", &node.url, "--json"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "not JSON: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), value)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_deploys_calls_views_and_shows_logs() {
    let node = Node::start();
    let temp = tempfile::tempdir().expect("temp dir");
    let key = temp.path().join("dev.key");
    dev_key().save(&key).expect("saves");
    let key = key.display().to_string();
    let token = artifact_path("Token").display().to_string();

    let (ok, deployed) = cli(
        &node,
        &[
            "deploy",
            "--key",
            &key,
            "--code",
            &token,
            "--args",
            "constructor(uint256)",
            "1000000",
            "--fee",
            "2000000",
        ],
    );
    assert!(ok, "{deployed}");
    let address = deployed["address"].as_str().expect("an address").to_owned();
    let receiver = SecretKey::generate().address().to_string();

    let call = |args: &[&str]| {
        let head = ["call", "--key", key.as_str(), "--to", address.as_str()];
        cli(&node, &[&head[..], args].concat())
    };
    let (ok, called) = call(&[
        "--sig",
        "transfer(address,uint256)(bool)",
        &receiver,
        "250",
        "--fee",
        "100000",
    ]);
    assert!(ok, "{called}");
    assert_eq!(called["status"]["status_code"], 0);
    assert_eq!(called["decoded"], serde_json::json!(["true"]));

    let (ok, viewed) = call(&["--view", "--sig", "balanceOf(address)(uint256)", &receiver]);
    assert!(ok, "{viewed}");
    assert_eq!(viewed["decoded"], serde_json::json!(["250"]));

    let hash = called["hash"].as_str().expect("a hash");
    let (ok, logs) = cli(&node, &["logs", hash]);
    assert!(ok, "{logs}");
    assert_eq!(logs["logs"].as_array().expect("logs").len(), 1);
    assert_eq!(logs["logs"][0]["address"], address.as_str());

    // Too much: the token reverts. Sent anyway (--no-check), the command
    // says so, decodes OpenZeppelin's custom error by the artifact's ABI,
    // and fails.
    let (ok, reverted) = call(&[
        "--sig",
        "transfer",
        "--abi",
        &token,
        &receiver,
        "99999999",
        "--fee",
        "100000",
        "--no-check",
    ]);
    assert!(!ok);
    assert_eq!(reverted["status"]["status_code"], 5);
    let sender = dev_key().address();
    assert_eq!(
        reverted["revert"],
        format!("ERC20InsufficientBalance(sender={sender}, balance=999750, needed=99999999)")
    );
    assert!(reverted["gas_used"].as_u64().expect("gas used") > 21_000);
    assert!(reverted["block"].as_u64().expect("its block") > 0);
}

/// The output of a command expected to fail: its one stderr line.
fn refused(node: &Node, args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .args(args)
        .args(["--node", &node.url])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// What a Solidity developer meets: estimates, mistakes refused before
/// anything is signed (nothing spent), custom errors by name, code and
/// storage readable.
#[tokio::test(flavor = "multi_thread")]
async fn mistakes_are_refused_before_they_cost_and_estimates_are_what_runs_use() {
    let node = Node::start();
    let client = node.client().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let key_file = temp.path().join("dev.key");
    dev_key().save(&key_file).expect("saves");
    let key = key_file.display().to_string();
    let sender = dev_key().address();
    let nonce = || async { client.account_info(&sender).await.expect("account").nonce };
    let token = artifact_path("Token").display().to_string();
    let storage_artifact = artifact_path("Storage").display().to_string();
    let auction_artifact = artifact_path("Auction").display().to_string();
    let before = nonce().await;

    // A missing constructor argument: refused, nothing signed.
    let line = refused(
        &node,
        &["deploy", "--key", &key, "--code", &token, "--fee", "auto"],
    );
    assert!(
        line.contains("the constructor takes 1 argument (uint256 supply), 0 given"),
        "{line}"
    );
    // A call to an address without code: refused, nothing spent.
    let client_address = SecretKey::generate().address().to_string();
    let line = refused(
        &node,
        &[
            "call",
            "--key",
            &key,
            "--to",
            &client_address,
            "--sig",
            "set(uint256)",
            "5",
            "--fee",
            "100000",
        ],
    );
    assert!(
        line.contains("holds no contract code: this would be a plain transfer")
            && line.contains("--allow-no-code"),
        "{line}"
    );
    assert_eq!(nonce().await, before, "nothing was sent");

    // --fee auto deploys the token (its argument checked by the ABI) and
    // the storage contract.
    let (ok, deployed) = cli(
        &node,
        &[
            "deploy", "--key", &key, "--code", &token, "--args", "1000", "--fee", "auto",
        ],
    );
    assert!(ok, "{deployed}");
    let token_address = deployed["address"].as_str().expect("address").to_owned();
    let (ok, deployed) = cli(
        &node,
        &[
            "deploy",
            "--key",
            &key,
            "--code",
            &storage_artifact,
            "--fee",
            "auto",
        ],
    );
    assert!(ok, "{deployed}");
    let storage: Address = deployed["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("an address");

    // Code and storage, over the API and the CLI.
    let code = client.account_code(&storage).await.expect("code");
    let artifact = Artifact::read(artifact_path("Storage")).expect("reads");
    assert_eq!(code, artifact.deployed_code());
    assert!(client.account_code(&sender).await.expect("code").is_empty());
    let (ok, shown) = cli(&node, &["code", &format!("0x{}", hex::encode(storage.0))]);
    assert!(ok);
    assert_eq!(shown["code"], format!("0x{}", hex::encode(&code)));
    assert_eq!(
        shown["address"],
        format!("0x{}", hex::encode(storage.0)),
        "the form given"
    );
    let slot0 = |value: u64| {
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&value.to_be_bytes());
        word
    };
    assert_eq!(
        client
            .account_storage(&storage, &[0; 32])
            .await
            .expect("slot"),
        slot0(8888)
    );
    let storage_text = storage.to_string();
    let (ok, _) = cli(
        &node,
        &[
            "call",
            "--key",
            &key,
            "--to",
            &storage_text,
            "--abi",
            &storage_artifact,
            "--sig",
            "set",
            "77",
            "--fee",
            "auto",
        ],
    );
    assert!(ok);
    assert_eq!(
        client
            .account_storage(&storage, &[0; 32])
            .await
            .expect("slot"),
        slot0(77)
    );
    let (ok, slot) = cli(&node, &["storage", &storage_text, "0"]);
    assert!(ok);
    assert_eq!(slot["value"], format!("0x{}", hex::encode(slot0(77))));

    // The estimate is the gas a real run then uses: a creation and a call.
    let init = init_code("Storage");
    let estimate = client
        .estimate_fee(&sender, &Address::NULL, ledger_core::Balance::ZERO, &init)
        .await
        .expect("an estimate");
    let fee: u64 = estimate.fee.parse().expect("decimal");
    let status = client
        .push_and_wait(&dev_tx(Address::NULL, 0, fee, init, 900).to_raw())
        .await
        .expect("deploys");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    assert_eq!((fee - status.fee_left).to_string(), estimate.gas_used);
    let set = IStorage::setCall {
        newValue: alloy_primitives::U256::from(9),
    }
    .abi_encode();
    let estimate = client
        .estimate_fee(&sender, &storage, ledger_core::Balance::ZERO, &set)
        .await
        .expect("an estimate");
    let fee: u64 = estimate.fee.parse().expect("decimal");
    let status = client
        .push_and_wait(&dev_tx(storage, 0, fee, set, 901).to_raw())
        .await
        .expect("calls");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    assert_eq!((fee - status.fee_left).to_string(), estimate.gas_used);
    // A reverting call: execution_failed, with its reason and data.
    let below = IStorage::atLeastCall {
        minimum: alloy_primitives::U256::from(10_000),
    }
    .abi_encode();
    match client
        .estimate_fee(&sender, &storage, ledger_core::Balance::ZERO, &below)
        .await
    {
        Err(WsError::Api(error)) => {
            assert_eq!(error.code, ErrorCode::ExecutionFailed);
            assert!(
                error.message.contains("revert: value is below the minimum"),
                "{}",
                error.message
            );
            assert!(!error.data.unwrap_or_default().is_empty());
        }
        other => panic!("expected execution_failed, got {other:?}"),
    }

    // An Auction bid: a guessed low fee is refused before it is sent (it
    // would run out of gas and keep the fee); --fee auto succeeds.
    let beneficiary = SecretKey::generate().address().to_string();
    let (ok, deployed) = cli(
        &node,
        &[
            "deploy",
            "--key",
            &key,
            "--code",
            &auction_artifact,
            "--args",
            &beneficiary,
            "--fee",
            "auto",
        ],
    );
    assert!(ok, "{deployed}");
    let auction = deployed["address"].as_str().expect("address").to_owned();
    let bid = |fee: &str| {
        vec![
            "call".to_owned(),
            "--key".to_owned(),
            key.clone(),
            "--to".to_owned(),
            auction.clone(),
            "--abi".to_owned(),
            auction_artifact.clone(),
            "--sig".to_owned(),
            "bid".to_owned(),
            "--amount".to_owned(),
            "500".to_owned(),
            "--fee".to_owned(),
            fee.to_owned(),
        ]
    };
    let before = nonce().await;
    let low = bid("30000");
    let line = refused(&node, &low.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        line.contains("--fee 30000 is below the") && line.contains("--fee auto"),
        "{line}"
    );
    assert_eq!(nonce().await, before, "nothing was sent");
    let auto = bid("auto");
    let (ok, bid) = cli(&node, &auto.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "{bid}");
    assert_eq!(bid["status"]["status_code"], 0);

    // ERC20InsufficientBalance by name: in a view (no key needed), and
    // before a call is sent.
    let nobody = SecretKey::generate().address().to_string();
    let line = refused(
        &node,
        &[
            "call",
            "--view",
            "--to",
            &token_address,
            "--abi",
            &token,
            "--sig",
            "transfer",
            &nobody,
            "5000",
        ],
    );
    assert!(
        line.contains("the view call reverted: ERC20InsufficientBalance(sender=")
            && line.contains("balance=0, needed=5000)")
            && line.contains("(revert data 0x"),
        "{line}"
    );
    let line = refused(
        &node,
        &[
            "call",
            "--key",
            &key,
            "--to",
            &token_address,
            "--abi",
            &token,
            "--sig",
            "transfer",
            &nobody,
            "5000",
            "--fee",
            "auto",
        ],
    );
    assert!(
        line.contains(
            "it would fail whatever its fee, so nothing was sent: ERC20InsufficientBalance(sender="
        ) && line.contains("balance=1000, needed=5000)"),
        "{line}"
    );
    // A function the artifact does not have: named, nothing sent.
    let line = refused(
        &node,
        &[
            "call",
            "--key",
            &key,
            "--to",
            &token_address,
            "--abi",
            &token,
            "--sig",
            "mint",
            "5",
            "--fee",
            "auto",
        ],
    );
    assert!(line.contains("Token.json has no function mint"), "{line}");

    // `estimate` alone, and the logs of a call decoded by the ABI.
    let (ok, estimate) = cli(
        &node,
        &[
            "estimate",
            "--key",
            &key,
            "--to",
            &token_address,
            "--abi",
            &token,
            "--sig",
            "transfer",
            &nobody,
            "5",
        ],
    );
    assert!(ok, "{estimate}");
    assert_eq!(estimate["action_type"], 2);
    let (ok, sent) = cli(
        &node,
        &[
            "call",
            "--key",
            &key,
            "--to",
            &token_address,
            "--abi",
            &token,
            "--sig",
            "transfer",
            &nobody,
            "5",
            "--fee",
            "auto",
        ],
    );
    assert!(ok, "{sent}");
    let (ok, logs) = cli(
        &node,
        &[
            "logs",
            sent["hash"].as_str().expect("hash"),
            "--abi",
            &token,
        ],
    );
    assert!(ok, "{logs}");
    assert_eq!(
        logs["logs"][0]["event"],
        format!("Transfer(from={sender}, to={nobody}, value=5)")
    );
}

sol! {
    interface IAuction {
        function bid() external payable;
    }
    interface IBlocks {
        function record() external;
        function recordedHash() external view returns (bytes32);
    }
    interface IFactory {
        function deploy(bytes32 salt, uint256 tag) external returns (address);
    }
    interface IBurn {
        function burn() external;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reverts_blockhash_create2_and_out_of_gas_over_the_api() {
    let node = Node::start();
    let client = node.client().await;
    let sender = dev_key().address();
    // Each transaction from the dev key gets the next number; the deploys
    // come first, so the n-th is applied with the sender's nonce n.
    let n = std::cell::Cell::new(0u32);
    let next = || {
        n.set(n.get() + 1);
        n.get()
    };
    let deploy = |name: &str, args: Vec<u8>| {
        let code = [init_code(name), args].concat();
        let nonce = next();
        let address = contract_address(&code, &sender, u64::from(nonce));
        (dev_tx(Address::NULL, 0, GAS, code, nonce), address)
    };
    let beneficiary = alloy_primitives::Address::repeat_byte(0xbe).abi_encode();
    let mut contracts = Vec::new();
    for (name, args) in [
        ("Auction", beneficiary),
        ("Blocks", vec![]),
        ("Factory", vec![]),
        ("Storage", vec![]),
    ] {
        let (tx, address) = deploy(name, args);
        let status = client.push_and_wait(&tx.to_raw()).await.expect("deploys");
        assert_eq!(
            status.status_code,
            StatusCode::Success,
            "{name}: {status:?}"
        );
        contracts.push(address);
    }
    let [auction, blocks, factory, storage] = contracts[..] else {
        unreachable!("four")
    };
    let push = |to, amount, fee, data: Vec<u8>| dev_tx(to, amount, fee, data, next());

    // An underbid reverts: status 5, the revert data in the message, and
    // the bid stays with the bidder.
    let bid = IAuction::bidCall {}.abi_encode();
    let first = client
        .push_and_wait(&push(auction, 1000, GAS, bid.clone()).to_raw())
        .await
        .expect("bids");
    assert_eq!(first.status_code, StatusCode::Success, "{first:?}");
    let under = client
        .push_and_wait(&push(auction, 10, GAS, bid).to_raw())
        .await
        .expect("bids");
    assert_eq!(under.status_code, StatusCode::Revert, "{under:?}");
    let data = decode_base64(&under.message).expect("base64");
    assert_eq!(
        alloy_sol_types::decode_revert_reason(&data).as_deref(),
        Some("revert: There already is a higher bid.")
    );
    assert_eq!(
        balance(&client.account_info(&auction).await.expect("account")),
        alloy_primitives::U256::from(1000)
    );

    // blockhash(block.number - 1) is the previous block's hash as find_block reports it.
    let record = push(blocks, 0, GAS, IBlocks::recordCall {}.abi_encode());
    client
        .push_and_wait(&record.to_raw())
        .await
        .expect("records");
    let raw = client
        .find_transaction(&record.hash())
        .await
        .expect("found");
    let depth = client
        .last_block_info()
        .await
        .expect("tip")
        .top_block_number;
    let mut block_of_record = None;
    for d in (1..=depth).rev() {
        let block = client
            .find_block(ledger_ws::protocol::BlockRef::Number(d))
            .await
            .expect("block");
        if block.transactions.iter().any(|tx| tx.sign == raw.sign) {
            block_of_record = Some(block);
            break;
        }
    }
    let block = block_of_record.expect("the block holding the record call");
    let recorded = client
        .call_contract_view(&view(blocks, &IBlocks::recordedHashCall {}.abi_encode()))
        .await
        .expect("view");
    assert_eq!(recorded, block.previous_block_hash.to_string());

    // CREATE2 from the factory lands at Ethereum's address.
    let salt = alloy_primitives::B256::repeat_byte(0x51);
    let tag = alloy_primitives::U256::from(7);
    let call = IFactory::deployCall { salt, tag }.abi_encode();
    let status = client
        .push_and_wait(&push(factory, 0, GAS, call).to_raw())
        .await
        .expect("deploys");
    let child_init = [init_code("Child"), tag.abi_encode()].concat();
    let expected = alloy_primitives::Address::from(factory.0)
        .create2(salt, alloy_primitives::keccak256(&child_init));
    assert_eq!(
        decode_base64(&status.message).expect("base64")[12..],
        expected.0[..]
    );
    let child = client
        .account_info(&Address(expected.into_array()))
        .await
        .expect("account");
    assert_eq!(serde_json::to_value(child.kind).expect("json"), "contract");

    // Out of gas: Failed, the whole fee charged and credited to the coinbase.
    let before = balance(&client.account_info(&sender).await.expect("account"));
    let burn = client
        .push_and_wait(&push(storage, 0, 70_000, IBurn::burnCall {}.abi_encode()).to_raw())
        .await
        .expect("burns");
    assert_eq!(
        (burn.status_code, burn.fee_left),
        (StatusCode::Failed, 0),
        "{burn:?}"
    );
    let after = balance(&client.account_info(&sender).await.expect("account"));
    assert_eq!(before - after, alloy_primitives::U256::from(70_000));
    check_supply(
        &client,
        &[
            sender,
            node.coinbase,
            auction,
            blocks,
            factory,
            storage,
            Address(expected.into_array()),
        ],
    )
    .await;
}

sol! {
    interface ICalculatorClient {
        function addAndKeep(address calculator, uint256 a, uint256 b) external returns (uint256);
    }
    interface IWallet {
        function ownBalance() external view returns (uint256);
        function pay(address to, uint256 amount) external;
        function destroy(address to) external;
    }
    interface IAuctionEnd {
        function end() external;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn contracts_call_contracts_hold_value_pay_out_and_self_destruct_over_the_api() {
    let node = Node::start();
    let client = node.client().await;
    let sender = dev_key().address();
    let n = std::cell::Cell::new(0u32);
    let tx = |to, amount, fee, data: Vec<u8>| {
        n.set(n.get() + 1);
        dev_tx(to, amount, fee, data, n.get())
    };
    let u = alloy_primitives::U256::from;
    let evm = |address: Address| alloy_primitives::Address::from(address.0);
    let apply = |tx: ledger_core::Transaction| {
        let client = &client;
        async move {
            let status = client.push_and_wait(&tx.to_raw()).await.expect("applied");
            assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
            status
        }
    };
    let deploy = |name: &str, args: Vec<u8>, amount| {
        let code = [init_code(name), args].concat();
        let created = tx(Address::NULL, amount, GAS, code.clone());
        (created, code)
    };

    // A contract calling another: 5 + 6 = 11, returned base64 in the message.
    let (created, code) = deploy("Calculator", vec![], 0);
    let calculator = contract_address(&code, &sender, u64::from(n.get()));
    apply(created).await;
    let (created, code) = deploy("CalculatorClient", vec![], 0);
    let calculator_client = contract_address(&code, &sender, u64::from(n.get()));
    apply(created).await;
    let add = ICalculatorClient::addAndKeepCall {
        calculator: evm(calculator),
        a: u(5),
        b: u(6),
    };
    let status = apply(tx(calculator_client, 0, GAS, add.abi_encode())).await;
    assert_eq!(word(&status.message), u(11));

    // A contract holding value, reading its own balance, paying it out and
    // self-destructing (Cancun: only its balance leaves).
    let (created, code) = deploy("Wallet", vec![], 50_000);
    let wallet = contract_address(&code, &sender, u64::from(n.get()));
    apply(created).await;
    apply(tx(wallet, 20_000, GAS, vec![])).await;
    let own = IWallet::ownBalanceCall {}.abi_encode();
    let answer = client
        .call_contract_view(&view(wallet, &own))
        .await
        .expect("view");
    assert_eq!(word(&answer), u(70_000));
    let payee = Address([0x0e; 20]);
    apply(tx(
        wallet,
        0,
        GAS,
        IWallet::payCall {
            to: evm(payee),
            amount: u(30_000),
        }
        .abi_encode(),
    ))
    .await;
    let paid = client.account_info(&payee).await.expect("account");
    assert_eq!(balance(&paid), u(30_000));
    assert!(
        paid.transaction_hashes.is_empty(),
        "value moved inside the EVM lists nothing"
    );
    apply(tx(
        wallet,
        0,
        GAS,
        IWallet::destroyCall { to: evm(payee) }.abi_encode(),
    ))
    .await;
    assert_eq!(
        balance(&client.account_info(&payee).await.expect("account")),
        u(70_000)
    );
    let destroyed = client.account_info(&wallet).await.expect("account");
    assert_eq!(balance(&destroyed), u(0));
    assert_eq!(
        serde_json::to_value(destroyed.kind).expect("json"),
        "contract"
    );

    // The end of an auction pays the beneficiary the highest bid.
    let beneficiary = SecretKey::generate();
    apply(tx(beneficiary.address(), 1_000_000, 1, vec![])).await;
    let (created, code) = deploy("Auction", evm(beneficiary.address()).abi_encode(), 0);
    let auction = contract_address(&code, &sender, u64::from(n.get()));
    apply(created).await;
    apply(tx(auction, 7_000, GAS, IAuction::bidCall {}.abi_encode())).await;
    let before = balance(
        &client
            .account_info(&beneficiary.address())
            .await
            .expect("account"),
    );
    let end = ledger_core::Transaction::signed(
        &beneficiary,
        auction,
        ledger_core::Balance::ZERO,
        100_000,
        1_800_000_000,
        IAuctionEnd::endCall {}.abi_encode(),
    );
    let status = apply(end).await;
    let after = balance(
        &client
            .account_info(&beneficiary.address())
            .await
            .expect("account"),
    );
    assert_eq!(after, before + u(7_000) - u(100_000 - status.fee_left));
    assert_eq!(
        balance(&client.account_info(&auction).await.expect("account")),
        u(0)
    );

    check_supply(
        &client,
        &[
            sender,
            node.coinbase,
            calculator,
            calculator_client,
            wallet,
            payee,
            beneficiary.address(),
            auction,
        ],
    )
    .await;
}
