//! `ledger-node run`: the standalone node.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ledger_chain::{ChainError, ChainService, ProducerConfig, SystemClock};
use ledger_core::{ChainConfig, CoreError, Genesis, Ledger, SecretKey, StateRead};
use ledger_store::{Engine, Store, StoreError};
use ledger_vm::Evm;
use ledger_ws::{serve, Phase, ServerConfig};
use tokio::net::TcpListener;

/// Options of `ledger-node run`. Each can also come from the environment
/// (`LEDGER_` and its name: `LEDGER_DATA_DIR`) or from `--config FILE`;
/// see `config.rs`.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// A TOML file of options, keys named as the long options
    /// (`data-dir = "/var/lib/ledger"`); the command line and `LEDGER_*`
    /// environment variables win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the options the node would start with, as a config file with
    /// where each came from, and exit.
    #[arg(long)]
    print_config: bool,
    /// Where the chain is stored (created if missing).
    #[arg(long, default_value = "./ledger-data")]
    data_dir: PathBuf,
    /// The storage engine of a new data directory: `fjall` (the default)
    /// or `sled`. An existing directory is opened with the engine that
    /// created it.
    #[arg(long)]
    store: Option<Engine>,
    /// Address of the WebSocket API and the explorer: `HOST:PORT` (port 0
    /// picks a free port).
    #[arg(long, default_value = crate::DEFAULT_WS, value_parser = crate::endpoint::listen_address)]
    ws: SocketAddr,
    /// Log lines as text for people, or as JSON objects (one per line) for
    /// a log collector.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Genesis JSON file; the built-in dev genesis if absent.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// The node's key (its address is the coinbase); default
    /// `<data-dir>/node.key`, created if missing.
    #[arg(long)]
    key: Option<PathBuf>,
    /// While transactions are pending, a block starts this many
    /// milliseconds after the previous one started (at once when the node
    /// was idle, or when the previous block took longer). 0, the default:
    /// as soon as the previous block is stored, so a block holds what
    /// arrived while the one before was written (a lone push is final in
    /// a few ms; under load blocks grow as commits take longer).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=500))]
    block_interval_ms: u64,
    /// The nice value of the chain's two threads (admitting and storing
    /// blocks), so a busy node finishes a block before taking more pushes.
    /// Default: -5 on sled, as started on fjall (ADR 15); below the
    /// starting value needs CAP_SYS_NICE.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-20..=19))]
    chain_nice: Option<i32>,
    /// Most transactions in one block: default 10,000 alone, 2,000 as a
    /// validator of a network (every validator executes a proposal before
    /// its round's timeouts run out; see docs/consensus.md).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_block_txs: Option<u64>,
    /// Most transactions pending at once; further pushes are refused.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_pending: u64,
    /// Quiet time, in seconds, after which a connection is pinged (and
    /// closed if it stays silent as long again).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    ping_interval_s: u64,
    /// Most messages queued for a client that is not reading; past it the
    /// client is disconnected (close code 1008).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    max_outgoing: u64,
    /// Most bytes queued for a client that is not reading; past it the
    /// client is disconnected (close code 1008).
    #[arg(long, default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_outgoing_bytes: u64,
    /// Most bytes queued for all clients together; a client whose answer
    /// would pass it is disconnected (close code 1008).
    #[arg(long, default_value_t = 1 << 30, value_parser = clap::value_parser!(u64).range(1..))]
    max_outgoing_bytes_total: u64,
    /// Most connections at once; more are refused at the handshake.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Largest request answered; a larger one is answered `limit_exceeded`.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_request_bytes: u64,
    /// Largest WebSocket message read at all; a larger one closes the
    /// connection (code 1009). At least --max-request-bytes.
    #[arg(long, default_value_t = 4 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_message_bytes: u64,
    /// Most active subscriptions per connection (pushes awaiting their
    /// final status count).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_subscriptions: u64,
    /// Most requests of one connection waiting on the chain at once.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight: u64,
    /// Most messages queued for a valid-transactions stream reader; past
    /// it the reader is disconnected (close code 1008).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    stream_queue: u64,
    /// Longest transaction list `account_info` answers with; a longer one
    /// is `limit_exceeded` (page with `account_transactions`).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_account_hashes: u64,
    /// How many blocks a connection's notifications may fall behind before
    /// it is disconnected (close code 1008).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_lag_blocks: u64,
    /// Most bytes of transactions pending at once; further pushes are
    /// refused.
    #[arg(long, default_value_t = 256 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_pending_bytes: u64,
    /// Milliseconds a client may take to send a request's headers (from
    /// connecting, or from its previous answer); a connection silent that
    /// long is closed.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// Kernel send buffer of each WebSocket, in bytes (Linux doubles it, up
    /// to twice net.core.wmem_max); bounds what a client that does not read
    /// can make the kernel hold besides the outgoing queue.
    #[arg(long, default_value_t = 256 << 10, value_parser = clap::value_parser!(u64).range(4096..))]
    send_buffer_bytes: u64,
    /// Free space, in MiB, kept on the data directory's disk: a block that
    /// would leave less is not stored, and the node stops producing blocks
    /// (reads go on) until it is restarted with space freed. 0: no reserve.
    #[arg(long, default_value_t = ledger_store::DEFAULT_SPACE_RESERVE >> 20)]
    disk_reserve_mib: u64,
    /// The storage engine's cache of pages or blocks, in MiB: bounds the
    /// memory it keeps of the store; reads beyond it go to the files.
    #[arg(long, default_value_t = ledger_store::DEFAULT_CACHE_BYTES >> 20, value_parser = clap::value_parser!(u64).range(1..))]
    store_cache_mib: u64,
    /// The gas a `call_contract_view` may use.
    #[arg(long, default_value_t = ledger_core::VIEW_CALL_GAS, value_parser = clap::value_parser!(u64).range(1..))]
    view_gas_cap: u64,
    #[command(flatten)]
    network: crate::validator::NetworkArgs,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Text for people (coloured on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr in `format`, at `RUST_LOG`'s level (default info).
pub(crate) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            // Colours for a person at a terminal, plain text for a file or a pipe.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
}

/// The nice value the chain's threads ask for unless `--chain-nice`: ahead
/// of the connections on sled, where storing a block is the stage a loaded
/// node waits for (+13–17% committed, docs/benchmarks.md); as started on
/// fjall, whose commit is a third of sled's and where running them ahead
/// measured ~8% slower over 200,000 transfers (ADR 15).
fn default_chain_nice(engine: Engine) -> Option<i32> {
    match engine {
        Engine::Sled => Some(-5),
        _ => None,
    }
}

/// Transactions in a block of a node alone, unless `--max-block-txs`.
const MAX_BLOCK_TXS_ALONE: u64 = 10_000;

/// Transactions in a block of a validator, unless `--max-block-txs`: a
/// proposal every validator checks within the round's timeouts on a
/// loaded machine (10,000 once took nine rounds; docs/consensus.md).
const MAX_BLOCK_TXS_VALIDATOR: u64 = 2_000;

pub(crate) fn load_genesis(path: Option<&Path>) -> anyhow::Result<Genesis> {
    let Some(path) = path else {
        return Ok(Genesis::dev());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the genesis file {}", path.display()))?;
    Genesis::from_json(&text).with_context(|| format!("genesis file {}", path.display()))
}

/// The engine of the store in `dir`: the one whose files are there, else
/// `asked`, else the default (fjall). Naming another engine than the
/// directory's is refused.
pub(crate) fn engine_for(dir: &Path, asked: Option<Engine>) -> anyhow::Result<Engine> {
    Engine::for_directory(dir, asked).map_err(|error| match error {
        StoreError::OtherEngine {
            path,
            found,
            requested,
        } => anyhow::anyhow!(
            "{} holds a {found} store, not {requested}: leave out --store (or give \
             --store {found}); to move the chain to {requested}, `ledger-node export` it \
             and `ledger-node import --store {requested}`",
            path.display()
        ),
        error => anyhow::Error::new(error),
    })
}

/// Opens the store in `dir` with `open` ([`Store::open`], or
/// [`Store::open_for_blocks`] to read the blocks of a damaged one), saying
/// how long a recovery took: after a crash an engine may replay its log
/// before the node can listen.
pub(crate) fn open_store(
    dir: &Path,
    engine: Engine,
    open: impl FnOnce(&Path, Engine) -> Result<Store, StoreError>,
) -> anyhow::Result<Store> {
    let started = std::time::Instant::now();
    tracing::info!(%engine, data_dir = %dir.display(), "opening the chain store");
    let store = open(dir, engine).map_err(|error| match error {
        StoreError::OtherEngine { found, .. } => {
            anyhow::anyhow!("{error}: run with --store {found}, or use another --data-dir")
        }
        error => anyhow::Error::new(error).context("cannot open the chain store"),
    })?;
    tracing::info!(%engine, elapsed_ms = started.elapsed().as_millis() as u64, "chain store open");
    Ok(store)
}

/// The node's key: `--key`, else `<data-dir>/node.key`, created there if
/// missing (and then listed in `fresh`, to go if the start fails).
fn load_or_create_key(args: &RunArgs, fresh: &mut FreshFiles) -> anyhow::Result<SecretKey> {
    if let Some(path) = &args.key {
        return SecretKey::load(path).context("cannot load the node key");
    }
    let path = args.data_dir.join("node.key");
    if path.exists() {
        return SecretKey::load(&path).context("cannot load the node key");
    }
    let key = SecretKey::generate();
    key.save(&path).context("cannot create the node key")?;
    fresh.files.push(path.clone());
    tracing::info!(path = %path.display(), address = %key.address(), "created a node key");
    Ok(key)
}

/// What a start created on disk, removed again if the start fails, so a
/// failed start leaves the disk as it found it: the data directory if it
/// did not exist (with all it holds by then), else the key files it added.
struct FreshFiles {
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
    kept: bool,
}

impl FreshFiles {
    /// Creates `dir` if missing, remembering whether it did.
    fn create_dir(dir: &Path) -> anyhow::Result<FreshFiles> {
        let existed = dir.exists();
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        Ok(FreshFiles {
            dir: (!existed).then(|| dir.to_owned()),
            files: Vec::new(),
            kept: false,
        })
    }

    /// The start succeeded: keep everything.
    fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for FreshFiles {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        } else {
            for file in &self.files {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);

    // Everything that can be checked is checked before anything is
    // written: a failed start leaves the disk as it found it.
    let signals = ShutdownSignals::install().context("cannot install signal handlers")?;
    if args.max_request_bytes > args.max_message_bytes {
        bail!(
            "--max-request-bytes ({}) is larger than --max-message-bytes ({}): \
             such a request could never be read",
            args.max_request_bytes,
            args.max_message_bytes
        );
    }
    let dir = &args.data_dir;
    let genesis = load_genesis(args.genesis.as_deref())?;
    if args.network.joins(&genesis) {
        args.network.validators(&genesis)?;
    }
    let engine = engine_for(dir, args.store)?;
    // The API's address must be free: checked here, bound again once the
    // chain is ready to serve (held meanwhile, a validator's port would
    // take the state-sync requests of its peers and never answer them).
    drop(listen(args.ws).await?);

    // From here on a failure removes what this start created.
    let mut fresh = FreshFiles::create_dir(dir)?;
    let key = load_or_create_key(&args, &mut fresh)?;
    let store = Arc::new(
        open_store(dir, engine, |dir, engine| {
            Store::open_with_cache(dir, engine, args.store_cache_mib.saturating_mul(1 << 20))
        })?
        .with_space_reserve(args.disk_reserve_mib.saturating_mul(1 << 20)),
    );
    if args.network.joins(&genesis) && args.network.state_sync() && store.tip()?.is_none() {
        let (validators, _) = args.network.validators(&genesis)?;
        if let Some(synced) =
            crate::state_sync::from_validators(&store, &genesis, &validators).await
        {
            tracing::info!(
                depth = synced.depth,
                from = %synced.from,
                bytes = synced.bytes,
                records = synced.entries,
                elapsed_ms = synced.elapsed.as_millis() as u64,
                "state synced from a validator's snapshot"
            );
            println!(
                "state synced at depth {} from {}",
                synced.depth, synced.from
            );
        }
    }
    let max_block_txs = match (args.max_block_txs, args.network.joins(&genesis)) {
        (Some(max), _) => max,
        (None, false) => MAX_BLOCK_TXS_ALONE,
        (None, true) => MAX_BLOCK_TXS_VALIDATOR,
    };
    let config = ChainConfig {
        max_block_transactions: usize::try_from(max_block_txs)?,
        max_pending: usize::try_from(args.max_pending)?,
        max_pending_bytes: usize::try_from(args.max_pending_bytes)?,
        view_call_gas: args.view_gas_cap,
    };
    let ledger = match Ledger::open_with_engine(store.clone(), genesis.clone(), config, Evm::new())
    {
        Ok(ledger) => ledger,
        Err(error @ CoreError::SettingsMismatch { .. }) => bail!(
            "the data directory {} holds a chain with other contract settings: {error}; \
             use the genesis it was created with (or another --data-dir)",
            dir.display()
        ),
        Err(error @ CoreError::GenesisMismatch { .. }) => bail!(
            "the data directory {} holds another chain: {error}; \
             use another --data-dir or the genesis it was created with",
            dir.display()
        ),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot open the chain in {}", dir.display()))
        }
    };
    let tip = ledger.tip()?;
    let settings = *ledger.settings();
    let mut producer_config = ProducerConfig::new(key.address());
    producer_config.block_interval = Duration::from_millis(args.block_interval_ms);
    producer_config.event_backlog = usize::try_from(args.max_lag_blocks)?;
    producer_config.driven = args.network.joins(&genesis);
    producer_config.thread_nice = args.chain_nice.or(default_chain_nice(store.engine()));
    let (chain, producer) = ChainService::spawn(ledger, producer_config, SystemClock::new())
        .context("cannot start block production")?;
    let joined = if args.network.joins(&genesis) {
        let joined =
            crate::validator::start(&args.network, dir, chain.clone(), &genesis, key.address())
                .await?;
        Some(joined)
    } else {
        None
    };
    let listener = listen(args.ws).await?;
    let address = listener.local_addr()?;
    let (phase, phases) = tokio::sync::watch::channel(Phase::Running);
    let server_config = ServerConfig {
        ping_interval: Duration::from_secs(args.ping_interval_s),
        pong_timeout: Duration::from_secs(args.ping_interval_s),
        max_outgoing: usize::try_from(args.max_outgoing)?,
        max_outgoing_bytes: usize::try_from(args.max_outgoing_bytes)?,
        max_total_outgoing_bytes: usize::try_from(args.max_outgoing_bytes_total)?,
        max_connections: usize::try_from(args.max_connections)?,
        max_request_bytes: usize::try_from(args.max_request_bytes)?,
        max_message_bytes: usize::try_from(args.max_message_bytes)?,
        max_subscriptions: usize::try_from(args.max_subscriptions)?,
        max_in_flight: usize::try_from(args.max_in_flight)?,
        stream_queue: usize::try_from(args.stream_queue)?,
        max_account_hashes: usize::try_from(args.max_account_hashes)?,
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        send_buffer_bytes: usize::try_from(args.send_buffer_bytes)?,
    };
    let (server, validator) = match joined {
        // A validator's API forwards what it admits to the other
        // validators and reports them as its peers.
        Some(joined) => {
            let served =
                crate::peers::NetworkChain::new(chain.clone(), joined.peers, args.network.mode());
            let server = tokio::spawn(serve(listener, served, server_config, phases));
            (server, Some(joined.running))
        }
        None => (
            tokio::spawn(serve(listener, chain.clone(), server_config, phases)),
            None,
        ),
    };
    tracing::info!(
        depth = tip.depth,
        hash = %tip.hash,
        data_dir = %dir.display(),
        evm_fork = %settings.evm_fork,
        chain_id = settings.chain_id,
        block_gas_limit = settings.block_gas_limit,
        revm = ledger_vm::REVM_VERSION,
        "chain opened"
    );
    fresh.keep();
    // The line that says the node is ready comes last: scripts wait for it.
    println!("coinbase {}", key.address());
    if args.genesis.is_none() {
        println!(
            "dev key (funded by the dev genesis; public, never use it for value) {}",
            ledger_core::DEV_SECRET_KEY_HEX
        );
    }
    println!("explorer http://{address}/");
    println!("ledger-node listening on ws://{address}");

    // Wait for a signal, for the producer to stop on its own (a storage
    // failure), or for consensus to stop.
    let producer = tokio::task::spawn_blocking(move || producer.join());
    tokio::pin!(producer);
    let mut failed = false;
    let (engine, mut app) = match validator {
        Some(running) => (Some(running.engine), Some(running.app)),
        None => (None, None),
    };
    let consensus = async {
        match app.as_mut() {
            Some(app) => match app.await {
                Ok(Ok(())) => tracing::info!("consensus stopped"),
                Ok(Err(error)) => tracing::error!(%error, "consensus stopped"),
                Err(error) => tracing::error!(%error, "consensus crashed"),
            },
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = consensus => {
            failed = true;
            let _ = phase.send(Phase::Draining);
            chain.shutdown().await;
            failed |= producer_failed((&mut producer).await);
        }
        signal = signals.recv() => {
            tracing::info!(signal, "shutting down: finishing pending blocks");
            // New requests are refused from here on; those already taken
            // are answered, and what was admitted goes into blocks.
            let _ = phase.send(Phase::Draining);
            chain.shutdown().await;
            failed |= producer_failed((&mut producer).await);
        }
        result = &mut producer => failed |= producer_failed(result),
    }
    if let Some(engine) = engine {
        engine.actor.stop(None);
    }
    if let Some(app) = app {
        app.abort();
    }
    let _ = phase.send(Phase::Stopped);
    let _ = server.await;
    if let Err(error) = store.flush() {
        tracing::error!(%error, "final flush failed");
        failed = true;
    }
    let tip = store.tip().ok().flatten();
    tracing::info!(depth = tip.map(|t| t.depth), "stopped");
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A listener on the API's address.
async fn listen(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

type ProducerJoin = Result<std::thread::Result<Result<(), ChainError>>, tokio::task::JoinError>;

fn producer_failed(result: ProducerJoin) -> bool {
    match result {
        Ok(Ok(Ok(()))) => false,
        Ok(Ok(Err(error))) => {
            tracing::error!(%error, "block production stopped");
            true
        }
        _ => {
            tracing::error!("block production crashed");
            true
        }
    }
}

/// SIGINT and SIGTERM, caught from the moment of installation.
struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    /// SIGXFSZ is caught and ignored, so a write past the file-size limit
    /// fails with an error the store reports (the node halts) instead of
    /// killing the process.
    _file_too_large: tokio::signal::unix::Signal,
}

/// SIGXFSZ on Linux (and the BSDs and macOS).
const SIGXFSZ: i32 = 25;

impl ShutdownSignals {
    fn install() -> std::io::Result<ShutdownSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(ShutdownSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            _file_too_large: signal(SignalKind::from_raw(SIGXFSZ))?,
        })
    }

    /// The name of the first signal to arrive.
    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
