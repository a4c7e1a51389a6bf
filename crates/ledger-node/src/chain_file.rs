//! `ledger-node export` and `import`: the chain as a file of blocks, to
//! move a data directory to another storage engine (or machine). Import
//! re-validates and re-executes every block (signatures, balances, nonces)
//! on a new store, so what comes out was checked by the rules, not copied.
//!
//! The file: the magic `LDGRCHN1`; then each block from depth 0 up as a
//! u32 big-endian length and its encoding (`Block::encode`, its hash
//! preimage); then a zero length, the tip's hash and the number of blocks
//! (u64 big-endian). A file without that trailer is incomplete and
//! refused.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, ensure, Context};
use ledger_core::{Block, ChainConfig, Hash, Ledger, Sealable, StateRead};
use ledger_store::{Engine, Store};

use crate::node::{engine_for, load_genesis, open_store};

const MAGIC: &[u8; 8] = b"LDGRCHN1";

/// The engine of the store in `dir`, which must hold one.
fn existing_engine(dir: &Path, asked: Option<Engine>) -> anyhow::Result<Engine> {
    if Engine::detect(dir).is_none() {
        bail!("{} holds no chain store", dir.display());
    }
    engine_for(dir, asked)
}

/// Options of `ledger-node export`.
#[derive(clap::Args)]
pub(crate) struct ExportArgs {
    /// The data directory to export (its node must be stopped).
    #[arg(long, default_value = "./ledger-data")]
    data_dir: PathBuf,
    /// The engine the data directory was created with (found from its
    /// files when left out).
    #[arg(long)]
    store: Option<Engine>,
    /// The file to write; never overwritten.
    #[arg(long)]
    out: PathBuf,
}

/// Options of `ledger-node audit`.
#[derive(clap::Args)]
pub(crate) struct AuditArgs {
    /// The data directory to audit (its node must be stopped).
    #[arg(long, default_value = "./ledger-data")]
    data_dir: PathBuf,
    /// The engine the data directory was created with (found from its
    /// files when left out).
    #[arg(long)]
    store: Option<Engine>,
    /// The genesis the chain was started with; the built-in dev genesis if
    /// absent.
    #[arg(long)]
    genesis: Option<PathBuf>,
}

/// Replays every stored block in memory and compares the store's state
/// with it; exits non-zero naming the first difference.
pub(crate) fn audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let genesis = load_genesis(args.genesis.as_deref())?;
    // Its blocks are what the audit trusts, so a store whose top block's
    // state is torn is audited too (and found torn).
    let engine = existing_engine(&args.data_dir, args.store)?;
    let store = open_store(&args.data_dir, engine, |dir, engine| {
        Store::open_for_blocks(dir, engine)
    })?;
    let started = std::time::Instant::now();
    let report = match ledger_core::audit(&store, genesis, ledger_vm::Evm::new()) {
        Ok(report) => report,
        Err(divergence) => {
            eprintln!(
                "the store in {} is not what its blocks make: {divergence}",
                args.data_dir.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let stored = store.accounts()?.len() as u64;
    if stored != report.accounts {
        eprintln!(
            "the store in {} holds {stored} accounts, its blocks make {}",
            args.data_dir.display(),
            report.accounts
        );
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "audited {} blocks ({} transactions, {} accounts) in {} in {:.1} s: the store holds what its blocks make",
        report.blocks,
        report.transactions,
        report.accounts,
        args.data_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Options of `ledger-node import`.
#[derive(clap::Args)]
pub(crate) struct ImportArgs {
    /// A new data directory to build the chain in (must not exist yet).
    #[arg(long)]
    data_dir: PathBuf,
    /// The engine to store it with: `fjall` (the default) or `sled`.
    #[arg(long)]
    store: Option<Engine>,
    /// The genesis the chain was started with; the built-in dev genesis if
    /// absent. The file's block 0 must be its block.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// The file written by `export`.
    #[arg(long)]
    from: PathBuf,
}

pub(crate) fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    // The blocks are all an export reads, so a store whose top block's
    // state is torn can still be exported, and its state rebuilt by import.
    let engine = existing_engine(&args.data_dir, args.store)?;
    let store = open_store(&args.data_dir, engine, |dir, engine| {
        Store::open_for_blocks(dir, engine)
    })?;
    let tip = store
        .tip()?
        .with_context(|| format!("{} holds no chain", args.data_dir.display()))?;
    let file = File::create_new(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = BufWriter::new(file);
    out.write_all(MAGIC)?;
    for depth in 0..=tip.depth {
        let block = store
            .block_at(depth)?
            .with_context(|| format!("block {depth} is missing from the store"))?;
        let bytes = block.encode();
        let length = u32::try_from(bytes.len()).context("a block over 4 GiB")?;
        out.write_all(&length.to_be_bytes())?;
        out.write_all(&bytes)?;
    }
    out.write_all(&0u32.to_be_bytes())?;
    out.write_all(&tip.hash.0)?;
    out.write_all(&(tip.depth + 1).to_be_bytes())?;
    out.into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "exported {} blocks to {}: tip {} at depth {}",
        tip.depth + 1,
        args.out.display(),
        tip.hash,
        tip.depth
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn import(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    ensure!(
        !args.data_dir.exists(),
        "{} already exists; import builds a new data directory",
        args.data_dir.display()
    );
    let genesis = load_genesis(args.genesis.as_deref())?;
    let mut blocks = BlockReader::open(&args.from)?;
    let first = blocks.next_block()?.context("the file holds no block")?;
    let expected = genesis.block();
    ensure!(
        first.seal().hash() == expected.hash(),
        "the file's block 0 is not the genesis block {} (pass the chain's --genesis)",
        expected.hash()
    );
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let engine = args.store.unwrap_or_default();
    let store = open_store(&args.data_dir, engine, |dir, engine| {
        Store::open(dir, engine)
    })?;
    // The blocks were accepted by a chain already; their size is history.
    let config = ChainConfig {
        max_block_transactions: usize::MAX,
        ..ChainConfig::default()
    };
    let mut ledger = Ledger::open_with_engine(store, genesis, config, ledger_vm::Evm::new())?;
    let partial = || {
        format!(
            "the partial chain in {} can be deleted",
            args.data_dir.display()
        )
    };
    let started = std::time::Instant::now();
    let mut transactions = 0usize;
    while let Some(block) = blocks.next_block().with_context(partial)? {
        let depth = block.depth;
        transactions += block.transactions.len();
        ledger
            .import_block(block)
            .with_context(|| format!("block {depth} of {}", args.from.display()))
            .with_context(partial)?;
        if depth % 1000 == 0 {
            eprintln!("importing: block {depth}, {transactions} transactions so far");
        }
    }
    let (tip_hash, count) = blocks.trailer.context("no trailer")?;
    let tip = ledger.tip()?;
    if tip.hash != tip_hash || tip.depth + 1 != count {
        bail!(
            "the file ends with tip {tip_hash} after {count} blocks, the import reached {} at depth {}; {}",
            tip.hash,
            tip.depth,
            partial()
        );
    }
    ledger.store().flush()?;
    println!(
        "imported {count} blocks ({transactions} transactions) into {} on {} in {:.1} s: tip {} at depth {}",
        args.data_dir.display(),
        engine,
        started.elapsed().as_secs_f64(),
        tip.hash,
        tip.depth
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads an export file block by block.
struct BlockReader {
    input: BufReader<File>,
    path: PathBuf,
    /// The tip's hash and the block count, once the end is reached.
    trailer: Option<(Hash, u64)>,
}

impl BlockReader {
    fn open(path: &Path) -> anyhow::Result<BlockReader> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut input = BufReader::new(file);
        let mut magic = [0; 8];
        input.read_exact(&mut magic).ok();
        ensure!(
            &magic == MAGIC,
            "{} is not a chain export (it does not start with {:?})",
            path.display(),
            std::str::from_utf8(MAGIC).unwrap_or_default()
        );
        Ok(BlockReader {
            input,
            path: path.to_owned(),
            trailer: None,
        })
    }

    /// The next block, or `None` at the trailer.
    fn next_block(&mut self) -> anyhow::Result<Option<Block>> {
        if self.trailer.is_some() {
            return Ok(None);
        }
        let truncated = || format!("{} ends early: it is incomplete", self.path.display());
        let mut length = [0; 4];
        self.input.read_exact(&mut length).with_context(truncated)?;
        let length = u32::from_be_bytes(length) as usize;
        if length == 0 {
            let mut hash = [0; 32];
            let mut count = [0; 8];
            self.input.read_exact(&mut hash).with_context(truncated)?;
            self.input.read_exact(&mut count).with_context(truncated)?;
            self.trailer = Some((Hash(hash), u64::from_be_bytes(count)));
            return Ok(None);
        }
        // Grown as bytes arrive, so a damaged length cannot ask for 4 GiB.
        let mut bytes = Vec::new();
        (&mut self.input)
            .take(length as u64)
            .read_to_end(&mut bytes)
            .with_context(truncated)?;
        ensure!(bytes.len() == length, truncated());
        let block = Block::decode(&bytes)
            .with_context(|| format!("a block of {} does not decode", self.path.display()))?;
        Ok(Some(block))
    }
}
