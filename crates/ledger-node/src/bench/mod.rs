//! `ledger-node bench`: the end-to-end load generator (signed transfers
//! pushed over WebSocket, every one checked), `bench verify` (signature
//! throughput alone) and `bench genesis` (for a node started by hand).
//! See docs/benchmarks.md.

mod load;
mod output;
mod plan;
mod plot;
mod process;
mod report;
mod soak;
mod token;
mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use ledger_core::{Address, Balance, Genesis};
use ledger_ws::Client;

use load::Shape;
use output::{JsonTo, Output};
use plan::{Payload, Workload};
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
        /// Also write the measurements as JSON lines to this file (`-`:
        /// to stdout, the table then going to stderr).
        #[arg(long, value_name = "PATH")]
        json: Option<JsonTo>,
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
    /// What each transfer is: a native transfer, or an ERC-20 `transfer`
    /// call of a token deployed before timing starts.
    #[arg(long, value_enum, default_value_t = Workload::Native)]
    workload: Workload,
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
    /// Storage engine of the node this run starts: `fjall` (the default)
    /// or `sled`.
    #[arg(long, conflicts_with = "node")]
    store: Option<ledger_store::Engine>,
    /// Block interval of the node this run starts, ms.
    #[arg(long, conflicts_with = "node")]
    block_interval_ms: Option<u64>,
    /// Seconds the baseline (raw recovery on every core) is measured.
    #[arg(long, default_value_t = 3.0)]
    baseline_seconds: f64,
    /// Also write the report as JSON to this file (`-`: to stdout, the
    /// table then going to stderr).
    #[arg(long, value_name = "PATH")]
    json: Option<JsonTo>,
}

pub(crate) async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        Some(What::Verify {
            threads,
            seconds,
            json,
        }) => {
            let threads = threads.unwrap_or_else(verify::cores);
            let output = Output::new(json);
            tokio::task::spawn_blocking(move || verify::table(threads, seconds, &output)).await??;
            Ok(ExitCode::SUCCESS)
        }
        Some(What::Genesis { senders, seed, out }) => {
            let genesis = plan::genesis(&plan::sender_keys(seed, senders));
            std::fs::write(&out, genesis.to_json())
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
    let output = Output::new(args.json.clone());
    let keys = plan::sender_keys(args.seed, args.senders);
    let store = args.store.unwrap_or_default();
    let own = match &args.node {
        Some(_) => None,
        None => {
            let mut extra = vec!["--store".to_owned(), store.name().to_owned()];
            if let Some(ms) = args.block_interval_ms {
                extra.extend(["--block-interval-ms".to_owned(), ms.to_string()]);
            }
            let genesis = plan::genesis(&keys).to_json();
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

    let salt = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let payload = match args.workload {
        Workload::Native => Payload::Native,
        Workload::Erc20 => {
            eprintln!(
                "deploying the token and sharing it out to {} senders…",
                keys.len()
            );
            let token = token::deploy(&url, &Genesis::dev_key(), &keys, salt, cores).await?;
            Payload::Erc20 { token }
        }
    };
    let signing = output.progress(
        args.transfers as u64,
        "signing   {elapsed_precise} [{bar:40}] {pos}/{len}, {per_sec}",
    );
    let planned = {
        let keys = keys.clone();
        let count = args.transfers;
        let signed = signing.clone();
        tokio::task::spawn_blocking(move || {
            plan::sign(&keys, payload, 0, count, salt, cores, &|| signed.inc(1))
        })
        .await?
    };
    signing.finish_and_clear();
    eprintln!("signed {} transfers", args.transfers);
    let senders: Vec<Address> = keys.iter().map(|key| key.address()).collect();
    let holdings = Holdings {
        url: &url,
        payload,
        salt,
        threads: cores,
    };
    let before = holdings.of(&senders).await?;
    funded(&url, &args, payload, &planned, &senders, &before)?;

    let node_before = pid.and_then(Usage::of);
    let metrics_before = scrape(&url).await.ok();
    let own_before = Usage::own();
    let bar = output.progress(
        args.transfers as u64,
        "pushing   {elapsed_precise} [{bar:40}] {pos}/{len} final statuses, {per_sec}",
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
        let status = match &outcome.status {
            Ok(status) => crate::client::status_line(status),
            Err(reason) => reason.clone(),
        };
        eprintln!("  {} failed: {status}", planned.hash);
    }
    let balances_checked = holdings
        .check(&planned, &outcomes, &senders, &before)
        .await?;

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
        workload: args.workload,
        transfers: args.transfers,
        senders: args.senders,
        connections: args.connections,
        window: args.window,
        offered_per_second: args.rate,
        store: own.as_ref().map(|_| store.name().to_owned()),
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
    output.text(&report.text());
    output.json(&report)?;
    drop(own);
    if failed > 0 || !balances_checked {
        let balances = if balances_checked {
            "every balance as expected"
        } else {
            "balances NOT as expected (listed above)"
        };
        eprintln!(
            "error: {failed} of {} transfers failed; {balances}",
            args.transfers
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses to time a run whose senders the node does not fund (a node
/// not started with `bench genesis` of the same `--senders` and `--seed`):
/// every transfer would fail, and the figures would mean nothing.
fn funded(
    url: &str,
    args: &LoadArgs,
    payload: Payload,
    planned: &[plan::Planned],
    senders: &[Address],
    before: &[Held],
) -> anyhow::Result<()> {
    let mut transfers = vec![0u64; senders.len()];
    for planned in planned {
        transfers[planned.sender] += 1;
    }
    // What each transfer may take from its sender's native balance.
    let each = match payload {
        Payload::Native => payload.amount() + payload.fee(),
        Payload::Erc20 { .. } => payload.fee(),
    };
    for ((address, held), count) in senders.iter().zip(before).zip(transfers) {
        let needed = Balance::from(count.saturating_mul(each));
        if held.native < needed {
            bail!(
                "the node at {url} does not fund this run's senders: {address} holds {}, \
                 its {count} transfers need {needed}; start the node with the genesis that \
                 `ledger-node bench genesis --senders {} --seed {} --out genesis.json` writes",
                held.native,
                args.senders,
                args.seed
            );
        }
    }
    Ok(())
}

/// The balances of `addresses`.
async fn balances(url: &str, addresses: &[Address]) -> anyhow::Result<Vec<Balance>> {
    read_each(url, addresses, |client, address| {
        Box::pin(async move { Ok(client.account_info(address).await?.balance) })
    })
    .await
}

/// `read` of each of `items`, in their order, over a few connections at
/// once with a few dozen reads in flight on each (an account's answer
/// lists its transactions: a sender of a long-running node has thousands,
/// and a connection's unread answers are bounded).
pub(crate) async fn read_each<T: Sync>(
    url: &str,
    items: &[T],
    read: impl for<'a> Fn(&'a Client, &'a T) -> BoxFuture<'a, anyhow::Result<Balance>>,
) -> anyhow::Result<Vec<Balance>> {
    const CONNECTIONS: usize = 4;
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(Client::connect(url).await?);
    }
    let (clients, read) = (&clients, &read);
    let mut values: Vec<(usize, Balance)> = stream::iter(items.iter().enumerate())
        .map(|(n, item)| async move {
            Ok::<_, anyhow::Error>((n, read(&clients[n % CONNECTIONS], item).await?))
        })
        .buffer_unordered(CONNECTIONS * 32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    values.sort_unstable_by_key(|(n, _)| *n);
    Ok(values.into_iter().map(|(_, value)| value).collect())
}

/// What a run moves and where it reads it back: native balances, and for
/// the ERC-20 workload also the token's.
struct Holdings<'a> {
    url: &'a str,
    payload: Payload,
    salt: u32,
    threads: usize,
}

/// What an account holds: native balance, and its token balance when the
/// run moves a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    native: Balance,
    token: Balance,
}

impl Holdings<'_> {
    async fn of(&self, addresses: &[Address]) -> anyhow::Result<Vec<Held>> {
        let native = balances(self.url, addresses).await?;
        let token = match self.payload {
            Payload::Native => vec![Balance::ZERO; addresses.len()],
            Payload::Erc20 { token } => {
                let caller = Genesis::dev_key();
                token::balances(self.url, token, addresses, &caller, self.salt, self.threads)
                    .await?
            }
        };
        Ok(native
            .into_iter()
            .zip(token)
            .map(|(native, token)| Held { native, token })
            .collect())
    }

    /// Reads back every receiver and sender after the run and checks
    /// them against `before` ([`holdings_right`]).
    async fn check(
        &self,
        planned: &[plan::Planned],
        outcomes: &[load::Outcome],
        senders: &[Address],
        before: &[Held],
    ) -> anyhow::Result<bool> {
        let receivers: Vec<Address> = planned.iter().map(|p| p.to).collect();
        let received = self.of(&receivers).await?;
        let after = self.of(senders).await?;
        let run = Run {
            payload: self.payload,
            planned,
            outcomes,
        };
        Ok(run.holdings_right(&received, senders, before, &after))
    }
}

/// What a run pushed and what became of each push.
struct Run<'a> {
    payload: Payload,
    planned: &'a [plan::Planned],
    outcomes: &'a [load::Outcome],
}

impl Run<'_> {
    /// Every receiver of a successful transfer holds exactly the unit it
    /// was sent (natively or in the token; of a failed one nothing), and
    /// every sender lost exactly what its successful transfers moved and
    /// were charged. Prints what is wrong.
    fn holdings_right(
        &self,
        received: &[Held],
        senders: &[Address],
        before: &[Held],
        after: &[Held],
    ) -> bool {
        let (amount, fee) = (self.payload.amount(), self.payload.fee());
        let native = matches!(self.payload, Payload::Native);
        let mut spent = vec![0u64; senders.len()];
        let mut sent = vec![0u64; senders.len()];
        let mut right = true;
        for ((planned, outcome), held) in self.planned.iter().zip(self.outcomes).zip(received) {
            let got = match &outcome.status {
                Ok(status) if outcome.succeeded() => {
                    spent[planned.sender] += amount + fee - status.fee_left;
                    sent[planned.sender] += 1;
                    1
                }
                _ => 0,
            };
            let expected = Held {
                native: Balance::from(if native { got } else { 0 }),
                token: Balance::from(if native { 0 } else { got }),
            };
            if *held != expected {
                eprintln!(
                    "  receiver {} holds {} (token {}), expected {} (token {})",
                    planned.to, held.native, held.token, expected.native, expected.token
                );
                right = false;
            }
        }
        for (n, address) in senders.iter().enumerate() {
            let tokens_sent = Balance::from(if native { 0 } else { sent[n] });
            let expected = before[n]
                .native
                .checked_sub(Balance::from(spent[n]))
                .zip(before[n].token.checked_sub(tokens_sent))
                .map(|(native, token)| Held { native, token });
            if expected != Some(after[n]) {
                eprintln!(
                    "  sender {address} went from {} (token {}) to {} (token {}), spending {} and {tokens_sent} tokens",
                    before[n].native, before[n].token, after[n].native, after[n].token, spent[n]
                );
                right = false;
            }
        }
        right
    }
}

/// The node's CPU over the run per transfer, split by stage: the thread
/// groups from /proc (connections, the chain thread, the thread that
/// stores blocks, the engine's own); within the connection threads, one
/// wire verification per transfer at `verify_us` (measured alone in the
/// same run: the node's own wall-clock timers would count the time its
/// threads wait for a core); within the chain thread, the CPU time it
/// spent building blocks (the node's `ledger_block_build_cpu_seconds`,
/// or its block-building timer from a node that does not report it) for
/// execution, the rest admission and the announcement of each block.
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
    let total = per(after.cpu_us.saturating_sub(before.cpu_us));
    let chain = per(after.threads_since(before, "chain"));
    let store = per(after.threads_since(before, "store"));
    let other = per(after.threads_since(before, "storage and other"));
    // Threads that ended before the second reading (the helpers that
    // check a burst's signatures) count only in the process's total: the
    // connections' share is what the other groups leave of it.
    let connections =
        (total - chain - store - other).max(per(after.threads_since(before, "connections")));
    let recovery = verify_us.min(connections);
    // The chain thread's own CPU in building blocks where the node tells
    // it, else its block-building timer (which also counts waits for a core).
    let execution = match metric("ledger_block_build_cpu_seconds_total") {
        cpu if cpu > 0.0 => cpu,
        _ => metric("ledger_block_build_seconds_sum"),
    }
    .min(chain);
    let stages = BTreeMap::from([
        (report::STAGES[0].to_owned(), recovery),
        (report::STAGES[1].to_owned(), connections - recovery),
        (report::STAGES[2].to_owned(), chain - execution),
        (report::STAGES[3].to_owned(), execution),
        (report::STAGES[4].to_owned(), store),
        (report::STAGES[5].to_owned(), other),
    ]);
    let mib = |kib: u64| kib as f64 / 1024.0;
    NodeCost {
        us_per_transfer: total,
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
    use ledger_core::{ActionType, StatusCode, TransactionStatus};

    fn held(native: u64, token: u64) -> Held {
        Held {
            native: Balance::from(native),
            token: Balance::from(token),
        }
    }

    /// Two transfers from one sender, the first a success that used
    /// `used` of its fee, the second refused.
    fn two_transfers(payload: Payload, used: u64) -> (Vec<plan::Planned>, Vec<load::Outcome>) {
        let keys = plan::sender_keys(3, 1);
        let planned = plan::sign(&keys, payload, 0, 2, 5, 1, &|| {});
        let status = |status_code, fee_left| TransactionStatus {
            status_code,
            action_type: ActionType::None,
            fee_left,
            message: String::new(),
        };
        let outcome = |status| load::Outcome {
            pending: Duration::ZERO,
            done: Duration::ZERO,
            status: Ok(status),
        };
        let outcomes = vec![
            outcome(status(StatusCode::Success, payload.fee() - used)),
            outcome(status(StatusCode::NotEnoughBalance, 0)),
        ];
        (planned, outcomes)
    }

    #[test]
    fn holdings_are_right_only_when_each_success_moved_once() {
        let senders = [plan::sender_keys(3, 1)[0].address()];
        // Native: the receiver holds the amount, the sender paid it and
        // the fee it used.
        let (planned, outcomes) = two_transfers(Payload::Native, 1);
        let run = Run {
            payload: Payload::Native,
            planned: &planned,
            outcomes: &outcomes,
        };
        let before = [held(100, 0)];
        let spent = plan::AMOUNT + 1;
        let right = [held(100 - spent, 0)];
        assert!(run.holdings_right(&[held(1, 0), held(0, 0)], &senders, &before, &right));
        // Paid twice, paid where refused, or the sender not charged: wrong.
        assert!(!run.holdings_right(&[held(2, 0), held(0, 0)], &senders, &before, &right));
        assert!(!run.holdings_right(&[held(1, 0), held(1, 0)], &senders, &before, &right));
        assert!(!run.holdings_right(&[held(1, 0), held(0, 0)], &senders, &before, &before));

        // ERC-20: the receiver holds one token and no native coin; the
        // sender lost one token and the gas it used, nothing else.
        let token = Payload::Erc20 {
            token: Address([7; 20]),
        };
        let (planned, outcomes) = two_transfers(token, 51_000);
        let run = Run {
            payload: token,
            planned: &planned,
            outcomes: &outcomes,
        };
        let before = [held(100_000, 10)];
        let right = [held(49_000, 9)];
        let received = [held(0, 1), held(0, 0)];
        assert!(run.holdings_right(&received, &senders, &before, &right));
        assert!(!run.holdings_right(&received, &senders, &before, &[held(49_000, 10)]));
        assert!(!run.holdings_right(&[held(1, 0), held(0, 0)], &senders, &before, &right));
    }

    #[test]
    fn metric_values_are_found_by_exact_name() {
        let text = "# HELP x\nledger_blocks_total 1.5\nledger_block_build_seconds_sum 0.25\nledger_block_build_seconds_count 3\n";
        assert_eq!(metric_value(text, "ledger_blocks_total"), 1.5);
        assert_eq!(metric_value(text, "ledger_block_build_seconds_sum"), 0.25);
        assert_eq!(metric_value(text, "ledger_block_build_seconds"), 0.0);
    }
}
