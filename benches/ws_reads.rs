//! Whether large reads hold up everyone else: several connections read a
//! block of ~1.9-2.8 MB again and again, while one more connection times
//! small round trips (`last_block_info`). See docs/benchmarks.md.
//!
//!     cargo run --release -p ledger-benches --example ws_reads -- URL [HEAVY] [PROBES]
//!
//! Run against a node on the dev genesis. HEAVY connections (default 4)
//! each read the large block until the probe is done; the probe makes
//! PROBES (default 2,000) round trips and reports their latency.

use std::time::{Duration, Instant};

#[path = "ws_common.rs"]
mod ws_common;

use ledger_ws::protocol::BlockRef;
use ledger_ws::Client;

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: ws_reads URL [HEAVY] [PROBES]")?;
    let heavy: usize = args.next().map_or(Ok(4), |n| n.parse())?;
    let probes: usize = args.next().map_or(Ok(2_000), |n| n.parse())?;

    let client = Client::connect(&url).await?;
    let (number, size) = ws_common::large_block(&client).await?;

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..heavy {
        let (url, done) = (url.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let client = Client::connect(&url).await?;
            let mut reads = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                client.find_block(BlockRef::Number(number)).await?;
                reads += 1;
            }
            Ok::<u64, ledger_ws::WsError>(reads)
        }));
    }
    let probe = Client::connect(&url).await?;
    let mut latencies = Vec::with_capacity(probes);
    let started = Instant::now();
    for _ in 0..probes {
        let sent = Instant::now();
        probe.last_block_info().await?;
        latencies.push(sent.elapsed());
    }
    let elapsed = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut reads = 0;
    for reader in readers {
        reads += reader.await??;
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{heavy} connections reading a {size}-byte block: {:.0} reads/s",
        reads as f64 / elapsed.as_secs_f64()
    );
    println!(
        "probe last_block_info round trip: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0))
    );
    Ok(())
}
