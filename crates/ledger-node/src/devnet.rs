//! `ledger-node devnet N`: a network of N validators on this machine in
//! one command, to try a network in a minute.
//!
//! The first run writes, under `--dir`, a key per validator and the
//! genesis they all share (`--genesis`, or the dev genesis, whose dev key
//! is funded), listing the validators on loopback ports free at that
//! moment; later runs reuse them, so the same network restarts on its
//! data. Each validator is a
//! `ledger-node run` child process logging to `node-I.log`; Ctrl-C stops
//! them all with SIGTERM.
//!
//! A validator that exits on its own is reported and started again after
//! a pause (1 s, doubling while it keeps exiting within a minute of its
//! start, up to 30 s); the others keep running meanwhile, which is the
//! point of a network: with 4 validators one may be down (f = 1 of
//! 3f + 1) and blocks are still decided.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::stream::{FuturesUnordered, StreamExt};
use ledger_consensus::{loopback_addresses, ValidatorEntry, ValidatorKey, ValidatorsFile};
use ledger_core::Genesis;
use tokio::sync::mpsc;

/// Options of `ledger-node devnet`.
#[derive(clap::Args)]
pub(crate) struct DevnetArgs {
    /// How many validators (4 tolerates one faulty: f of 3f + 1).
    #[arg(default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    validators: u16,
    /// Where the network's files and data live (created if missing).
    #[arg(long, default_value = "./ledger-devnet")]
    dir: PathBuf,
    /// The storage engine of every new validator: `fjall` (the default)
    /// or `sled`; an existing validator's directory keeps its own.
    #[arg(long)]
    store: Option<ledger_store::Engine>,
    /// The genesis of a new network (copied into --dir); default the dev
    /// genesis.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Options every validator's `run` gets besides its own, after `--`
    /// (e.g. `-- --max-block-txs 2000`).
    #[arg(last = true)]
    run_options: Vec<String>,
}

/// The network's genesis, listing its validators: written with their
/// keys on the first run (from `base`), read back on later ones.
fn prepare(dir: &Path, count: usize, base: Genesis) -> anyhow::Result<Genesis> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("genesis.json");
    if path.exists() {
        let genesis = crate::node::load_genesis(Some(&path))?;
        if genesis.validators.len() != count {
            bail!(
                "{} already holds a network of {} validators; use another --dir for {count}",
                dir.display(),
                genesis.validators.len()
            );
        }
        return Ok(genesis);
    }
    let ports = loopback_addresses(2 * count).context("cannot find free loopback ports")?;
    let mut genesis = base;
    genesis.validators.clear();
    for (i, (p2p, api)) in ports[..count].iter().zip(&ports[count..]).enumerate() {
        let key = ValidatorKey::generate();
        key.save(&key_file(dir, i))?;
        genesis.validators.push(ValidatorEntry {
            public_key: hex::encode(key.public_key().as_bytes()),
            power: 1,
            p2p: Some(p2p.to_string()),
            api: Some(format!("ws://{api}")),
        });
    }
    // Checked as the validators will check it.
    ValidatorsFile::from_genesis(&genesis)?;
    std::fs::write(&path, genesis.to_json())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(genesis)
}

fn key_file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("validator-{i}.key"))
}

/// A line on stderr for the person running the network: a closed stderr
/// is no reason to stop the network (or to panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Runs the network until interrupted.
pub(crate) async fn devnet(args: DevnetArgs) -> anyhow::Result<ExitCode> {
    let count = usize::from(args.validators);
    let dir = &args.dir;
    let base = crate::node::load_genesis(args.genesis.as_deref())?;
    let genesis = prepare(dir, count, base)?;
    let binary = std::env::current_exe().context("cannot find this program")?;
    let mut validators = Vec::with_capacity(count);
    for (i, entry) in genesis.validators.iter().enumerate() {
        let (Some(p2p), Some(api)) = (&entry.p2p, &entry.api) else {
            bail!(
                "validator {i} in {} has no p2p or api address",
                dir.display()
            );
        };
        let mut run: Vec<OsString> = vec!["run".into(), "--data-dir".into()];
        run.push(dir.join(format!("node-{i}")).into());
        if let Some(store) = args.store {
            run.extend(["--store".into(), store.name().into()]);
        }
        run.extend(["--genesis".into(), dir.join("genesis.json").into()]);
        run.extend(["--validator-key".into(), key_file(dir, i).into()]);
        run.extend(["--p2p".into(), p2p.into()]);
        run.extend(["--ws".into(), api.trim_start_matches("ws://").into()]);
        run.extend(args.run_options.iter().map(OsString::from));
        validators.push(Validator {
            index: i,
            api: api.clone(),
            p2p: p2p.clone(),
            log: dir.join(format!("node-{i}.log")),
            run,
            pid: None,
            started: Instant::now(),
            pause: FIRST_PAUSE,
        });
    }
    let (exits, mut exited) = mpsc::unbounded_channel();
    println!("validator  pid      api                        p2p                  log");
    for validator in &mut validators {
        validator.start(&binary, &exits, true)?;
        println!(
            "{:<10} {:<8} {:<26} {:<20} {}",
            validator.index,
            validator.pid.unwrap_or_default(),
            validator.api,
            validator.p2p,
            validator.log.display()
        );
    }
    println!("dev key (funded): {}", ledger_core::DEV_SECRET_KEY_HEX);
    println!(
        "Ctrl-C stops the network; run the same command again to restart it. \
         A validator that exits is started again."
    );

    let mut restarts = FuturesUnordered::new();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => break,
            Some((i, status)) = exited.recv() => {
                let validator: &mut Validator = &mut validators[i];
                validator.pid = None;
                let pause = validator.pause_after_exit();
                let up = count - validators.iter().filter(|v| v.pid.is_none()).count();
                say!(
                    "validator {i} exited ({}; see {}); {up} of {count} running; \
                     starting it again in {}",
                    describe(&status),
                    validators[i].log.display(),
                    crate::failure::Took(pause),
                );
                restarts.push(async move {
                    tokio::time::sleep(pause).await;
                    i
                });
            }
            Some(i) = restarts.next() => {
                let validator = &mut validators[i];
                match validator.start(&binary, &exits, false) {
                    Ok(()) => say!(
                        "validator {i} started again (pid {})",
                        validator.pid.unwrap_or_default()
                    ),
                    Err(error) => {
                        say!("validator {i} could not be started again: {error:#}");
                    }
                }
            }
        }
    }
    let running: Vec<u32> = validators.iter().filter_map(|v| v.pid).collect();
    for pid in &running {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let mut failed = false;
    for _ in &running {
        let Some((i, status)) = exited.recv().await else {
            break;
        };
        if !matches!(&status, Ok(status) if status.success()) {
            say!(
                "validator {i} stopped with {} (see {})",
                describe(&status),
                validators[i].log.display()
            );
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The pause before a validator that exited is started again the first
/// time; it doubles while the validator keeps exiting soon after its start.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between starts.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// Running this long makes the next exit's pause the first one again.
const RAN_WELL: Duration = Duration::from_secs(60);

/// One validator process of the network.
struct Validator {
    index: usize,
    api: String,
    p2p: String,
    log: PathBuf,
    /// `run` and its options.
    run: Vec<OsString>,
    /// While it runs.
    pid: Option<u32>,
    started: Instant,
    /// The pause before its next start, should it exit.
    pause: Duration,
}

impl Validator {
    /// Starts its process, logging to its file (from the start with
    /// `fresh_log`, else after what is there), and reports its exit on
    /// `exits`.
    fn start(
        &mut self,
        binary: &Path,
        exits: &mpsc::UnboundedSender<(usize, std::io::Result<ExitStatus>)>,
        fresh_log: bool,
    ) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(fresh_log)
            .append(!fresh_log)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let mut child = tokio::process::Command::new(binary)
            .args(&self.run)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start a validator")?;
        self.pid = child.id();
        self.started = Instant::now();
        let (exits, index) = (exits.clone(), self.index);
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = exits.send((index, status));
        });
        Ok(())
    }

    /// The pause before starting it again after an exit now.
    fn pause_after_exit(&mut self) -> Duration {
        if self.started.elapsed() >= RAN_WELL {
            self.pause = FIRST_PAUSE;
        }
        let pause = self.pause;
        self.pause = (self.pause * 2).min(LONGEST_PAUSE);
        pause
    }
}

/// An exit status as people read it.
fn describe(status: &std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => status.to_string(),
        },
        Err(error) => format!("cannot tell how: {error}"),
    }
}
