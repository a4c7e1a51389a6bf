//! The baseline every end-to-end figure is divided by: raw `secp256k1`
//! recover calls per second on all cores, for a few seconds.
//!
//!     cargo run --release -p ledger-benches --example recover_rate -- [THREADS] [SECONDS]
//!
//! Prints one line, `recover_rate threads=N per_second=R`.

use std::time::{Duration, Instant};

use ledger_benches::{keys, transfers};
use ledger_core::{signing_digest, Sealable};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, SECP256K1};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = match args.next() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism()?.get(),
    };
    let seconds: f64 = args.next().map_or(Ok(3.0), |s| s.parse())?;
    let tx = transfers(&keys(1), 1).remove(0);
    let digest = signing_digest(&tx.clone().seal().hash());
    let id = RecoveryId::try_from(i32::from(tx.sign.0[64]))?;
    let signature = RecoverableSignature::from_compact(&tx.sign.0[..64], id)?;
    let message = Message::from_digest(digest.0);
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let calls: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut calls = 0u64;
                    while Instant::now() < until {
                        for _ in 0..100 {
                            std::hint::black_box(
                                SECP256K1.recover_ecdsa(&message, &signature).is_ok(),
                            );
                        }
                        calls += 100;
                    }
                    calls
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let rate = calls as f64 / started.elapsed().as_secs_f64();
    println!("recover_rate threads={threads} per_second={rate:.0}");
    Ok(())
}
