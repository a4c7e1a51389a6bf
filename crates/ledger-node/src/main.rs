//! `ledger-node`: runs a ledger node (`ledger-node run`, alone or as one
//! validator of a network; `devnet` runs a network here), moves its chain
//! (`export`, `import`), measures one (`bench`), and talks to one as a
//! client (`keygen`, `account`, `transfer`, `block`, `tx`, `watch`).
//!
//! The binary owns configuration, the process (signals, exit codes, logs)
//! and the wiring of `ledger-store`, `ledger-ws` and `ledger-core`; the
//! rules and the protocol live in those crates. Nothing depends on it.

mod address;
mod bench;
mod chain_file;
mod client;
mod config;
mod contract;
mod devnet;
mod endpoint;
mod failure;
mod node;
mod peers;
mod state_sync;
mod validator;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

// glibc's allocator spent an eighth of a loaded node's time in malloc and
// free across threads (perf, docs/benchmarks.md); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process (and the nodes it
/// starts). mimalloc asks for them on its arenas, and hands memory it
/// freed back to the kernel a second later; every later touch of such
/// memory then faults in and zeroes a whole 2 MiB page. Under `bench`
/// load that zeroing was 27% of the node's CPU samples (perf); with huge
/// pages off a node used ~0.8 of the CPU per transfer on short runs
/// (docs/benchmarks.md, "Transparent huge pages off"). Where the kernel
/// refuses, the node runs as before.
fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// The default WebSocket address of a node, once, for both the listening
/// side and the clients' default URL.
macro_rules! default_ws {
    () => {
        "127.0.0.1:50051"
    };
}
pub(crate) use default_ws;

/// The default WebSocket address of a node.
const DEFAULT_WS: &str = default_ws!();

#[derive(Parser)]
#[command(name = "ledger-node", version, about = "A ledger node and its client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: store the chain, produce blocks, serve the WebSocket API.
    Run(Box<node::RunArgs>),
    /// Run a network of validators on this machine (default 4), each a
    /// `run` process, until Ctrl-C.
    Devnet(devnet::DevnetArgs),
    /// Measure: signed transfers pushed end to end (every one checked), or
    /// signature throughput alone (`bench verify`).
    Bench(bench::BenchArgs),
    /// Write a stopped node's chain to a file of blocks.
    Export(chain_file::ExportArgs),
    /// Build a new data directory from an export, re-validating and
    /// re-executing every block (e.g. to move to another --store).
    Import(chain_file::ImportArgs),
    /// Check a stopped node's whole store: replay every block in memory
    /// and compare every record, account, list, code and slot.
    Audit(chain_file::AuditArgs),
    /// Create a secret key file and print its address.
    Keygen {
        /// Where to write the key (64 hex characters); never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show an account.
    Account {
        /// The account's address (base58 or 0x hex).
        address: address::AddressArg,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Sign and push a transfer, and wait for its final status.
    Transfer(client::TransferArgs),
    /// Deploy a contract and print its address once its block is stored.
    Deploy(contract::DeployArgs),
    /// Call a contract: a transaction (waits for its status and decoded
    /// return), or with --view a read-only call.
    Call(contract::CallArgs),
    /// Estimate the fee a contract creation, call or transfer needs.
    Estimate(contract::EstimateArgs),
    /// Show the logs a transaction emitted (its events by name with --abi).
    Logs(contract::LogsArgs),
    /// Show a contract's deployed code.
    Code {
        /// The contract (base58 or 0x hex).
        address: address::AddressArg,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Show one storage slot of a contract.
    Storage(contract::StorageArgs),
    /// Show a block by depth or hash.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["number", "hash"])))]
    Block {
        /// Depth of the block.
        #[arg(long)]
        number: Option<u64>,
        /// Base64 hash of the block.
        #[arg(long)]
        hash: Option<String>,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Show a transaction and its status.
    Tx {
        /// Base64 hash of the transaction.
        hash: String,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Follow new blocks or an account until interrupted.
    Watch {
        #[command(subcommand)]
        what: client::Watch,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Show what a node is: version, chain, top block, mode, extensions.
    Info {
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Show the nodes a node is connected to (a validator's network).
    Peers {
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish,
    /// powershell), e.g. `ledger-node completions bash > ~/.local/share/bash-completion/completions/ledger-node`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    without_transparent_huge_pages();
    let cli = match parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => node::run(*args).await,
            Command::Devnet(args) => devnet::devnet(args).await,
            Command::Bench(args) => bench::bench(args).await,
            Command::Export(args) => chain_file::export(&args),
            Command::Import(args) => chain_file::import(&args),
            Command::Audit(args) => chain_file::audit(&args),
            Command::Keygen { out, json } => client::keygen(&out, json),
            Command::Account { address, client } => client::account(&address, &client).await,
            Command::Transfer(args) => client::transfer(args).await,
            Command::Deploy(args) => contract::deploy(args).await,
            Command::Call(args) => contract::call(args).await,
            Command::Estimate(args) => contract::estimate(args).await,
            Command::Logs(args) => contract::logs(args).await,
            Command::Code { address, client } => contract::code(&address, &client).await,
            Command::Storage(args) => contract::storage(args).await,
            Command::Block {
                number,
                hash,
                client,
            } => client::block(number, hash, &client).await,
            Command::Tx { hash, client } => client::tx(&hash, &client).await,
            Command::Watch { what, client } => client::watch(what, &client).await,
            Command::Info { client } => client::info(&client).await,
            Command::Peers { client } => client::peers(&client).await,
            Command::Completions { shell } => {
                let mut command = config::with_run_env(Cli::command());
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut command, "ledger-node", &mut script);
                std::io::Write::write_all(&mut std::io::stdout(), &script)
                    .context("cannot write the completion script")?;
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", failure::one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The command line, with `run`'s environment variables and config file;
/// the exit code instead where parsing ends the program: help, version,
/// `run --print-config`, or a usage error (one line on stderr).
fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, ExitCode> {
    let usage_error = |error: &clap::Error| {
        eprintln!("error: {}", failure::usage_line(error));
        ExitCode::from(2)
    };
    let (cli, matches, file) = match config::parse(Cli::command(), args) {
        Ok(config::Parsed::Matches(parsed)) => *parsed,
        Ok(config::Parsed::Clap(error)) if error.use_stderr() => return Err(usage_error(&error)),
        Ok(config::Parsed::Clap(help)) => {
            let _ = help.print();
            return Err(ExitCode::SUCCESS);
        }
        Err(error) => {
            eprintln!("error: {}", failure::one_line(&error));
            return Err(ExitCode::from(2));
        }
    };
    if config::print_asked(&matches) {
        println!("{}", config::render(&cli, &matches, file.as_ref()));
        return Err(ExitCode::SUCCESS);
    }
    Cli::from_arg_matches(&matches).map_err(|error| usage_error(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        config::with_run_env(Cli::command()).debug_assert();
    }
}
