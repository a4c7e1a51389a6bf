//! What connections cost the node in memory, read from its resident set
//! (`/proc/PID/status`). See docs/benchmarks.md.
//!
//!     cargo run --release -p ledger-benches --example ws_memory -- URL PID idle [CONNECTIONS]
//!     cargo run --release -p ledger-benches --example ws_memory -- URL PID slow
//!
//! `idle` opens CONNECTIONS (default 3,000) idle connections, closes them,
//! and opens as many again: the second round shows whether what stayed
//! after the first was leaked or kept by the allocator for reuse. `slow`
//! makes a block of three 700,000-byte transactions, then asks for it
//! again and again without reading, until the node disconnects the
//! client: the peak shows what the outgoing byte bound really holds.
//! Run each against a fresh node (`ledger-node run`, dev genesis) whose
//! open-file limit exceeds CONNECTIONS.

use std::time::Duration;

#[path = "ws_common.rs"]
mod ws_common;

use futures_util::{SinkExt, StreamExt};
use ledger_ws::Client;
use tokio_tungstenite::tungstenite::Message;

type Error = Box<dyn std::error::Error>;

/// Resident and peak resident memory of `pid`, in KiB.
fn memory(pid: u32) -> Result<(u64, u64), Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64, Error> {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))?;
        Ok(line.split_whitespace().nth(1).ok_or("malformed")?.parse()?)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Lets the node settle: connection tasks end, the allocator catches up.
async fn settled(pid: u32) -> Result<u64, Error> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(memory(pid)?.0)
}

async fn idle(url: &str, pid: u32, count: usize) -> Result<(), Error> {
    let base = settled(pid).await?;
    println!("node idle:                  {base:>9} KiB");
    for round in 1..=2 {
        let mut open = Vec::with_capacity(count);
        for _ in 0..count {
            open.push(tokio_tungstenite::connect_async(url).await?.0);
        }
        let with = settled(pid).await?;
        let each = with.saturating_sub(base) * 1024 / count as u64;
        println!(
            "round {round}: {count} connections: {with:>9} KiB  ({each} bytes each above idle)"
        );
        for ws in &mut open {
            let _ = ws.close(None).await;
        }
        drop(open);
        let after = settled(pid).await?;
        println!("round {round}: all closed:       {after:>9} KiB");
    }
    Ok(())
}

async fn slow(url: &str, pid: u32) -> Result<(), Error> {
    let client = Client::connect(url).await?;
    let (depth, size) = ws_common::large_block(&client).await?;
    let base = settled(pid).await?;
    println!("node idle:                  {base:>9} KiB");

    let (mut slow, _) = tokio_tungstenite::connect_async(url).await?;
    let mut asked = 0;
    for id in 0..2_000u64 {
        let request = format!(
            r#"{{"type":"call","name":"find_block","api":1,"id":{id},"args":{{"number":{depth}}}}}"#
        );
        let sent = tokio::time::timeout(Duration::from_secs(2), slow.send(Message::text(request)));
        match sent.await {
            Ok(Ok(())) => asked += 1,
            _ => break, // our send buffer is full, or the node closed
        }
    }
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(30), slow.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|f| f.reason.to_string()),
            Ok(Some(Ok(_))) => continue,
            _ => break None,
        }
    };
    let (_, peak) = memory(pid)?;
    println!("slow reader: asked {asked} times for a {size}-byte block");
    println!(
        "peak:                       {peak:>9} KiB  ({} KiB above idle)",
        peak - base
    );
    println!("closed with: {closed:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let usage = "usage: ws_memory URL PID idle [CONNECTIONS] | ws_memory URL PID slow";
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or(usage)?;
    let pid: u32 = args.next().ok_or(usage)?.parse()?;
    match args.next().as_deref() {
        Some("idle") => idle(&url, pid, args.next().map_or(Ok(3_000), |n| n.parse())?).await,
        Some("slow") => slow(&url, pid).await,
        _ => Err(usage.into()),
    }
}
