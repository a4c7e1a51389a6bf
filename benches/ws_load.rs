//! End-to-end load over WebSocket: signed transfers pushed by several
//! connections to a running node, timed from the first push to the last
//! final status. See docs/benchmarks.md.
//!
//!     cargo run --release -p ledger-benches --example ws_load -- [URL] [TRANSFERS] [CONNECTIONS] [SENDERS] [erc20]
//!
//! With `erc20`, each transfer is an ERC-20 `transfer(to, 1)` call of
//! OpenZeppelin's token (contracts/artifacts/Token.json, fee 60,000 as its
//! gas limit), which the dev key deploys first (not timed) and, with more
//! senders, hands tokens to each of them.
//!
//! Transfers go to distinct fresh addresses, signed before timing starts.
//! With one sender (the default) they all come from the dev genesis key;
//! with more, the dev key first funds that many fresh keys (not timed) and
//! the transfers come from them in turn. The node must run the dev genesis.

use std::time::Instant;

use futures_util::StreamExt;
use ledger_core::{Address, Balance, Genesis, RawTransaction, SecretKey, StatusCode, Transaction};
use ledger_ws::Client;

/// Pushes awaiting their final status per connection (the node allows 1024
/// active subscriptions per connection).
const WINDOW: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:50051".into());
    let transfers: usize = args.next().map_or(Ok(20_000), |n| n.parse())?;
    let connections: usize = args.next().map_or(Ok(4), |n| n.parse())?;
    let senders: usize = args.next().map_or(Ok(1), |n| n.parse())?;
    let erc20 = args.next().as_deref() == Some("erc20");

    let dev = Genesis::dev_key();
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as u32;
    let keys: Vec<SecretKey> = if senders <= 1 {
        vec![dev.clone()]
    } else {
        eprintln!("funding {senders} senders…");
        let keys: Vec<SecretKey> = (0..senders).map(|_| SecretKey::generate()).collect();
        let client = Client::connect(&url).await?;
        let mut funding = futures_util::stream::FuturesUnordered::new();
        for key in &keys {
            let amount = Balance::from(1_000_000_000);
            let tx = Transaction::signed(&dev, key.address(), amount, 1, salt, Vec::new());
            let statuses = client.push_transaction(&tx.to_raw()).await?;
            funding.push(statuses.fold(None, |_, status| async move { status.ok() }));
        }
        while let Some(status) = funding.next().await {
            if !matches!(status, Some(s) if s.status_code == StatusCode::Success) {
                return Err("funding a sender failed".into());
            }
        }
        keys
    };
    let token = if erc20 {
        Some(deploy_token(&url, &dev, &keys, salt).await?)
    } else {
        None
    };
    eprintln!("signing {transfers} transfers…");
    let signed: Vec<RawTransaction> = (0..transfers)
        .map(|n| {
            let mut to = [0u8; 20];
            to[..8].copy_from_slice(&(n as u64).to_be_bytes());
            to[8..12].copy_from_slice(&salt.to_be_bytes());
            let key = &keys[n % keys.len()];
            match token {
                Some(token) => {
                    Transaction::signed(key, token, Balance::ZERO, 60_000, salt, transfer_data(to))
                        .to_raw()
                }
                None => {
                    Transaction::signed(key, Address(to), Balance::from(1), 1, salt, Vec::new())
                        .to_raw()
                }
            }
        })
        .collect();
    let top_before = Client::connect(&url).await?.last_block_info().await?;

    eprintln!("pushing over {connections} connections…");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in signed.chunks(transfers.div_ceil(connections)) {
        let chunk = chunk.to_vec();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = Client::connect(&url).await?;
            let mut successes = 0usize;
            let mut pending = futures_util::stream::FuturesUnordered::new();
            for tx in &chunk {
                if pending.len() >= WINDOW {
                    successes += usize::from(pending.next().await.unwrap_or(false));
                }
                let statuses = client.push_transaction(tx).await?;
                pending.push(async move {
                    let last = statuses
                        .fold(None, |_, status| async move { status.ok() })
                        .await;
                    last.is_some_and(|s| s.status_code == StatusCode::Success)
                });
            }
            while let Some(ok) = pending.next().await {
                successes += usize::from(ok);
            }
            Ok::<usize, ledger_ws::WsError>(successes)
        }));
    }
    let mut successes = 0;
    for task in tasks {
        successes += task.await??;
    }
    let elapsed = started.elapsed();
    let top_after = Client::connect(&url).await?.last_block_info().await?;
    println!(
        "{successes} of {transfers} {} from {} senders committed in {:.2} s over {connections} connections: {:.0} transfers/s, {} blocks",
        if erc20 { "ERC-20 transfers" } else { "transfers" },
        keys.len(),
        elapsed.as_secs_f64(),
        successes as f64 / elapsed.as_secs_f64(),
        top_after.top_block_number - top_before.top_block_number
    );
    Ok(())
}

/// `transfer(to, 1)` call data, encoded by alloy.
fn transfer_data(to: [u8; 20]) -> Vec<u8> {
    use alloy_sol_types::SolCall;
    alloy_sol_types::sol! {
        function transfer(address to, uint256 value) external returns (bool);
    }
    transferCall {
        to: to.into(),
        value: alloy_primitives::U256::from(1),
    }
    .abi_encode()
}

/// Deploys the token from the dev key and gives each sender a share.
async fn deploy_token(
    url: &str,
    dev: &SecretKey,
    keys: &[SecretKey],
    salt: u32,
) -> Result<Address, Box<dyn std::error::Error>> {
    use alloy_sol_types::SolValue;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contracts/artifacts/Token.json"
    );
    let mut code = ledger_vm::artifact::Artifact::read(path)?.init_code();
    code.extend(alloy_primitives::U256::from(u64::MAX).abi_encode());
    let client = Client::connect(url).await?;
    let deploy = Transaction::signed(dev, Address::NULL, Balance::ZERO, 3_000_000, salt, code);
    let status = client.push_and_wait(&deploy.to_raw()).await?;
    if status.status_code != StatusCode::Success {
        return Err(format!("deploying the token failed: {status:?}").into());
    }
    let token: Address = status.message.parse()?;
    for key in keys.iter().filter(|key| key.address() != dev.address()) {
        let mut to = [0u8; 20];
        to.copy_from_slice(&key.address().0);
        let mut data = transfer_data(to);
        // A share of the supply rather than 1.
        data[36..68].copy_from_slice(
            &alloy_primitives::U256::from(u64::MAX / 1_000_000).to_be_bytes::<32>(),
        );
        let tx = Transaction::signed(dev, token, Balance::ZERO, 100_000, salt, data);
        let status = client.push_and_wait(&tx.to_raw()).await?;
        if status.status_code != StatusCode::Success {
            return Err(format!("handing out tokens failed: {status:?}").into());
        }
    }
    Ok(token)
}
