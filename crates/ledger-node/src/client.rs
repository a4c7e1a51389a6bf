//! The client commands: talk to a node over its WebSocket API.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use futures_util::StreamExt;
use ledger_core::{parse_u64, Address, Balance, Hash, SecretKey, StatusCode, Transaction};
use ledger_ws::protocol::BlockRef;
use ledger_ws::{Client, ErrorCode, Subscription, WsError};
use serde::Serialize;

use crate::ClientArgs;

/// Options of `ledger-node transfer`.
#[derive(clap::Args)]
pub(crate) struct TransferArgs {
    /// The sender's key file (64 hex characters).
    #[arg(long)]
    key: PathBuf,
    /// The receiver's base58 address.
    #[arg(long)]
    to: String,
    /// The amount, a decimal integer.
    #[arg(long)]
    amount: String,
    /// The fee, a decimal integer.
    #[arg(long)]
    fee: String,
    /// Print the admission status and return, without waiting for the block.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// What `ledger-node watch` follows.
#[derive(clap::Subcommand)]
pub(crate) enum Watch {
    /// Every new block.
    Blocks,
    /// An account, after every block that changes it.
    Account {
        /// The account's base58 address.
        address: String,
    },
}

pub(crate) async fn connect(args: &ClientArgs) -> anyhow::Result<Client> {
    Client::connect(&args.node)
        .await
        .with_context(|| format!("cannot reach the node at {}", args.node))
}

/// Prints `value` as JSON, or as `text` for people.
pub(crate) fn show<T: Serialize>(
    args: &ClientArgs,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

pub(crate) fn keygen(out: &Path, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let key = SecretKey::generate();
    key.save(out)?;
    let address = key.address();
    show(
        args,
        &serde_json::json!({ "address": address, "key_file": out }),
        || format!("{address}"),
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn account(address: &str, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let address: Address = address.parse()?;
    let info = connect(args).await?.account_info(&address).await?;
    show(args, &info, || {
        format!(
            "address       {}\nbalance       {}\nnonce         {}\ntype          {}\ntransactions  {}",
            info.address,
            info.balance,
            info.nonce,
            serde_json::to_value(info.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            info.transaction_hashes.len()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn status_line(status: &ledger_core::TransactionStatus) -> String {
    let mut line = format!(
        "{:?} (status {})",
        status.status_code, status.status_code as u8
    );
    if !status.message.is_empty() {
        line.push_str(": ");
        line.push_str(&status.message);
    }
    line
}

/// Seconds since the Unix epoch, as a transaction timestamp.
pub(crate) fn unix_now() -> anyhow::Result<u32> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    Ok(u32::try_from(now.as_secs())?)
}

/// Signs a transaction with a hash the node has not seen, pushes it, and
/// returns its hash and its final status (or the first one, `no_wait`).
///
/// A transaction is identified by its hash, and the timestamp is its only
/// field that varies: the same transaction twice in one second would be
/// one. So the timestamp moves to the next second until the hash is new.
pub(crate) async fn push_unique(
    client: &Client,
    key: &SecretKey,
    to: Address,
    amount: Balance,
    fee: u64,
    data: Vec<u8>,
    no_wait: bool,
) -> anyhow::Result<(Hash, ledger_core::TransactionStatus)> {
    let now = unix_now()?;
    let mut timestamp = now;
    let (tx, hash) = loop {
        let tx = Transaction::signed(key, to, amount, fee, timestamp, data.clone());
        let hash = tx.hash();
        match client.find_transaction_status(&hash).await {
            Err(WsError::Api(error)) if error.code == ErrorCode::NotFound => break (tx, hash),
            Ok(_) if timestamp < now.saturating_add(60) => timestamp += 1,
            Ok(_) => {
                anyhow::bail!(
                    "60 identical transactions were sent in the last minute; wait a little"
                )
            }
            Err(error) => return Err(error.into()),
        }
    };
    let mut statuses = client.push_transaction(&tx.to_raw()).await?;
    let mut last = None;
    while let Some(status) = statuses.next().await {
        let status = status?;
        let done = no_wait || status.is_final();
        last = Some(status);
        if done {
            break;
        }
    }
    let status = last.context("the node closed the connection before answering")?;
    Ok((hash, status))
}

pub(crate) async fn transfer(args: TransferArgs) -> anyhow::Result<ExitCode> {
    let key = SecretKey::load(&args.key)?;
    let to: Address = args.to.parse().context("--to")?;
    let amount: Balance = args.amount.parse().context("--amount")?;
    let fee = parse_u64(&args.fee).context("--fee")?;
    let client = connect(&args.client).await?;
    let (hash, status) =
        push_unique(&client, &key, to, amount, fee, Vec::new(), args.no_wait).await?;
    show(
        &args.client,
        &serde_json::json!({ "hash": hash, "status": status }),
        || format!("transaction {hash}\n{}", status_line(&status)),
    )?;
    let ok = matches!(
        status.status_code,
        StatusCode::Success | StatusCode::Pending
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) async fn block(
    number: Option<u64>,
    hash: Option<String>,
    args: &ClientArgs,
) -> anyhow::Result<ExitCode> {
    let reference = match (number, hash) {
        (Some(number), _) => BlockRef::Number(number),
        (None, Some(hash)) => BlockRef::Hash(hash.parse::<Hash>().context("--hash")?),
        (None, None) => anyhow::bail!("give --number or --hash"),
    };
    let block = connect(args).await?.find_block(reference).await?;
    show(args, &block, || {
        let mut text = format!(
            "depth     {}\ntimestamp {}\nprevious  {}\ncoinbase  {}\ntransactions {}",
            block.depth,
            block.timestamp,
            block.previous_block_hash,
            block.coinbase,
            block.transactions.len()
        );
        for tx in &block.transactions {
            text.push_str(&format!(
                "\n  {} -> {} amount {} fee {}",
                tx.from, tx.to, tx.amount, tx.fee
            ));
        }
        text
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn tx(hash: &str, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let hash: Hash = hash.parse()?;
    let client = connect(args).await?;
    let status = client.find_transaction_status(&hash).await?;
    // A pending transaction is not in a block yet.
    let tx = match status.status_code {
        StatusCode::Pending => None,
        _ => Some(client.find_transaction(&hash).await?),
    };
    show(
        args,
        &serde_json::json!({ "hash": hash, "transaction": tx, "status": status }),
        || {
            let mut text = format!("transaction {hash}\n");
            if let Some(tx) = &tx {
                text.push_str(&format!(
                    "from {}\nto {}\namount {}\nfee {}\ntimestamp {}\n",
                    tx.from, tx.to, tx.amount, tx.fee, tx.timestamp
                ));
            }
            text.push_str(&status_line(&status));
            text
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn watch(what: Watch, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = connect(args).await?;
    match what {
        Watch::Blocks => {
            let blocks = client.subscribe_blocks().await?;
            follow(args, blocks, |block| {
                format!("block {} {}", block.top_block_number, block.top_block_hash)
            })
            .await
        }
        Watch::Account { address } => {
            let address: Address = address.parse()?;
            let updates = client.subscribe_account(&address).await?;
            follow(args, updates, |info| {
                format!(
                    "{} balance {} nonce {} transactions {}",
                    info.address,
                    info.balance,
                    info.nonce,
                    info.transaction_hashes.len()
                )
            })
            .await
        }
    }
}

/// Prints every message of a subscription until Ctrl-C.
async fn follow<T>(
    args: &ClientArgs,
    mut messages: Subscription<T>,
    text: impl Fn(&T) -> String,
) -> anyhow::Result<ExitCode>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => return Ok(ExitCode::SUCCESS),
            message = messages.next() => {
                let message = message.context("the node closed the connection")??;
                show(args, &message, || text(&message))?;
            }
        }
    }
}
