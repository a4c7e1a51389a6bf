//! The contract commands, in the style of Foundry's `cast`: `deploy`,
//! `call` (a transaction, or `--view` for a read-only call) and `logs`.
//! ABI encoding and decoding come from alloy (`alloy-dyn-abi`), never from
//! hand-written code.

use std::path::PathBuf;
use std::process::ExitCode;

use alloy_dyn_abi::{DynSolType, DynSolValue, FunctionExt, JsonAbiExt, Specifier};
use alloy_json_abi::{Constructor, Function, Param};
use anyhow::{bail, Context};
use ledger_core::{
    decode_base64, parse_u64, Address, Balance, SecretKey, StatusCode, TransactionStatus, ViewCall,
};
use ledger_vm::artifact::{decode_hex, Artifact};
use ledger_ws::protocol::WireLog;
use serde_json::json;

use crate::client::{connect, push_unique, show, status_line, unix_now};
use crate::ClientArgs;

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
    /// Constructor arguments: its signature, then the values, e.g.
    /// `--args 'constructor(uint256)' 1000`.
    #[arg(long, num_args = 1.., value_name = "SIG ARGS")]
    args: Vec<String>,
    /// The fee, which is the gas limit (1 unit of balance per gas).
    #[arg(long)]
    fee: String,
    /// Value sent to the contract, a decimal integer.
    #[arg(long, default_value = "0")]
    amount: String,
    #[command(flatten)]
    client: ClientArgs,
}

/// Options of `ledger-node call`.
#[derive(clap::Args)]
pub(crate) struct CallArgs {
    /// The caller's key file (64 hex characters).
    #[arg(long)]
    key: PathBuf,
    /// The contract's base58 address.
    #[arg(long)]
    to: String,
    /// The function, e.g. `set(uint256)`; for `--view`, with its outputs
    /// to decode them, e.g. `get()(uint256)`.
    #[arg(long, conflicts_with = "data", required_unless_present = "data")]
    sig: Option<String>,
    /// Raw call data in hex, instead of `--sig` and arguments.
    #[arg(long)]
    data: Option<String>,
    /// The function's arguments (addresses in base58 or 0x hex; put
    /// negative numbers after `--`).
    values: Vec<String>,
    /// Run read-only against the newest state (`call_contract_view`):
    /// nothing is signed into a block, nothing is paid.
    #[arg(long)]
    view: bool,
    /// The fee, which is the gas limit (not for `--view`).
    #[arg(long, required_unless_present = "view")]
    fee: Option<String>,
    /// Value sent with the call, a decimal integer (not for `--view`).
    #[arg(long, default_value = "0")]
    amount: String,
    #[command(flatten)]
    client: ClientArgs,
}

/// The init code in `path`: an artifact's `bytecode`, or hex.
fn init_code(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --code {}", path.display()))?;
    if text.trim_start().starts_with('{') {
        return Ok(Artifact::parse(path, &text)?.init_code());
    }
    decode_hex(&text)
        .with_context(|| format!("--code {} is neither an artifact nor hex", path.display()))
}

/// `values` coerced to the types of `params`, named `what` in errors.
fn coerce(params: &[Param], values: &[String], what: &str) -> anyhow::Result<Vec<DynSolValue>> {
    if params.len() != values.len() {
        bail!(
            "{what} takes {} arguments, {} given",
            params.len(),
            values.len()
        );
    }
    params
        .iter()
        .zip(values)
        .map(|(param, value)| {
            let kind = param.resolve()?;
            if kind == DynSolType::Address {
                if let Ok(address) = value.parse::<Address>() {
                    return Ok(DynSolValue::Address(address.0.into()));
                }
            }
            kind.coerce_str(value)
                .with_context(|| format!("{what}: {value:?} is not a {}", kind.sol_type_name()))
        })
        .collect()
}

/// A decoded value as people write it; addresses in the ledger's base58.
fn render(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(address) => Address(address.into_array()).to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Bytes(bytes) => format!("0x{}", hex::encode(bytes)),
        DynSolValue::FixedBytes(word, size) => format!("0x{}", hex::encode(&word[..*size])),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!(
                "[{}]",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            )
        }
        DynSolValue::Tuple(items) => {
            format!(
                "({})",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            )
        }
        other => format!("{other:?}"),
    }
}

fn exit_for(status: &TransactionStatus) -> ExitCode {
    if status.status_code == StatusCode::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(crate) async fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let key = SecretKey::load(&args.key)?;
    let mut code = init_code(&args.code)?;
    if let Some((signature, values)) = args.args.split_first() {
        let constructor = Constructor::parse(signature)
            .with_context(|| format!("--args: {signature:?} is not a constructor signature"))?;
        let values = coerce(&constructor.inputs, values, "the constructor")?;
        code.extend(constructor.abi_encode_input(&values)?);
    }
    let amount: Balance = args.amount.parse().context("--amount")?;
    let fee = parse_u64(&args.fee).context("--fee")?;
    let client = connect(&args.client).await?;
    let (hash, status) =
        push_unique(&client, &key, Address::NULL, amount, fee, code, false).await?;
    let address = (status.status_code == StatusCode::Success).then(|| status.message.clone());
    show(
        &args.client,
        &json!({ "hash": hash, "status": status, "address": address }),
        || match &address {
            Some(address) => format!("contract {address}\ntransaction {hash}"),
            None => format!("transaction {hash}\n{}", status_line(&status)),
        },
    )?;
    Ok(exit_for(&status))
}

pub(crate) async fn call(args: CallArgs) -> anyhow::Result<ExitCode> {
    let key = SecretKey::load(&args.key)?;
    let to: Address = args.to.parse().context("--to")?;
    let function = args
        .sig
        .as_deref()
        .map(|sig| {
            Function::parse(sig)
                .with_context(|| format!("--sig: {sig:?} is not a function signature"))
        })
        .transpose()?;
    let data = match (&function, &args.data) {
        (Some(function), _) => {
            let values = coerce(&function.inputs, &args.values, &function.signature())?;
            function.abi_encode_input(&values)?
        }
        (None, Some(data)) => decode_hex(data).context("--data is not hex")?,
        (None, None) => bail!("give --sig or --data"),
    };
    let client = connect(&args.client).await?;
    if args.view {
        let raw = ViewCall::sign_raw(&key, to, unix_now()?, &data);
        let output = decode_base64(&client.call_contract_view(&raw).await?)?;
        return print_output(&args.client, function.as_ref(), &output, None, None)
            .map(|()| ExitCode::SUCCESS);
    }
    let fee = parse_u64(args.fee.as_deref().unwrap_or_default()).context("--fee")?;
    let amount: Balance = args.amount.parse().context("--amount")?;
    let (hash, status) = push_unique(&client, &key, to, amount, fee, data, false).await?;
    let output = match status.status_code {
        StatusCode::Success => decode_base64(&status.message).unwrap_or_default(),
        _ => Vec::new(),
    };
    print_output(
        &args.client,
        function.as_ref(),
        &output,
        Some(&status),
        Some(hash),
    )?;
    Ok(exit_for(&status))
}

/// Prints a call's output, decoded by the function's outputs if it has
/// any, else as hex; with the transaction and status for a transaction.
fn print_output(
    args: &ClientArgs,
    function: Option<&Function>,
    output: &[u8],
    status: Option<&TransactionStatus>,
    hash: Option<ledger_core::Hash>,
) -> anyhow::Result<()> {
    let decoded = match function {
        Some(function) if !function.outputs.is_empty() && !output.is_empty() => Some(
            function
                .abi_decode_output(output)
                .with_context(|| format!("the answer does not decode as {}", outputs(function)))?
                .iter()
                .map(render)
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    show(
        args,
        &json!({
            "hash": hash,
            "status": status,
            "output": format!("0x{}", hex::encode(output)),
            "decoded": decoded,
        }),
        || {
            let mut lines = Vec::new();
            if let (Some(hash), Some(status)) = (hash, status) {
                lines.push(format!("transaction {hash}"));
                lines.push(status_line(status));
                if status.status_code == StatusCode::Revert {
                    let data = decode_base64(&status.message).unwrap_or_default();
                    if let Some(reason) = alloy_sol_types::decode_revert_reason(&data) {
                        lines.push(format!("reason: {reason}"));
                    }
                }
            }
            match &decoded {
                Some(values) => lines.extend(values.iter().cloned()),
                None if !output.is_empty() => lines.push(format!("0x{}", hex::encode(output))),
                None => {}
            }
            lines.join("\n")
        },
    )
}

fn outputs(function: &Function) -> String {
    let types: Vec<_> = function.outputs.iter().map(|p| p.ty.clone()).collect();
    format!("({})", types.join(","))
}

pub(crate) async fn logs(hash: &str, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let hash: ledger_core::Hash = hash.parse()?;
    let logs = connect(args).await?.find_transaction_logs(&hash).await?;
    show(args, &logs, || {
        if logs.logs.is_empty() {
            return "no logs".to_owned();
        }
        logs.logs
            .iter()
            .enumerate()
            .map(|(index, log)| describe_log(index, log))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(ExitCode::SUCCESS)
}

fn describe_log(index: usize, log: &WireLog) -> String {
    let mut text = format!("log {index} from {}", log.address);
    for (n, topic) in log.topics.iter().enumerate() {
        text.push_str(&format!("\n  topic {n} 0x{}", hex::encode(topic.0)));
    }
    let data = decode_base64(&log.data).unwrap_or_default();
    text.push_str(&format!("\n  data 0x{}", hex::encode(data)));
    text
}
