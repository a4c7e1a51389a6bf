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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use anyhow::{bail, Context};
use ledger_consensus::{loopback_addresses, ValidatorEntry, ValidatorKey, ValidatorsFile};
use ledger_core::Genesis;

/// Options of `ledger-node devnet`.
#[derive(clap::Args)]
pub(crate) struct DevnetArgs {
    /// How many validators (4 tolerates one faulty: f of 3f + 1).
    #[arg(default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    validators: u16,
    /// Where the network's files and data live (created if missing).
    #[arg(long, default_value = "./ledger-devnet")]
    dir: PathBuf,
    /// The storage engine of every validator.
    #[arg(long, default_value_t = ledger_store::Engine::Sled)]
    store: ledger_store::Engine,
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

/// Runs the network until interrupted.
pub(crate) async fn devnet(args: DevnetArgs) -> anyhow::Result<ExitCode> {
    let count = usize::from(args.validators);
    let dir = &args.dir;
    let base = crate::node::load_genesis(args.genesis.as_deref())?;
    let genesis = prepare(dir, count, base)?;
    let binary = std::env::current_exe().context("cannot find this program")?;
    let mut children: Vec<Child> = Vec::with_capacity(count);
    println!("validator  api                        p2p                  log");
    for (i, entry) in genesis.validators.iter().enumerate() {
        let (Some(p2p), Some(api)) = (&entry.p2p, &entry.api) else {
            bail!(
                "validator {i} in {} has no p2p or api address",
                dir.display()
            );
        };
        let ws = api.trim_start_matches("ws://");
        let log_path = dir.join(format!("node-{i}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(&binary)
            .arg("run")
            .arg("--data-dir")
            .arg(dir.join(format!("node-{i}")))
            .args(["--store", args.store.name()])
            .arg("--genesis")
            .arg(dir.join("genesis.json"))
            .arg("--validator-key")
            .arg(key_file(dir, i))
            .args(["--p2p", p2p, "--ws", ws])
            .args(&args.run_options)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start a validator")?;
        children.push(child);
        println!("{i:<10} {api:<26} {p2p:<20} {}", log_path.display());
    }
    println!("dev key (funded): {}", ledger_core::DEV_SECRET_KEY_HEX);
    println!("Ctrl-C stops the network; run the same command again to restart it.");

    let stopped = tokio::select! {
        _ = tokio::signal::ctrl_c() => None,
        exited = first_exit(&mut children) => Some(exited),
    };
    for child in &children {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    let mut failed = false;
    for (i, child) in children.iter_mut().enumerate() {
        let status = child.wait().context("cannot wait for a validator")?;
        if !status.success() {
            eprintln!(
                "validator {i} exited with {status} (see {}/node-{i}.log)",
                dir.display()
            );
            failed = true;
        }
    }
    if let Some(i) = stopped {
        eprintln!("validator {i} stopped on its own; the network was stopped");
        failed = true;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The index of the first child to exit.
async fn first_exit(children: &mut [Child]) -> usize {
    let mut check = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        check.tick().await;
        for (i, child) in children.iter_mut().enumerate() {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return i;
            }
        }
    }
}
