//! Pushing signed transfers over several connections, as fast as the node
//! takes them or at a fixed offered rate, timing each push's Pending
//! answer and its final status.

use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use ledger_core::{RawTransaction, StatusCode, TransactionStatus};

use super::plan::Planned;
use ledger_ws::Client;
use tokio::time::Instant;

/// How a run offers its load.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) connections: usize,
    /// Pushes awaiting their final status per connection (the node allows
    /// 1,024 active subscriptions per connection by default).
    pub(crate) window: usize,
    /// Transfers per second offered in total; `None`: as fast as possible.
    pub(crate) rate: Option<f64>,
}

/// What became of one push.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// From sending the push to its first answer (Pending, or a refusal).
    pub(crate) pending: Duration,
    /// From sending the push to its final status.
    pub(crate) done: Duration,
    /// The final status, or why there was none.
    pub(crate) status: Result<TransactionStatus, String>,
}

impl Outcome {
    pub(crate) fn succeeded(&self) -> bool {
        matches!(&self.status, Ok(status) if status.status_code == StatusCode::Success)
    }
}

/// Pushes `transfers` over `shape.connections` connections to `url`;
/// `progress` is called once per final status. The outcomes come back in
/// the order of `transfers`, with the time from the first push to the
/// last final status.
pub(crate) async fn push_all(
    url: &str,
    transfers: &[Planned],
    shape: Shape,
    progress: &(dyn Fn() + Sync),
) -> anyhow::Result<(Vec<Outcome>, Duration)> {
    let connections = shape.connections.max(1);
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(Client::connect(url).await?);
    }
    let started = Instant::now();
    let schedule = shape.rate.map(|rate| (started, rate));
    let drivers = clients.iter().enumerate().map(|(first, client)| {
        let mine = (first..transfers.len()).step_by(connections);
        drive(client, transfers, mine, schedule, shape.window, progress)
    });
    let mut outcomes: Vec<Option<Outcome>> = (0..transfers.len()).map(|_| None).collect();
    for finished in futures_util::future::join_all(drivers).await {
        for (n, outcome) in finished {
            outcomes[n] = Some(outcome);
        }
    }
    let elapsed = started.elapsed();
    let outcomes = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every transfer was driven"))
        .collect();
    Ok((outcomes, elapsed))
}

/// One connection's share: transfers `mine`, at most `window` in flight,
/// none before its time on `schedule` (start, rate).
async fn drive(
    client: &Client,
    transfers: &[Planned],
    mine: impl Iterator<Item = usize>,
    schedule: Option<(Instant, f64)>,
    window: usize,
    progress: &(dyn Fn() + Sync),
) -> Vec<(usize, Outcome)> {
    let mut mine = mine.peekable();
    let mut in_flight = FuturesUnordered::new();
    let mut finished = Vec::new();
    loop {
        let mut wait_until = None;
        while in_flight.len() < window.max(1) {
            let Some(&n) = mine.peek() else { break };
            if let Some((start, rate)) = schedule {
                let due = start + Duration::from_secs_f64(n as f64 / rate);
                if due > Instant::now() {
                    wait_until = Some(due);
                    break;
                }
            }
            mine.next();
            in_flight.push(push_one(client, n, &transfers[n].raw));
        }
        if in_flight.is_empty() && wait_until.is_none() {
            return finished;
        }
        tokio::select! {
            Some((n, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                finished.push((n, outcome));
                progress();
            }
            () = tokio::time::sleep_until(wait_until.unwrap_or_else(Instant::now)), if wait_until.is_some() => {}
        }
    }
}

/// Pushes transfer `n` and follows it to its final status.
pub(crate) async fn push_one(client: &Client, n: usize, tx: &RawTransaction) -> (usize, Outcome) {
    let sent = Instant::now();
    let failed = |why: String| Outcome {
        pending: sent.elapsed(),
        done: sent.elapsed(),
        status: Err(why),
    };
    let mut statuses = match client.push_transaction(tx).await {
        Ok(statuses) => statuses,
        Err(error) => return (n, failed(error.to_string())),
    };
    let mut last = match statuses.next().await {
        Some(Ok(status)) => status,
        Some(Err(error)) => return (n, failed(error.to_string())),
        None => return (n, failed("the connection closed".into())),
    };
    let pending = sent.elapsed();
    while let Some(status) = statuses.next().await {
        match status {
            Ok(status) => last = status,
            Err(error) => return (n, failed(error.to_string())),
        }
    }
    if last.status_code == StatusCode::Pending {
        return (
            n,
            failed("the connection closed before a final status".into()),
        );
    }
    let outcome = Outcome {
        pending,
        done: sent.elapsed(),
        status: Ok(last),
    };
    (n, outcome)
}

/// The `q` quantile (0..=1) of `values`, which it sorts.
pub(crate) fn quantile(values: &mut [Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let rank = ((values.len() - 1) as f64 * q).round() as usize;
    values[rank.min(values.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_list() {
        let mut values: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut values, 0.5), Duration::from_millis(51));
        assert_eq!(quantile(&mut values, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&mut values, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&mut [], 0.5), Duration::ZERO);
    }
}
