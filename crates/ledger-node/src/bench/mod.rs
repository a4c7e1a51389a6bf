//! `ledger-node bench`: the end-to-end load generator (signed transfers
//! pushed over WebSocket, every one checked), `bench verify` (signature
//! throughput alone) and `bench genesis` (for a node started by hand).
//! See docs/benchmarks.md.

mod load;
mod plan;
mod plot;
mod process;
mod report;
mod soak;
mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::stream::{self, StreamExt};
use ledger_core::{Address, Balance};
use ledger_ws::Client;

use load::Shape;
use process::{OwnNode, Usage};
use report::{Latency, NodeCost, Report};

/// `ledger-node bench`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    what: Option<What>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(clap::Subcommand)]
enum What {
    /// Signature throughput alone: raw recovery and full wire
    /// verification on 1..N threads.
    Verify {
        /// Most threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Transfers at a steady rate for a long time while the node is
    /// SIGKILLed and restarted and clients drop their connections; then
    /// every transfer must be applied exactly once.
    Soak(soak::SoakArgs),
    /// Draw `bench --rate R --json` reports of several rates as an SVG
    /// chart of committed transfers and p99 latency against offered load.
    PlotLoad {
        /// The JSON reports, one per offered rate.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw a soak's samples (CSV) as an SVG chart of RSS and open files.
    PlotSoak {
        /// The CSV `bench soak --samples` wrote.
        samples: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the genesis that funds the senders of `--seed`, for a node
    /// started by hand and benchmarked with `--node`.
    Genesis {
        #[arg(long, default_value_t = 1000)]
        senders: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The load run's options.
#[derive(clap::Args)]
struct LoadArgs {
    /// A running node to load (started with `bench genesis` of the same
    /// --seed and --senders); default: start one on a temporary directory.
    #[arg(long)]
    node: Option<String>,
    /// The process id of the --node, to report its CPU and memory.
    #[arg(long, requires = "node")]
    node_pid: Option<u32>,
    /// Transfers to push.
    #[arg(long, default_value_t = 200_000)]
    transfers: usize,
    /// Distinct senders, funded by the genesis.
    #[arg(long, default_value_t = 1000)]
    senders: usize,
    /// Connections pushing at once.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Pushes awaiting their final status per connection.
    #[arg(long, default_value_t = 1000)]
    window: usize,
    /// Transfers per second offered in total (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// Seed of the sender keys.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Storage engine of the node this run starts.
    #[arg(long, default_value = "sled", conflicts_with = "node")]
    store: String,
    /// Block interval of the node this run starts, ms.
    #[arg(long, conflicts_with = "node")]
    block_interval_ms: Option<u64>,
    /// Seconds the baseline (raw recovery on every core) is measured.
    #[arg(long, default_value_t = 3.0)]
    baseline_seconds: f64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub(crate) async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        Some(What::Verify {
            threads,
            seconds,
            json,
        }) => {
            let threads = threads.unwrap_or_else(verify::cores);
            tokio::task::spawn_blocking(move || verify::table(threads, seconds, json)).await??;
            Ok(ExitCode::SUCCESS)
        }
        Some(What::Genesis { senders, seed, out }) => {
            let genesis = plan::genesis(&plan::sender_keys(seed, senders));
            std::fs::write(&out, plan::genesis_json(&genesis))
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("wrote {} ({senders} senders, seed {seed})", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(What::Soak(args)) => soak::soak(args).await,
        Some(What::PlotLoad { reports, out }) => {
            let reports = reports
                .iter()
                .map(|path| {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a bench report", path.display()))
                })
                .collect::<anyhow::Result<Vec<report::Report>>>()?;
            plot::load_chart(&reports, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(What::PlotSoak { samples, out }) => {
            plot::soak_chart(&samples, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        None => run(args.load).await,
    }
}

async fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    if args.transfers == 0 || args.senders == 0 || args.connections == 0 {
        bail!("--transfers, --senders and --connections must be at least 1");
    }
    let keys = plan::sender_keys(args.seed, args.senders);
    let own = match &args.node {
        Some(_) => None,
        None => {
            let mut extra = vec!["--store".to_owned(), args.store.clone()];
            if let Some(ms) = args.block_interval_ms {
                extra.extend(["--block-interval-ms".to_owned(), ms.to_string()]);
            }
            let genesis = plan::genesis_json(&plan::genesis(&keys));
            Some(OwnNode::start(&genesis, &extra)?)
        }
    };
    let (url, pid) = match (&own, &args.node) {
        (Some(own), _) => (own.url.clone(), Some(own.pid())),
        (None, Some(url)) => (url.clone(), args.node_pid),
        (None, None) => unreachable!("one of the two is set"),
    };
    let cores = verify::cores();
    eprintln!("measuring the baseline: raw recovery on {cores} cores…");
    let period = Duration::from_secs_f64(args.baseline_seconds);
    let (baseline, verify_us) = tokio::task::spawn_blocking(move || {
        let baseline = verify::rate(verify::Work::RawRecover, cores, period)?;
        // What one push's check costs on one core, for the stage split.
        let wire = verify::rate(verify::Work::WireVerify, 1, period / 2)?;
        Ok::<_, anyhow::Error>((baseline, 1e6 / wire))
    })
    .await??;

    eprintln!("signing {} transfers…", args.transfers);
    let salt = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let planned = {
        let keys = keys.clone();
        let count = args.transfers;
        tokio::task::spawn_blocking(move || plan::sign(&keys, 0, count, salt, cores)).await?
    };
    let senders: Vec<Address> = keys.iter().map(|key| key.address()).collect();
    let before_balances = balances(&url, &senders).await?;

    let node_before = pid.and_then(Usage::of);
    let metrics_before = scrape(&url).await.ok();
    let own_before = Usage::own();
    let bar = indicatif::ProgressBar::new(args.transfers as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} final statuses, {per_sec}",
        )?
        .progress_chars("=> "),
    );
    let shape = Shape {
        connections: args.connections,
        window: args.window,
        rate: args.rate,
    };
    let progress = || bar.inc(1);
    let (outcomes, elapsed) = load::push_all(&url, &planned, shape, &progress).await?;
    bar.finish_and_clear();
    let own_after = Usage::own();
    let metrics_after = scrape(&url).await.ok();
    let node_after = pid.and_then(Usage::of);

    eprintln!("checking every status and balance…");
    let failed = outcomes.iter().filter(|o| !o.succeeded()).count();
    for (outcome, planned) in outcomes
        .iter()
        .zip(&planned)
        .filter(|(o, _)| !o.succeeded())
        .take(5)
    {
        eprintln!("  {} failed: {:?}", planned.hash, outcome.status);
    }
    let balances_checked =
        check_balances(&url, &planned, &outcomes, &senders, &before_balances).await?;

    let n = args.transfers as f64;
    let node_cost = match (node_before, node_after) {
        (Some(before), Some(after)) => Some(node_cost(
            &before,
            &after,
            metrics_before.as_deref().zip(metrics_after.as_deref()),
            verify_us,
            n,
        )),
        _ => None,
    };
    let generator_us_per_transfer = match (own_before, own_after) {
        (Some(before), Some(after)) => after.cpu_us.saturating_sub(before.cpu_us) as f64 / n,
        _ => 0.0,
    };
    let committed = (args.transfers - failed) as f64 / elapsed.as_secs_f64();
    let (pending_ms, final_ms) = Latency::of_outcomes(&outcomes);
    let report = Report {
        node: format!("ledger-node {}", env!("CARGO_PKG_VERSION")),
        transfers: args.transfers,
        senders: args.senders,
        connections: args.connections,
        window: args.window,
        offered_per_second: args.rate,
        store: own.as_ref().map(|_| args.store.clone()),
        seconds: elapsed.as_secs_f64(),
        committed_per_second: committed,
        raw_recover_per_second: baseline,
        cores,
        ratio_to_raw: committed / baseline,
        pending_ms,
        final_ms,
        node_cost,
        generator_us_per_transfer,
        failed,
        balances_checked,
    };
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    drop(own);
    if failed > 0 || !balances_checked {
        eprintln!("error: {failed} transfers failed, balances checked: {balances_checked}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The balances of `addresses`, read over a few connections at once.
async fn balances(url: &str, addresses: &[Address]) -> anyhow::Result<Vec<Balance>> {
    const CONNECTIONS: usize = 4;
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(Client::connect(url).await?);
    }
    let clients = &clients;
    let mut read: Vec<(usize, Balance)> = stream::iter(addresses.iter().enumerate())
        .map(|(n, address)| async move {
            let info = clients[n % CONNECTIONS].account_info(address).await?;
            Ok::<_, anyhow::Error>((n, info.balance))
        })
        .buffer_unordered(CONNECTIONS * 256)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    read.sort_unstable_by_key(|(n, _)| *n);
    Ok(read.into_iter().map(|(_, balance)| balance).collect())
}

/// Every receiver of a successful transfer holds exactly its amount (and
/// of a failed one nothing), and every sender lost exactly what its
/// successful transfers moved and were charged.
async fn check_balances(
    url: &str,
    planned: &[plan::Planned],
    outcomes: &[load::Outcome],
    senders: &[Address],
    before: &[Balance],
) -> anyhow::Result<bool> {
    let receivers: Vec<Address> = planned.iter().map(|p| p.to).collect();
    let received = balances(url, &receivers).await?;
    let mut spent = vec![0u64; senders.len()];
    let mut right = true;
    for ((planned, outcome), balance) in planned.iter().zip(outcomes).zip(&received) {
        let expected = match &outcome.status {
            Ok(status) if outcome.succeeded() => {
                spent[planned.sender] += plan::AMOUNT + plan::FEE - status.fee_left;
                plan::AMOUNT
            }
            _ => 0,
        };
        if *balance != Balance::from(expected) {
            eprintln!(
                "  receiver {} holds {balance}, expected {expected}",
                planned.to
            );
            right = false;
        }
    }
    let after = balances(url, senders).await?;
    for (((address, before), after), spent) in senders.iter().zip(before).zip(&after).zip(spent) {
        if before.checked_sub(Balance::from(spent)) != Some(*after) {
            eprintln!("  sender {address} went from {before} to {after}, spending {spent}");
            right = false;
        }
    }
    Ok(right)
}

/// The node's CPU over the run per transfer, split by stage: the thread
/// groups from /proc; within the connection threads, one wire
/// verification per transfer at `verify_us` (measured alone in the same
/// run: the node's own wall-clock timers would count the time its threads
/// wait for a core); within the chain thread, the node's block-building
/// timer.
fn node_cost(
    before: &Usage,
    after: &Usage,
    metrics: Option<(&str, &str)>,
    verify_us: f64,
    n: f64,
) -> NodeCost {
    let per = |us: u64| us as f64 / n;
    let metric = |name: &str| {
        metrics.map_or(0.0, |(before, after)| {
            (metric_value(after, name) - metric_value(before, name)).max(0.0) * 1e6 / n
        })
    };
    let connections = per(after.threads_since(before, "connections"));
    let chain = per(after.threads_since(before, "chain"));
    let other = per(after.threads_since(before, "storage and other"));
    let recovery = verify_us.min(connections);
    let execution = metric("ledger_block_build_seconds_sum").min(chain);
    let stages = BTreeMap::from([
        (report::STAGES[0].to_owned(), recovery),
        (report::STAGES[1].to_owned(), connections - recovery),
        (report::STAGES[2].to_owned(), execution),
        (report::STAGES[3].to_owned(), chain - execution),
        (report::STAGES[4].to_owned(), other),
    ]);
    let mib = |kib: u64| kib as f64 / 1024.0;
    NodeCost {
        us_per_transfer: per(after.cpu_us.saturating_sub(before.cpu_us)),
        stages,
        rss_before_mib: mib(before.rss_kib),
        rss_after_mib: mib(after.rss_kib),
        peak_rss_mib: mib(after.peak_rss_kib),
    }
}

/// The node's `/metrics` text, fetched over plain HTTP/1.1.
async fn scrape(url: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default();
    let mut tcp = tokio::net::TcpStream::connect(host).await?;
    tcp.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut text = String::new();
    tcp.read_to_string(&mut text).await?;
    Ok(text)
}

/// The value of an unlabelled sample `name` in Prometheus text; 0 if absent.
fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_values_are_found_by_exact_name() {
        let text = "# HELP x\nledger_blocks_total 1.5\nledger_block_build_seconds_sum 0.25\nledger_block_build_seconds_count 3\n";
        assert_eq!(metric_value(text, "ledger_blocks_total"), 1.5);
        assert_eq!(metric_value(text, "ledger_block_build_seconds_sum"), 0.25);
        assert_eq!(metric_value(text, "ledger_block_build_seconds"), 0.0);
    }
}
