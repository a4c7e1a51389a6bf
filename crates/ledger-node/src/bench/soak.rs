//! `ledger-node bench soak`: transfers at a steady offered rate for a long
//! time while the node is SIGKILLed and restarted every few minutes and
//! clients drop their connections at random, as a wallet retrying until
//! it is told Success would. At the end every transfer must be applied
//! exactly once (each receiver holds exactly its amount; each sender's
//! nonce and balance count its transfers once), and the node's memory and
//! open files are sampled throughout. See docs/reliability.md.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::stream::{FuturesUnordered, StreamExt};
use ledger_core::{Address, Balance, RawTransaction, SecretKey, StatusCode, Transaction};
use ledger_ws::Client;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::time::Instant;

use super::plan;
use super::process::{self, Usage};

/// `ledger-node bench soak`.
#[derive(clap::Args)]
pub(crate) struct SoakArgs {
    /// How long transfers are offered.
    #[arg(long, default_value_t = 60.0)]
    minutes: f64,
    /// Transfers per second offered (half the node's measured capacity is
    /// the usual choice; see scripts/soak.sh).
    #[arg(long)]
    rate: f64,
    #[arg(long, default_value_t = 1000)]
    senders: usize,
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Pushes awaiting their final status per connection.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Mean seconds between SIGKILLs of the node (each drawn between half
    /// and one and a half times this).
    #[arg(long, default_value_t = 180.0)]
    kill_every_s: f64,
    /// Mean seconds between a random client dropping its connection.
    #[arg(long, default_value_t = 10.0)]
    disconnect_every_s: f64,
    /// The storage engine of a new data directory: `fjall` (the default)
    /// or `sled`.
    #[arg(long, default_value_t = ledger_store::Engine::default())]
    store: ledger_store::Engine,
    /// Where the node keeps its chain (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed of the keys and of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Samples (time, RSS, open files, transfers acknowledged) as CSV.
    #[arg(long)]
    samples: Option<PathBuf>,
    /// Also write the summary (JSON) to this file (`-`: to stdout only).
    #[arg(long, value_name = "PATH")]
    json: Option<super::output::JsonTo>,
}

/// Where a transfer is.
const NOT_SENT: u8 = 0;
const IN_FLIGHT: u8 = 1;
const ACKNOWLEDGED: u8 = 2;
/// Given a final status other than Success: never retried, and its
/// receiver must hold nothing.
const REFUSED: u8 = 3;

/// What every connection worker shares.
struct Shared {
    url: String,
    keys: Vec<SecretKey>,
    salt: u32,
    rate: f64,
    window: usize,
    started: Instant,
    /// Each transfer's state, by index.
    states: Vec<AtomicU8>,
    /// Fresh indices handed out so far.
    issued: AtomicU64,
    /// Unacknowledged transfers to push again.
    retry: Mutex<VecDeque<usize>>,
    /// No more fresh transfers once set.
    stop_issuing: AtomicBool,
    /// A worker told to drop its connection.
    drop_connection: Vec<AtomicBool>,
    /// Fee charged per sender, summed over acknowledged transfers.
    spent: Vec<AtomicU64>,
    acknowledged: AtomicU64,
    pushes: AtomicU64,
    lost_connections: AtomicU64,
    /// Final statuses other than Success.
    refused: AtomicU64,
}

impl Shared {
    /// The next transfer to push: a retry first, else a fresh one when the
    /// offered rate allows. Behind the schedule (after a restart), fresh
    /// ones come as fast as they are asked for until it is caught up.
    fn next(&self) -> Option<usize> {
        if let Some(n) = self.retry.lock().expect("not poisoned").pop_front() {
            return Some(n);
        }
        if self.stop_issuing.load(Ordering::Relaxed) {
            return None;
        }
        let allowed = (self.started.elapsed().as_secs_f64() * self.rate) as u64;
        let issued = self.issued.load(Ordering::Relaxed);
        if issued >= allowed || issued as usize >= self.states.len() {
            return None;
        }
        if self
            .issued
            .compare_exchange(issued, issued + 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        Some(issued as usize)
    }

    fn transfer(&self, n: usize) -> RawTransaction {
        Transaction::signed(
            &self.keys[n % self.keys.len()],
            plan::receiver(self.salt, n),
            Balance::from(plan::AMOUNT),
            plan::FEE,
            self.salt,
            Vec::new(),
        )
        .to_raw()
    }

    fn give_back(&self, n: usize) {
        self.states[n].store(NOT_SENT, Ordering::Relaxed);
        self.retry.lock().expect("not poisoned").push_back(n);
    }

    /// Whether nothing is left to push or waiting.
    fn settled(&self) -> bool {
        let ended =
            self.acknowledged.load(Ordering::Relaxed) + self.refused.load(Ordering::Relaxed);
        self.stop_issuing.load(Ordering::Relaxed) && ended == self.issued.load(Ordering::Relaxed)
    }
}

/// One connection: connect (again and again while the node is down),
/// push what is due, follow each push to its final status.
async fn worker(shared: Arc<Shared>, me: usize) {
    let pace = Duration::from_millis(5);
    while !shared.settled() {
        let Ok(client) = Client::connect(&shared.url).await else {
            tokio::time::sleep(Duration::from_millis(100)).await; // the node restarts
            continue;
        };
        let mut in_flight = FuturesUnordered::new();
        let mut mine: HashSet<usize> = HashSet::new();
        loop {
            if shared.drop_connection[me].swap(false, Ordering::Relaxed) {
                break;
            }
            while in_flight.len() < shared.window {
                let Some(n) = shared.next() else { break };
                shared.states[n].store(IN_FLIGHT, Ordering::Relaxed);
                mine.insert(n);
                let tx = shared.transfer(n);
                let client = &client;
                in_flight.push(async move { (n, client.push_and_wait(&tx).await) });
                shared.pushes.fetch_add(1, Ordering::Relaxed);
            }
            if shared.settled() {
                break;
            }
            tokio::select! {
                Some((n, result)) = in_flight.next(), if !in_flight.is_empty() => {
                    mine.remove(&n);
                    match result {
                        Ok(status) if status.status_code == StatusCode::Success => {
                            shared.states[n].store(ACKNOWLEDGED, Ordering::Relaxed);
                            let spent = plan::AMOUNT + plan::FEE - status.fee_left;
                            shared.spent[n % shared.keys.len()].fetch_add(spent, Ordering::Relaxed);
                            shared.acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                        // The stream ended after Pending: the connection
                        // or the node went away.
                        Ok(status) if status.status_code == StatusCode::Pending => {
                            shared.give_back(n);
                            break;
                        }
                        Ok(status) => {
                            eprintln!("transfer {n}: {:?} {}", status.status_code, status.message);
                            shared.states[n].store(REFUSED, Ordering::Relaxed);
                            shared.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            // The connection or the node went away.
                            shared.give_back(n);
                            break;
                        }
                    }
                }
                () = tokio::time::sleep(pace) => {}
            }
        }
        drop(in_flight);
        for n in mine {
            shared.give_back(n);
        }
        shared.lost_connections.fetch_add(1, Ordering::Relaxed);
    }
}

/// The node, killed and restarted on one data directory and port.
struct Restarting {
    exe: PathBuf,
    genesis: PathBuf,
    data: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Restarting {
    fn start(&mut self) -> anyhow::Result<()> {
        let (child, _) = process::spawn(&self.exe, &self.genesis, &self.data, &self.extra)?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Restarting {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One sample of the node.
#[derive(Serialize)]
struct Sample {
    seconds: f64,
    rss_mib: f64,
    open_files: usize,
    acknowledged: u64,
    kills: u32,
}

#[derive(Serialize)]
struct Summary {
    minutes: f64,
    offered_per_second: f64,
    store: String,
    transfers: u64,
    pushes: u64,
    kills: u32,
    restarts: u32,
    lost_connections: u64,
    refused: u64,
    receivers_wrong: u64,
    senders_wrong: u64,
    lost: u64,
    applied_twice: u64,
    rss_mib_first_segment_max: f64,
    rss_mib_last_segment_max: f64,
    open_files_max: usize,
}

pub(crate) async fn soak(args: SoakArgs) -> anyhow::Result<std::process::ExitCode> {
    if args.rate <= 0.0 || args.minutes <= 0.0 || args.senders == 0 || args.connections == 0 {
        bail!("--rate, --minutes, --senders and --connections must be positive");
    }
    let temp = tempfile::tempdir()?;
    let root = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&root)?;
    let keys = plan::sender_keys(args.seed, args.senders);
    let genesis = plan::genesis(&keys);
    let genesis_path = root.join("genesis.json");
    std::fs::write(&genesis_path, genesis.to_json())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut node = Restarting {
        exe: std::env::current_exe()?,
        genesis: genesis_path,
        data: root.join("data"),
        extra: vec![
            "--store".into(),
            args.store.name().into(),
            "--ws".into(),
            format!("127.0.0.1:{port}"),
        ],
        child: None,
    };
    node.start()?;
    let salt = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let capacity = (args.rate * args.minutes * 60.0 * 1.05) as usize + 1;
    let shared = Arc::new(Shared {
        url: format!("ws://127.0.0.1:{port}"),
        keys: keys.clone(),
        salt,
        rate: args.rate,
        window: args.window.max(1),
        started: Instant::now(),
        states: (0..capacity).map(|_| AtomicU8::new(NOT_SENT)).collect(),
        issued: AtomicU64::new(0),
        retry: Mutex::default(),
        stop_issuing: AtomicBool::new(false),
        drop_connection: (0..args.connections)
            .map(|_| AtomicBool::new(false))
            .collect(),
        spent: (0..args.senders).map(|_| AtomicU64::new(0)).collect(),
        acknowledged: AtomicU64::new(0),
        pushes: AtomicU64::new(0),
        lost_connections: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..args.connections)
        .map(|me| tokio::spawn(worker(shared.clone(), me)))
        .collect();

    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut draw = |mean: f64| Duration::from_secs_f64(mean * rng.gen_range(0.5..1.5));
    let until = shared.started + Duration::from_secs_f64(args.minutes * 60.0);
    let mut next_kill = Instant::now() + draw(args.kill_every_s);
    let mut next_disconnect = Instant::now() + draw(args.disconnect_every_s);
    let mut next_sample = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut segments: Vec<f64> = vec![0.0];
    let (mut kills, mut restarts) = (0u32, 0u32);
    let mut victim = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0x5eed);
    loop {
        let now = Instant::now();
        if now >= until && !shared.stop_issuing.swap(true, Ordering::Relaxed) {
            eprintln!("offering done; waiting for every transfer to be acknowledged…");
        }
        if shared.stop_issuing.load(Ordering::Relaxed) && shared.settled() {
            break;
        }
        if now >= next_sample {
            next_sample = now + Duration::from_secs(5);
            if let Some(usage) = node.pid().and_then(Usage::of) {
                let open_files = node
                    .pid()
                    .and_then(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
                    .map_or(0, Iterator::count);
                let rss_mib = usage.rss_kib as f64 / 1024.0;
                let last = segments.last_mut().expect("one segment at least");
                *last = last.max(rss_mib);
                samples.push(Sample {
                    seconds: shared.started.elapsed().as_secs_f64(),
                    rss_mib,
                    open_files,
                    acknowledged: shared.acknowledged.load(Ordering::Relaxed),
                    kills,
                });
                if samples.len().is_multiple_of(12) {
                    eprintln!(
                        "{:>6.0} s: {} acknowledged of {} issued, {} kills, RSS {rss_mib:.0} MiB, {open_files} files",
                        shared.started.elapsed().as_secs_f64(),
                        shared.acknowledged.load(Ordering::Relaxed),
                        shared.issued.load(Ordering::Relaxed),
                        kills
                    );
                }
            }
        }
        if now >= next_kill && now < until {
            next_kill = now + draw(args.kill_every_s);
            node.kill();
            kills += 1;
            segments.push(0.0);
            let restarted = tokio::task::block_in_place(|| node.start());
            restarted.context("the node did not come back after a SIGKILL")?;
            restarts += 1;
        }
        if now >= next_disconnect && now < until {
            next_disconnect = now + draw(args.disconnect_every_s);
            let who = victim.gen_range(0..args.connections);
            shared.drop_connection[who].store(true, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for worker in workers {
        let _ = worker.await;
    }

    eprintln!("checking every receiver and sender…");
    let issued = shared.issued.load(Ordering::Relaxed) as usize;
    let receivers: Vec<Address> = (0..issued).map(|n| plan::receiver(salt, n)).collect();
    let mut receivers_wrong = 0u64;
    let (mut lost, mut applied_twice) = (0u64, 0u64);
    const CHUNK: usize = 200_000;
    for (c, chunk) in receivers.chunks(CHUNK).enumerate() {
        let offset = c * CHUNK;
        let held = super::balances(&shared.url, chunk).await?;
        for (k, balance) in held.iter().enumerate() {
            let refused = shared.states[offset + k].load(Ordering::Relaxed) == REFUSED;
            let expected = if refused { 0 } else { plan::AMOUNT };
            if *balance != Balance::from(expected) {
                receivers_wrong += 1;
                if *balance == Balance::ZERO {
                    lost += 1;
                } else {
                    applied_twice += 1;
                }
                eprintln!("  receiver of transfer {} holds {balance}", offset + k);
            }
        }
    }
    let client = Client::connect(&shared.url).await?;
    let mut senders_wrong = 0u64;
    for (s, key) in keys.iter().enumerate() {
        let count = (s..issued)
            .step_by(keys.len())
            .filter(|&n| shared.states[n].load(Ordering::Relaxed) == ACKNOWLEDGED)
            .count();
        let info = client.account_info(&key.address()).await?;
        let spent = shared.spent[s].load(Ordering::Relaxed);
        let expected = Balance::from(plan::SENDER_FUNDS - spent);
        if info.nonce != count as u64 || info.balance != expected {
            senders_wrong += 1;
            eprintln!(
                "  sender {s}: nonce {} for {count} transfers, balance {} expected {expected}",
                info.nonce, info.balance
            );
        }
    }
    let segment_max = |segment: Option<&f64>| segment.copied().unwrap_or(0.0);
    let summary = Summary {
        minutes: args.minutes,
        offered_per_second: args.rate,
        store: args.store.name().to_owned(),
        transfers: issued as u64,
        pushes: shared.pushes.load(Ordering::Relaxed),
        kills,
        restarts,
        lost_connections: shared.lost_connections.load(Ordering::Relaxed),
        refused: shared.refused.load(Ordering::Relaxed),
        receivers_wrong,
        senders_wrong,
        lost,
        applied_twice,
        rss_mib_first_segment_max: segment_max(segments.first()),
        rss_mib_last_segment_max: segment_max(segments.iter().rev().nth(1).or(segments.last())),
        open_files_max: samples.iter().map(|s| s.open_files).max().unwrap_or(0),
    };
    let output = super::output::Output::new(args.json.clone());
    output.text(&serde_json::to_string_pretty(&summary)?);
    output.json(&summary)?;
    if let Some(path) = &args.samples {
        write_samples(path, &samples)?;
    }
    drop(node);
    let sound = receivers_wrong == 0 && senders_wrong == 0;
    Ok(if sound {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

fn write_samples(path: &Path, samples: &[Sample]) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(file, "seconds,rss_mib,open_files,acknowledged,kills")?;
    for s in samples {
        writeln!(
            file,
            "{:.1},{:.1},{},{},{}",
            s.seconds, s.rss_mib, s.open_files, s.acknowledged, s.kills
        )?;
    }
    Ok(())
}
