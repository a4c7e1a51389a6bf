//! The contract commands, in the style of Foundry's `cast`: `deploy`,
//! `call` (a transaction, or `--view` for a read-only call), `estimate`,
//! `logs`, `code` and `storage`.
//!
//! What can be checked before a transaction is signed is: its arguments
//! against the artifact's ABI, that a call's target holds code, and (with
//! the node's `estimate_fee`) that it will succeed with the fee it is
//! given, so a mistake is refused before it costs the fee. Reverts,
//! custom errors and events are shown by name where an ABI is known.

mod abi;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use alloy_dyn_abi::{FunctionExt, JsonAbiExt};
use alloy_json_abi::{Constructor, Function};
use anyhow::{bail, Context};
use ledger_core::{
    decode_base64, parse_u64, ActionType, Address, Balance, Hash, SecretKey, StatusCode,
    TransactionStatus, ViewCall,
};
use ledger_vm::artifact::{decode_hex, Artifact};
use ledger_ws::protocol::WireLog;
use ledger_ws::{ApiError, ErrorCode};
use serde_json::json;

use crate::address::AddressArg;
use crate::client::{block_of, push_unique, show, unix_now, Applied, ClientArgs, Remote, Wait};
use crate::failure::NodeError;
use abi::{coerce, render, revert_text, Abi};

/// The margin `--fee auto` adds to the estimate: the state may change
/// before the transaction's block, and gas not used is not charged.
const AUTO_MARGIN_PERCENT: u64 = 20;

/// A fee as the contract commands take it: a number, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FeeArg {
    /// This fee.
    Given(u64),
    /// The node's estimate plus [`AUTO_MARGIN_PERCENT`].
    Auto,
}

impl FromStr for FeeArg {
    type Err = String;

    fn from_str(text: &str) -> Result<FeeArg, String> {
        if text.eq_ignore_ascii_case("auto") {
            return Ok(FeeArg::Auto);
        }
        parse_u64(text)
            .map(FeeArg::Given)
            .map_err(|error| format!("{error}; or `auto` for the node's estimate"))
    }
}

/// Options of `ledger-node deploy`.
#[derive(clap::Args)]
pub(crate) struct DeployArgs {
    /// The deployer's key file (64 hex characters).
    #[arg(long)]
    key: PathBuf,
    /// The contract: an artifact of `scripts/compile-contracts.sh` (JSON)
    /// or a file of init code in hex.
    #[arg(long)]
    code: PathBuf,
    /// Constructor arguments: with an artifact its values (`--args 1000`,
    /// checked against its ABI); with hex init code its signature, then
    /// the values (`--args 'constructor(uint256)' 1000`).
    #[arg(long, num_args = 1.., value_name = "ARGS")]
    args: Vec<String>,
    /// The fee, which is the gas limit (1 unit of balance per gas; gas
    /// not used is not charged), or `auto`: the node's estimate plus 20%.
    #[arg(long)]
    fee: FeeArg,
    /// Value sent to the contract, a decimal integer.
    #[arg(long, default_value = "0")]
    amount: String,
    /// Send without asking the node first whether it would succeed.
    #[arg(long)]
    no_check: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// Options of `ledger-node call`.
#[derive(clap::Args)]
pub(crate) struct CallArgs {
    /// The caller's key file (64 hex characters); not needed with --view.
    #[arg(long, required_unless_present = "view")]
    key: Option<PathBuf>,
    /// The contract's address (base58 or 0x hex).
    #[arg(long)]
    to: AddressArg,
    #[command(flatten)]
    input: CallInput,
    /// Run read-only against the newest state (`call_contract_view`):
    /// nothing is signed into a block, nothing is paid.
    #[arg(long)]
    view: bool,
    /// The fee, which is the gas limit (gas not used is not charged), or
    /// `auto`: the node's estimate plus 20%. Not for --view.
    #[arg(long, required_unless_present = "view", conflicts_with = "view")]
    fee: Option<FeeArg>,
    /// Value sent with the call, a decimal integer (not for --view).
    #[arg(long, default_value = "0")]
    amount: String,
    /// Send even to an address without code (which makes the call a plain
    /// transfer that keeps the whole fee).
    #[arg(long)]
    allow_no_code: bool,
    /// Send without asking the node first whether it would succeed.
    #[arg(long)]
    no_check: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// What a call sends: a function and its arguments, or raw data.
#[derive(clap::Args, Clone)]
pub(crate) struct CallInput {
    /// The function: its signature, e.g. `set(uint256)` (with outputs to
    /// decode them, e.g. `get()(uint256)`), or with --abi just its name.
    #[arg(long, conflicts_with = "data")]
    sig: Option<String>,
    /// Raw call data in hex, instead of --sig and arguments.
    #[arg(long)]
    data: Option<String>,
    /// The contract's artifact (JSON, `scripts/compile-contracts.sh`):
    /// arguments are checked against its ABI before anything is signed,
    /// and its custom errors, results and events are shown by name.
    #[arg(long, value_name = "ARTIFACT")]
    abi: Option<PathBuf>,
    /// The function's arguments (addresses in base58 or 0x hex; put
    /// negative numbers after `--`).
    values: Vec<String>,
}

/// Options of `ledger-node estimate`.
#[derive(clap::Args)]
pub(crate) struct EstimateArgs {
    /// The sender (base58 or 0x hex); or give --key.
    #[arg(long, required_unless_present = "key", conflicts_with = "key")]
    from: Option<AddressArg>,
    /// The sender's key file, for its address.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The receiver or contract called (base58 or 0x hex).
    #[arg(long, required_unless_present = "code", conflicts_with = "code")]
    to: Option<AddressArg>,
    /// A contract to deploy instead: an artifact or hex init code.
    #[arg(long)]
    code: Option<PathBuf>,
    /// Constructor arguments, as `deploy --args` takes them.
    #[arg(long, num_args = 1.., value_name = "ARGS", requires = "code")]
    args: Vec<String>,
    #[command(flatten)]
    input: CallInput,
    /// Value sent, a decimal integer.
    #[arg(long, default_value = "0")]
    amount: String,
    #[command(flatten)]
    client: ClientArgs,
}

/// Options of `ledger-node logs`.
#[derive(clap::Args)]
pub(crate) struct LogsArgs {
    /// Base64 hash of the transaction.
    hash: String,
    /// The contract's artifact, to show its events by name.
    #[arg(long, value_name = "ARTIFACT")]
    abi: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Options of `ledger-node storage`.
#[derive(clap::Args)]
pub(crate) struct StorageArgs {
    /// The contract (base58 or 0x hex).
    address: AddressArg,
    /// The slot: a decimal number, or up to 32 bytes of 0x hex.
    slot: String,
    #[command(flatten)]
    client: ClientArgs,
}

/// The init code of `--code` and, for an artifact, its ABI; with the
/// constructor's arguments appended, checked against the ABI.
fn creation(path: &Path, args: &[String]) -> anyhow::Result<(Vec<u8>, Option<Abi>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --code {}", path.display()))?;
    let (mut code, abi) = if text.trim_start().starts_with('{') {
        let artifact = Artifact::parse(path, &text)?;
        (artifact.init_code(), Some(Abi::of(&artifact, path)?))
    } else {
        let code = decode_hex(&text)
            .with_context(|| format!("--code {} is neither an artifact nor hex", path.display()))?;
        (code, None)
    };
    let encoded = match (args.split_first(), &abi) {
        // A signature first, as for hex init code.
        (Some((first, values)), _) if first.starts_with("constructor(") => {
            let constructor = Constructor::parse(first)
                .with_context(|| format!("--args: {first:?} is not a constructor signature"))?;
            if let Some(abi) = &abi {
                let declared = abi.constructor_signature();
                let types = |inputs: &[alloy_json_abi::Param]| {
                    inputs.iter().map(|p| p.ty.clone()).collect::<Vec<_>>()
                };
                if types(&constructor.inputs) != types(abi.constructor_inputs()) {
                    bail!("--args: {first} is not this contract's {declared}");
                }
            }
            let values = coerce(&constructor.inputs, values, "the constructor")?;
            constructor.abi_encode_input(&values)?
        }
        (_, Some(abi)) => {
            let values = coerce(abi.constructor_inputs(), args, "the constructor")?;
            encode_params(abi.constructor_inputs(), &values)?
        }
        (None, None) => Vec::new(),
        (Some(_), None) => bail!(
            "--args: with hex init code, give the constructor's signature first, e.g. \
             --args 'constructor(uint256)' 1000"
        ),
    };
    code.extend(encoded);
    Ok((code, abi))
}

/// `values` ABI-encoded as a tuple of `params` (a constructor's arguments).
fn encode_params(
    params: &[alloy_json_abi::Param],
    values: &[alloy_dyn_abi::DynSolValue],
) -> anyhow::Result<Vec<u8>> {
    let constructor = Constructor {
        inputs: params.to_vec(),
        state_mutability: alloy_json_abi::StateMutability::NonPayable,
    };
    Ok(constructor.abi_encode_input(values)?)
}

impl CallInput {
    /// The ABI of --abi, if given.
    fn abi(&self) -> anyhow::Result<Option<Abi>> {
        self.abi.as_deref().map(Abi::read).transpose()
    }

    /// The call data, and the function when it was named.
    fn encode(&self, abi: Option<&Abi>) -> anyhow::Result<(Vec<u8>, Option<Function>)> {
        let function = match (&self.sig, abi) {
            (Some(sig), Some(abi)) => Some(abi.function(sig)?),
            (Some(sig), None) => Some(
                Function::parse(sig)
                    .with_context(|| format!("--sig: {sig:?} is not a function signature"))?,
            ),
            (None, _) => None,
        };
        let data = match (&function, &self.data) {
            (Some(function), _) => {
                let values = coerce(&function.inputs, &self.values, &function.signature())?;
                function.abi_encode_input(&values)?
            }
            (None, Some(data)) => decode_hex(data).context("--data is not hex")?,
            (None, None) => bail!("give --sig (and its arguments) or --data"),
        };
        Ok((data, function))
    }
}

/// How revert data reads: by the ABI when there is one.
fn describe_revert(abi: Option<&Abi>, data: &[u8]) -> String {
    match abi {
        Some(abi) => abi.revert_text(data),
        None => revert_text(data),
    }
}

/// Why an `execution_failed` answer failed, and its revert data: the data
/// as people read it (by `abi` where there is one), or the node's message
/// when there is none.
fn execution_failure(error: &ApiError, abi: Option<&Abi>) -> (String, Vec<u8>) {
    let data = error
        .data
        .as_deref()
        .and_then(|data| decode_base64(data).ok())
        .unwrap_or_default();
    let reason = match data.is_empty() {
        true => error.message.clone(),
        false => describe_revert(abi, &data),
    };
    (reason, data)
}

/// What an action is called in messages.
fn action_name(action: ActionType) -> &'static str {
    match action {
        ActionType::ContractCreation => "creation",
        ActionType::ContractCall => "call",
        _ => "transfer",
    }
}

/// A transaction about to be sent, and what is known to explain it.
struct Outgoing<'a> {
    from: Address,
    to: Address,
    amount: Balance,
    data: Vec<u8>,
    abi: Option<&'a Abi>,
    json: bool,
}

impl Outgoing<'_> {
    /// Signs and pushes it with `fee`, waits for its final status, and
    /// finds its block.
    async fn send(
        self,
        remote: &Remote,
        key: &SecretKey,
        fee: u64,
    ) -> anyhow::Result<(Hash, TransactionStatus, Option<u64>)> {
        let wait = Wait::Final {
            say_pending: !self.json,
        };
        let (hash, status) =
            push_unique(remote, key, self.to, self.amount, fee, self.data, wait).await?;
        let block = block_of(remote, &key.address(), &hash).await?;
        Ok((hash, status, block))
    }

    /// The fee to send with: `fee` once the node's estimate says it is
    /// enough, or the estimate plus the margin for `auto`. Refuses what
    /// would fail whatever the fee, and a fee that would run out of gas,
    /// before anything is signed (`no_check` skips the estimate for a
    /// given fee).
    async fn fee(&self, remote: &Remote, fee: FeeArg, no_check: bool) -> anyhow::Result<u64> {
        if let (FeeArg::Given(fee), true) = (fee, no_check) {
            return Ok(fee);
        }
        let asked = remote
            .ask(
                "estimate_fee",
                remote
                    .client()
                    .estimate_fee(&self.from, &self.to, self.amount, &self.data),
            )
            .await;
        let estimate = match asked {
            Ok(estimate) => estimate,
            Err(NodeError::Api(error)) if error.code == ErrorCode::ExecutionFailed => {
                let (reason, _) = execution_failure(&error, self.abi);
                bail!("it would fail whatever its fee, so nothing was sent: {reason}");
            }
            Err(NodeError::Api(error)) if error.code == ErrorCode::UnknownCommand => match fee {
                FeeArg::Given(fee) => return Ok(fee),
                FeeArg::Auto => {
                    bail!("the node does not estimate fees (it has no estimate_fee); give --fee")
                }
            },
            Err(error) => return Err(error.into()),
        };
        let needed = parse_u64(&estimate.fee).context("the node's estimate")?;
        let action = action_name(estimate.action_type);
        match fee {
            FeeArg::Given(fee) if fee < needed => bail!(
                "--fee {fee} is below the {needed} this {action} needs: it would run out of gas \
                 and keep the whole fee; give --fee {needed} or more, or --fee auto"
            ),
            FeeArg::Given(fee) => Ok(fee),
            FeeArg::Auto => {
                let fee = needed.saturating_add(needed.div_ceil(100) * AUTO_MARGIN_PERCENT);
                if !self.json {
                    eprintln!(
                        "fee auto: this {action} needs {needed}; sending with fee {fee}, \
                         {AUTO_MARGIN_PERCENT}% more (gas not used is not charged)"
                    );
                }
                Ok(fee)
            }
        }
    }
}

pub(crate) async fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let key = SecretKey::load(&args.key)?;
    let (code, abi) = creation(&args.code, &args.args)?;
    let amount: Balance = args.amount.parse().context("--amount")?;
    let remote = Remote::connect(&args.client).await?;
    let outgoing = Outgoing {
        from: key.address(),
        to: Address::NULL,
        amount,
        data: code,
        abi: abi.as_ref(),
        json: args.client.json,
    };
    let fee = outgoing.fee(&remote, args.fee, args.no_check).await?;
    let (hash, status, block) = outgoing.send(&remote, &key, fee).await?;
    let address = (status.status_code == StatusCode::Success).then(|| status.message.clone());
    let applied = Applied {
        hash,
        status: &status,
        fee,
        block,
    };
    let revert = revert_of(&applied, abi.as_ref());
    show(
        &args.client,
        &json!({
            "hash": hash,
            "status": status,
            "address": address,
            "block": block,
            "gas_used": applied.gas_used(),
            "revert": revert,
        }),
        || {
            let mut lines = Vec::new();
            if let Some(address) = &address {
                lines.push(format!("contract {address}"));
            }
            lines.extend(applied.lines(revert.as_deref()));
            lines.join("\n")
        },
    )?;
    Ok(exit_for(&status))
}

pub(crate) async fn call(args: CallArgs) -> anyhow::Result<ExitCode> {
    let abi = args.input.abi()?;
    let (data, function) = args.input.encode(abi.as_ref())?;
    let to = args.to.address;
    let remote = Remote::connect(&args.client).await?;
    if args.view {
        // The v1 API takes only signed view calls; a view pays nothing, so
        // a key made for this one call signs it when none is given.
        let key = match &args.key {
            Some(path) => SecretKey::load(path)?,
            None => SecretKey::generate(),
        };
        let raw = ViewCall::sign_raw(&key, to, unix_now()?, &data);
        let answer = remote
            .ask(
                "call_contract_view",
                remote.client().call_contract_view(&raw),
            )
            .await;
        let output = match answer {
            Ok(output) => decode_base64(&output)?,
            Err(NodeError::Api(error)) if error.code == ErrorCode::ExecutionFailed => {
                let (reason, data) = execution_failure(&error, abi.as_ref());
                let reason = match reason {
                    // Undecoded, the reason is the data itself.
                    reason if data.is_empty() || reason.contains(&hex::encode(&data)) => reason,
                    reason => format!("{reason} (revert data 0x{})", hex::encode(&data)),
                };
                bail!("the view call reverted: {reason}");
            }
            Err(NodeError::Api(error)) if error.code == ErrorCode::NotFound => {
                bail!("no contract at {}: {}", args.to, error.message)
            }
            Err(error) => return Err(error.into()),
        };
        let decoded = decode_output(function.as_ref(), &output)?;
        show(
            &args.client,
            &json!({ "output": format!("0x{}", hex::encode(&output)), "decoded": decoded }),
            || output_lines(decoded.as_deref(), &output).join("\n"),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let key = SecretKey::load(args.key.as_deref().context("--key is required")?)?;
    let amount: Balance = args.amount.parse().context("--amount")?;
    if !args.allow_no_code {
        let target = remote
            .ask("account_info", remote.client().account_info(&to))
            .await?;
        let kind = serde_json::to_value(target.kind).unwrap_or_default();
        if kind != "contract" {
            bail!(
                "{} holds no contract code: this would be a plain transfer of {amount} that \
                 keeps the whole fee; check the address, or give --allow-no-code",
                args.to
            );
        }
    }
    let outgoing = Outgoing {
        from: key.address(),
        to,
        amount,
        data,
        abi: abi.as_ref(),
        json: args.client.json,
    };
    let fee = args.fee.context("--fee is required")?;
    let fee = outgoing.fee(&remote, fee, args.no_check).await?;
    let (hash, status, block) = outgoing.send(&remote, &key, fee).await?;
    let output = match status.status_code {
        StatusCode::Success => decode_base64(&status.message).unwrap_or_default(),
        _ => Vec::new(),
    };
    let decoded = decode_output(function.as_ref(), &output)?;
    let applied = Applied {
        hash,
        status: &status,
        fee,
        block,
    };
    let revert = revert_of(&applied, abi.as_ref());
    show(
        &args.client,
        &json!({
            "hash": hash,
            "status": status,
            "block": block,
            "gas_used": applied.gas_used(),
            "revert": revert,
            "output": format!("0x{}", hex::encode(&output)),
            "decoded": decoded,
        }),
        || {
            let mut lines = applied.lines(revert.as_deref());
            lines.extend(output_lines(decoded.as_deref(), &output));
            lines.join("\n")
        },
    )?;
    Ok(exit_for(&status))
}

pub(crate) async fn estimate(args: EstimateArgs) -> anyhow::Result<ExitCode> {
    let from = match (&args.from, &args.key) {
        (Some(from), _) => from.address,
        (None, Some(key)) => SecretKey::load(key)?.address(),
        (None, None) => bail!("give --from or --key"),
    };
    let (to, data, abi) = match (&args.to, &args.code) {
        (_, Some(code)) => {
            let (code, abi) = creation(code, &args.args)?;
            (Address::NULL, code, abi)
        }
        (Some(to), None) => {
            let abi = args.input.abi()?;
            let data = match (&args.input.sig, &args.input.data) {
                (None, None) => Vec::new(),
                _ => args.input.encode(abi.as_ref())?.0,
            };
            (to.address, data, abi)
        }
        (None, None) => bail!("give --to, or --code for a creation"),
    };
    let amount: Balance = args.amount.parse().context("--amount")?;
    let remote = Remote::connect(&args.client).await?;
    let asked = remote
        .ask(
            "estimate_fee",
            remote.client().estimate_fee(&from, &to, amount, &data),
        )
        .await;
    let estimate = match asked {
        Ok(estimate) => estimate,
        Err(NodeError::Api(error)) if error.code == ErrorCode::ExecutionFailed => {
            let (reason, _) = execution_failure(&error, abi.as_ref());
            bail!("it would fail whatever its fee: {reason}");
        }
        Err(error) => return Err(error.into()),
    };
    show(&args.client, &estimate, || {
        format!(
            "fee {} for this {} (it uses {} gas; `--fee auto` adds {AUTO_MARGIN_PERCENT}%)",
            estimate.fee,
            action_name(estimate.action_type),
            estimate.gas_used
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A revert's data of `applied` as people read it, by `abi` where there
/// is one; `None` unless it reverted.
fn revert_of(applied: &Applied<'_>, abi: Option<&Abi>) -> Option<String> {
    (applied.status.status_code == StatusCode::Revert).then(|| {
        let data = decode_base64(&applied.status.message).unwrap_or_default();
        describe_revert(abi, &data)
    })
}

/// A call's output decoded by the function's outputs, when it declares
/// any and returned something.
fn decode_output(
    function: Option<&Function>,
    output: &[u8],
) -> anyhow::Result<Option<Vec<String>>> {
    let Some(function) = function.filter(|f| !f.outputs.is_empty() && !output.is_empty()) else {
        return Ok(None);
    };
    let values = function
        .abi_decode_output(output)
        .with_context(|| format!("the answer does not decode as {}", outputs(function)))?;
    Ok(Some(values.iter().map(render).collect()))
}

/// The lines of a call's output: decoded, else hex.
fn output_lines(decoded: Option<&[String]>, output: &[u8]) -> Vec<String> {
    match decoded {
        Some(values) => values.to_vec(),
        None if !output.is_empty() => vec![format!("0x{}", hex::encode(output))],
        None => Vec::new(),
    }
}

fn outputs(function: &Function) -> String {
    let types: Vec<_> = function.outputs.iter().map(|p| p.ty.clone()).collect();
    format!("({})", types.join(","))
}

fn exit_for(status: &TransactionStatus) -> ExitCode {
    if status.status_code == StatusCode::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(crate) async fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let hash: Hash = args.hash.parse()?;
    let abi = args.abi.as_deref().map(Abi::read).transpose()?;
    let remote = Remote::connect(&args.client).await?;
    let logs = remote
        .ask(
            "find_transaction_logs",
            remote.client().find_transaction_logs(&hash),
        )
        .await?;
    let decoded: Vec<Option<String>> = logs
        .logs
        .iter()
        .map(|log| decode_log(abi.as_ref(), log))
        .collect();
    let json = json!({
        "logs": logs.logs.iter().zip(&decoded).map(|(log, event)| {
            let mut value = serde_json::to_value(log).unwrap_or_default();
            value["event"] = json!(event);
            value
        }).collect::<Vec<_>>(),
    });
    show(&args.client, &json, || {
        if logs.logs.is_empty() {
            return "no logs".to_owned();
        }
        logs.logs
            .iter()
            .zip(&decoded)
            .enumerate()
            .map(|(index, (log, event))| describe_log(index, log, event.as_deref()))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A log's event by the ABI, if it has one that matches.
fn decode_log(abi: Option<&Abi>, log: &WireLog) -> Option<String> {
    let data = decode_base64(&log.data).ok()?;
    let topics: Vec<[u8; 32]> = log.topics.iter().map(|topic| topic.0).collect();
    abi?.event_text(&topics, &data)
}

fn describe_log(index: usize, log: &WireLog, event: Option<&str>) -> String {
    let mut text = format!("log {index} from {}", log.address);
    if let Some(event) = event {
        text.push_str(&format!("\n  {event}"));
        return text;
    }
    for (n, topic) in log.topics.iter().enumerate() {
        text.push_str(&format!("\n  topic {n} 0x{}", hex::encode(topic.0)));
    }
    let data = decode_base64(&log.data).unwrap_or_default();
    text.push_str(&format!("\n  data 0x{}", hex::encode(data)));
    text
}

pub(crate) async fn code(address: &AddressArg, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::connect(args).await?;
    let code = remote
        .ask(
            "account_code",
            remote.client().account_code(&address.address),
        )
        .await?;
    let hex = format!("0x{}", hex::encode(&code));
    show(
        args,
        &json!({ "address": address.to_string(), "code": hex }),
        || match code.is_empty() {
            true => format!("{address} holds no code"),
            false => hex.clone(),
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn storage(args: StorageArgs) -> anyhow::Result<ExitCode> {
    let slot = parse_slot(&args.slot)?;
    let remote = Remote::connect(&args.client).await?;
    let value = remote
        .ask(
            "account_storage",
            remote
                .client()
                .account_storage(&args.address.address, &slot),
        )
        .await?;
    let word = alloy_primitives::U256::from_be_bytes(value);
    show(
        &args.client,
        &json!({
            "address": args.address.to_string(),
            "slot": format!("0x{}", hex::encode(slot)),
            "value": format!("0x{}", hex::encode(value)),
        }),
        || format!("0x{} ({word})", hex::encode(value)),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A storage slot: a decimal number, or up to 32 bytes of `0x` hex.
fn parse_slot(text: &str) -> anyhow::Result<[u8; 32]> {
    let word = match text.strip_prefix("0x") {
        Some(digits) => {
            // An odd number of digits is a leading zero left out.
            let digits = match digits.len() % 2 {
                0 => digits.to_owned(),
                _ => format!("0{digits}"),
            };
            let bytes = hex::decode(&digits)
                .map_err(|_| anyhow::anyhow!("slot {text:?} is not hex after 0x"))?;
            if bytes.len() > 32 {
                bail!("slot {text:?} is longer than 32 bytes");
            }
            alloy_primitives::U256::from_be_slice(&bytes)
        }
        None => text
            .parse::<alloy_primitives::U256>()
            .map_err(|_| anyhow::anyhow!("slot {text:?} is not a number (decimal, or 0x hex)"))?,
    };
    Ok(word.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_numbers_or_auto() {
        assert_eq!("auto".parse::<FeeArg>(), Ok(FeeArg::Auto));
        assert_eq!("60000".parse::<FeeArg>(), Ok(FeeArg::Given(60_000)));
        assert!("lots".parse::<FeeArg>().unwrap_err().contains("`auto`"));
    }

    #[test]
    fn slots_are_decimal_or_hex() {
        let one = parse_slot("1").expect("decimal");
        assert_eq!(one[31], 1);
        assert_eq!(parse_slot("0x1").expect("hex"), one);
        assert_eq!(parse_slot("0x0001").expect("hex"), one);
        assert!(parse_slot(&format!("0x{}", "00".repeat(33))).is_err());
        assert!(parse_slot("x").is_err());
    }
}
