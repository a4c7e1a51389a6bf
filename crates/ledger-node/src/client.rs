//! The client commands: talk to a node over its WebSocket API, every
//! wait bounded by `--timeout`.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use ledger_core::{
    parse_u64, ActionType, Address, Balance, Hash, SecretKey, StatusCode, Transaction,
};
use ledger_ws::protocol::BlockRef;
use ledger_ws::{Client, ErrorCode, Subscription, WsError};
use serde::Serialize;

use crate::address::AddressArg;
use crate::endpoint::NodeUrl;
use crate::failure::{NodeError, Took};

/// Options every client command takes.
#[derive(clap::Args, Clone)]
pub(crate) struct ClientArgs {
    /// The node's API: `ws://HOST:PORT`, or `HOST:PORT`.
    #[arg(long, global = true, default_value = concat!("ws://", crate::default_ws!()))]
    pub(crate) node: NodeUrl,
    /// Seconds to wait for the connection, for each answer, and for a
    /// transaction's block.
    #[arg(long, global = true, default_value = "30", value_parser = seconds)]
    pub(crate) timeout: Duration,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// A positive number of seconds, as `--timeout` takes it.
fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 1e9 => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("{text:?} is not a number of seconds above 0")),
    }
}

/// Options of `ledger-node transfer`.
#[derive(clap::Args)]
pub(crate) struct TransferArgs {
    /// The sender's key file (64 hex characters).
    #[arg(long)]
    key: PathBuf,
    /// The receiver's address (base58 or 0x hex).
    #[arg(long)]
    to: AddressArg,
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

/// A node's API as a client command talks to it: connecting, and every
/// answer, bounded by `--timeout`.
pub(crate) struct Remote {
    client: Client,
    url: NodeUrl,
    timeout: Duration,
}

impl Remote {
    /// Connects to `--node` within `--timeout`.
    pub(crate) async fn connect(args: &ClientArgs) -> Result<Remote, NodeError> {
        let url = args.node.clone();
        let address = url.to_string();
        match tokio::time::timeout(args.timeout, Client::connect(&address)).await {
            Err(_) => Err(NodeError::NoHandshake {
                url,
                timeout: Took(args.timeout),
            }),
            Ok(Err(error)) => Err(NodeError::connecting(&url, error)),
            Ok(Ok(client)) => Ok(Remote {
                client,
                url,
                timeout: args.timeout,
            }),
        }
    }

    /// The client, for requests made through [`Remote::ask`].
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// `request` (named `what` in errors), answered within `--timeout`.
    pub(crate) async fn ask<T>(
        &self,
        what: &'static str,
        request: impl Future<Output = Result<T, WsError>>,
    ) -> Result<T, NodeError> {
        self.within(self.timeout, what, request).await
    }

    async fn within<T>(
        &self,
        timeout: Duration,
        what: &'static str,
        request: impl Future<Output = Result<T, WsError>>,
    ) -> Result<T, NodeError> {
        match tokio::time::timeout(timeout, request).await {
            Err(_) => Err(NodeError::NoAnswer {
                url: self.url.clone(),
                what,
                timeout: Took(timeout),
            }),
            Ok(result) => result.map_err(|error| NodeError::during(&self.url, error)),
        }
    }
}

/// Prints `value` as JSON, or as `text` for people.
pub(crate) fn show<T: Serialize>(
    args: &ClientArgs,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    let line = if args.json {
        serde_json::to_string(value)?
    } else {
        text()
    };
    // A closed pipe (`| head`) is an error to report, not a panic.
    writeln!(std::io::stdout(), "{line}").context("cannot write to stdout")
}

pub(crate) fn keygen(out: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let key = SecretKey::generate();
    key.save(out)?;
    let address = key.address();
    if json {
        let value = serde_json::json!({ "address": address, "key_file": out });
        println!("{value}");
    } else {
        println!("{address}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn account(address: &AddressArg, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::connect(args).await?;
    let info = remote
        .ask(
            "account_info",
            remote.client().account_info(&address.address),
        )
        .await?;
    show(args, &info, || {
        format!(
            "address       {}\nbalance       {}\nnonce         {}\ntype          {}\ntransactions  {}",
            address,
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

/// How long a push waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// For the node's first answer (Pending, or a refusal).
    Admission,
    /// For the final status, saying on stderr (for a person) that the
    /// transaction is pending and, on a terminal, that it waits.
    Final { say_pending: bool },
}

/// Signs a transaction with a hash the node has not seen, pushes it, and
/// returns its hash and its final status (or the first one, with
/// [`Wait::Admission`]).
///
/// A transaction is identified by its hash, and the timestamp is its only
/// field that varies: the same transaction twice in one second would be
/// one. So the timestamp moves to the next second until the hash is new.
pub(crate) async fn push_unique(
    remote: &Remote,
    key: &SecretKey,
    to: Address,
    amount: Balance,
    fee: u64,
    data: Vec<u8>,
    wait: Wait,
) -> anyhow::Result<(Hash, ledger_core::TransactionStatus)> {
    let now = unix_now()?;
    let mut timestamp = now;
    let (tx, hash) = loop {
        let tx = Transaction::signed(key, to, amount, fee, timestamp, data.clone());
        let hash = tx.hash();
        let known = remote
            .ask(
                "find_transaction_status",
                remote.client().find_transaction_status(&hash),
            )
            .await;
        match known {
            Err(NodeError::Api(error)) if error.code == ErrorCode::NotFound => break (tx, hash),
            Ok(_) if timestamp < now.saturating_add(60) => timestamp += 1,
            Ok(_) => {
                anyhow::bail!(
                    "60 identical transactions were sent in the last minute; wait a little"
                )
            }
            Err(error) => return Err(error.into()),
        }
    };
    let mut statuses = remote
        .ask(
            "push_transaction",
            remote.client().push_transaction(&tx.to_raw()),
        )
        .await?;
    let first = remote
        .ask("push_transaction", next_status(&mut statuses))
        .await?;
    let Wait::Final { say_pending } = wait else {
        return Ok((hash, first));
    };
    if first.is_final() {
        return Ok((hash, first));
    }
    let spinner = say_pending.then(|| waiting_for_block(&hash));
    let last = remote
        .within(
            remote.timeout,
            "the transaction's final status",
            next_status(&mut statuses),
        )
        .await;
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    match last {
        Ok(status) => Ok((hash, status)),
        Err(NodeError::NoAnswer { timeout, .. }) => Err(NodeError::NotFinal {
            hash,
            url: remote.url.clone(),
            timeout,
        }
        .into()),
        Err(error) => Err(error.into()),
    }
}

/// The next status of a push; the connection ending first is an error.
async fn next_status(
    statuses: &mut Subscription<ledger_core::TransactionStatus>,
) -> Result<ledger_core::TransactionStatus, WsError> {
    statuses.next().await.unwrap_or(Err(WsError::Closed))
}

/// Says on stderr that `hash` is pending, and shows a spinner there while
/// it waits if stderr is a terminal (indicatif draws nothing otherwise).
fn waiting_for_block(hash: &Hash) -> indicatif::ProgressBar {
    eprintln!("transaction {hash} pending");
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("waiting for its block");
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

pub(crate) async fn transfer(args: TransferArgs) -> anyhow::Result<ExitCode> {
    let key = SecretKey::load(&args.key)?;
    let to = args.to.address;
    let amount: Balance = args.amount.parse().context("--amount")?;
    let fee = parse_u64(&args.fee).context("--fee")?;
    let remote = Remote::connect(&args.client).await?;
    let wait = if args.no_wait {
        Wait::Admission
    } else {
        Wait::Final {
            say_pending: !args.client.json,
        }
    };
    let (hash, status) = push_unique(&remote, &key, to, amount, fee, Vec::new(), wait).await?;
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
    let remote = Remote::connect(args).await?;
    let block = remote
        .ask("find_block", remote.client().find_block(reference))
        .await?;
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
    let remote = Remote::connect(args).await?;
    let client = remote.client();
    let status = remote
        .ask(
            "find_transaction_status",
            client.find_transaction_status(&hash),
        )
        .await?;
    // A pending transaction is not in a block yet.
    let tx = match status.status_code {
        StatusCode::Pending => None,
        _ => Some(
            remote
                .ask("find_transaction", client.find_transaction(&hash))
                .await?,
        ),
    };
    // Its block, from its sender's history; what it was charged, from its fee.
    let (block, fee) = match &tx {
        Some(tx) => {
            let from: Address = tx.from.parse()?;
            let block = block_of(&remote, &from, &hash).await?;
            (block, parse_u64(&tx.fee)?)
        }
        None => (None, 0),
    };
    let applied = Applied {
        hash,
        status: &status,
        fee,
        block,
    };
    let gas_used = tx.as_ref().map(|_| applied.gas_used());
    show(
        args,
        &serde_json::json!({
            "hash": hash,
            "transaction": tx,
            "status": status,
            "block": block,
            "gas_used": gas_used,
        }),
        || {
            let mut lines = applied.lines(None);
            // What a contract transaction gave: its address, or its output.
            if status.status_code == StatusCode::Success && !status.message.is_empty() {
                match status.action_type {
                    ActionType::ContractCreation => {
                        lines.push(format!("contract {}", status.message))
                    }
                    ActionType::ContractCall => {
                        let output =
                            ledger_core::decode_base64(&status.message).unwrap_or_default();
                        lines.push(format!("output 0x{}", hex::encode(output)));
                    }
                    _ => {}
                }
            }
            if let Some(tx) = &tx {
                lines.insert(
                    1,
                    format!(
                        "from {}\nto {}\namount {}\nfee {}\ntimestamp {}",
                        tx.from, tx.to, tx.amount, tx.fee, tx.timestamp
                    ),
                );
            }
            lines.join("\n")
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn watch(what: Watch, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::connect(args).await?;
    let client = remote.client();
    match what {
        Watch::Blocks => {
            let blocks = remote
                .ask("last_block_info", client.subscribe_blocks())
                .await?;
            follow(args, blocks, |block| {
                format!("block {} {}", block.top_block_number, block.top_block_hash)
            })
            .await
        }
        Watch::Account { address } => {
            let address: Address = address.parse()?;
            let updates = remote
                .ask("account_info", client.subscribe_account(&address))
                .await?;
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

pub(crate) async fn info(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::connect(args).await?;
    let info = remote.ask("node_info", remote.client().node_info()).await?;
    show(args, &info, || {
        format!(
            "version     {}\nmode        {}\ngenesis     {}\ntop block   {} {}\nchain id    {}\nevm fork    {}\napi         {}\nextensions  {}",
            info.version,
            info.mode,
            info.genesis_hash,
            info.top_block_number,
            info.top_block_hash,
            info.chain_id,
            info.evm_fork,
            info.api.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            info.extensions.join(", ")
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn peers(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::connect(args).await?;
    let peers = remote.ask("peers", remote.client().peers()).await?;
    show(args, &peers, || {
        if peers.peers.is_empty() {
            return "no peers (the node runs alone)".to_owned();
        }
        let mut lines = vec![format!(
            "{:<24} {:<30} {:>8} {:<9} id",
            "address", "validator", "height", "reachable"
        )];
        for peer in &peers.peers {
            let validator = peer.validator.map(|v| v.to_string()).unwrap_or_default();
            lines.push(format!(
                "{:<24} {:<30} {:>8} {:<9} {}",
                peer.address, validator, peer.height, peer.reachable, peer.id
            ));
        }
        lines.join("\n")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A transaction applied (or refused), as `deploy`, `call` and `tx` show it.
pub(crate) struct Applied<'a> {
    pub(crate) hash: Hash,
    pub(crate) status: &'a ledger_core::TransactionStatus,
    pub(crate) fee: u64,
    pub(crate) block: Option<u64>,
}

impl Applied<'_> {
    /// What it was charged: its fee less what was left of it.
    pub(crate) fn gas_used(&self) -> u64 {
        self.fee.saturating_sub(self.status.fee_left)
    }

    /// Its lines: hash, block, status (a revert decoded), gas used.
    pub(crate) fn lines(&self, revert: Option<&str>) -> Vec<String> {
        let mut lines = vec![format!("transaction {}", self.hash)];
        if let Some(block) = self.block {
            lines.push(format!("block {block}"));
        }
        let code = self.status.status_code;
        let contract = matches!(
            self.status.action_type,
            ActionType::ContractCall | ActionType::ContractCreation
        );
        match revert {
            Some(revert) => lines.push(format!("{code:?} (status {}): {revert}", code as u8)),
            // A contract's success message is its address or its output in
            // base64, both shown on lines of their own.
            None if contract && code == StatusCode::Success => {
                lines.push(format!("{code:?} (status {})", code as u8));
            }
            None => lines.push(status_line(self.status)),
        }
        if self.status.is_final() {
            lines.push(format!("gas used {} of fee {}", self.gas_used(), self.fee));
        }
        lines
    }
}

/// The block holding `hash`, sent by `from`: found in `from`'s newest
/// history (a transaction just applied is on its first page); `None`
/// when it is not there or still pending.
pub(crate) async fn block_of(
    remote: &Remote,
    from: &Address,
    hash: &Hash,
) -> anyhow::Result<Option<u64>> {
    const PAGES: usize = 5;
    let mut cursor: Option<String> = None;
    for _ in 0..PAGES {
        let asked = remote
            .ask(
                "account_transactions",
                remote
                    .client()
                    .account_transactions(from, 100, cursor.as_deref()),
            )
            .await;
        let page = match asked {
            Ok(page) => page,
            // A node without paged history cannot say.
            Err(NodeError::Api(error)) if error.code == ErrorCode::UnknownCommand => {
                return Ok(None)
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(item) = page.transactions.iter().find(|item| item.hash == *hash) {
            return Ok(Some(item.block_number));
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(None),
        }
    }
    Ok(None)
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
