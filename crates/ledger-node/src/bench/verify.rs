//! Signature throughput alone: raw `secp256k1` recovery, and the full
//! check of a wire transaction (decoding, hashing, recovery, address), on
//! 1..N threads. The raw rate on all cores is the baseline every
//! end-to-end figure is divided by.

use std::time::{Duration, Instant};

use ledger_core::{signing_digest, Genesis, RawTransaction, Transaction, VerifiedTransaction};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, SECP256K1};

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    /// `secp256k1` public key recovery, nothing else.
    RawRecover,
    /// `VerifiedTransaction::from_raw` on a wire transaction, as a push is
    /// checked.
    WireVerify,
}

impl Work {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Work::RawRecover => "raw recover",
            Work::WireVerify => "wire verification",
        }
    }
}

/// Calls per second of `work` on `threads` threads for `period`.
pub(crate) fn rate(work: Work, threads: usize, period: Duration) -> anyhow::Result<f64> {
    let tx = Transaction::signed(
        &Genesis::dev_key(),
        ledger_core::Address([7; 20]),
        ledger_core::Balance::from(1),
        1,
        1_700_000_000,
        Vec::new(),
    );
    let raw = tx.to_raw();
    let digest = signing_digest(&tx.hash());
    let id = RecoveryId::try_from(i32::from(tx.sign.0[64]))?;
    let signature = RecoverableSignature::from_compact(&tx.sign.0[..64], id)?;
    let message = Message::from_digest(digest.0);
    let one = |raw: &RawTransaction| match work {
        Work::RawRecover => SECP256K1.recover_ecdsa(&message, &signature).is_ok(),
        Work::WireVerify => VerifiedTransaction::from_raw(raw).is_ok(),
    };
    if !one(&raw) {
        anyhow::bail!("{} of a valid transaction failed", work.name());
    }
    let started = Instant::now();
    let until = started + period;
    let calls: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut calls = 0u64;
                    while Instant::now() < until {
                        for _ in 0..50 {
                            std::hint::black_box(one(std::hint::black_box(&raw)));
                        }
                        calls += 50;
                    }
                    calls
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or(0))
            .sum()
    });
    Ok(calls as f64 / started.elapsed().as_secs_f64())
}

/// The cores this process may use.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `ledger-node bench verify`: both kinds of work on 1..=`max_threads`
/// threads, as a table, and as JSON lines where `output` says.
pub(crate) fn table(
    max_threads: usize,
    seconds: f64,
    output: &super::output::Output,
) -> anyhow::Result<()> {
    let period = Duration::from_secs_f64(seconds);
    output.text(
        "| threads | raw recover /s | wire verification /s | wire ÷ raw | speed-up over 1 thread (raw) |\n|---|---|---|---|---|",
    );
    let mut one_thread = None;
    for threads in 1..=max_threads.max(1) {
        let raw = rate(Work::RawRecover, threads, period)?;
        let wire = rate(Work::WireVerify, threads, period)?;
        let single = *one_thread.get_or_insert(raw);
        output.json_line(&serde_json::json!({
            "threads": threads,
            "raw_recover_per_second": raw.round(),
            "wire_verify_per_second": wire.round(),
        }))?;
        output.text(&format!(
            "| {threads} | {raw:.0} | {wire:.0} | {:.2} | {:.2}× |",
            wire / raw,
            raw / single
        ));
    }
    Ok(())
}
