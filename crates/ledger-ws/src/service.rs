//! The chain service: the one thread that owns the [`Ledger`] and so its
//! mempool, admits transactions, produces and commits blocks, and tells
//! everyone about each block **after** it is stored.
//!
//! Connections talk to it through a [`ChainHandle`]: admission requests go
//! in over a channel, block events come out on a broadcast channel that
//! never blocks the producer (a reader that falls behind is told it lagged
//! and is disconnected by its connection).

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ledger_core::{
    Account, Address, Admission, BlockChanges, ChainTip, ContractEngine, CoreError, Hash, Ledger,
    StateCommit, TransactionStatus, VerifiedTransaction,
};
use tokio::sync::{broadcast, oneshot};

use crate::error::WsError;

/// What one stored block changed, as connections need it.
#[derive(Debug)]
pub struct BlockEvent {
    /// The new top block.
    pub tip: ChainTip,
    /// New state of every account the block touched.
    pub accounts: HashMap<Address, Account>,
    /// Final status of every transaction of the block.
    pub statuses: HashMap<Hash, TransactionStatus>,
}

impl BlockEvent {
    fn of(changes: &BlockChanges) -> BlockEvent {
        BlockEvent {
            tip: changes.tip(),
            accounts: changes.accounts.iter().copied().collect(),
            statuses: changes
                .transactions
                .iter()
                .map(|(hash, record)| (*hash, record.status.clone()))
                .collect(),
        }
    }
}

enum Request {
    Admit(
        VerifiedTransaction,
        oneshot::Sender<Result<Admission, CoreError>>,
    ),
    IsPending(Hash, oneshot::Sender<bool>),
    Shutdown,
}

/// Where the service gets the time for a block: seconds since the Unix epoch.
pub type Clock = Box<dyn FnMut() -> u32 + Send>;

/// The system clock.
pub fn system_clock() -> Clock {
    Box::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX))
            .unwrap_or(0)
    })
}

/// How the service produces blocks.
#[derive(Clone, Copy, Debug)]
pub struct ProducerConfig {
    /// Credited with rewards and fees.
    pub coinbase: Address,
    /// While transactions are pending, blocks start at most this far
    /// apart; a transaction waits at most this long plus the time to
    /// execute and commit one block.
    pub block_interval: Duration,
    /// A block is produced at once when this many transactions are pending.
    pub max_block_transactions: usize,
}

/// A cheap, cloneable handle to the chain service.
#[derive(Clone)]
pub struct ChainHandle {
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<Arc<BlockEvent>>,
}

/// How many block events a connection may fall behind before it is
/// disconnected as too slow.
const EVENT_BACKLOG: usize = 1024;

impl ChainHandle {
    /// Starts the service on its own thread. The thread ends after
    /// [`ChainHandle::shutdown`], having turned every pending transaction
    /// into blocks, or on a storage failure, which it returns.
    pub fn spawn<S, E>(
        ledger: Ledger<S, E>,
        config: ProducerConfig,
        clock: Clock,
    ) -> std::io::Result<(ChainHandle, JoinHandle<Result<(), CoreError>>)>
    where
        S: StateCommit + Send + 'static,
        E: ContractEngine + Send + 'static,
    {
        let (requests, inbox) = mpsc::channel();
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let producer = Producer {
            ledger,
            config,
            clock,
            events: events.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("chain".into())
            .spawn(move || producer.run(inbox))?;
        Ok((ChainHandle { requests, events }, thread))
    }

    /// Runs the stateful admission checks and admits `tx` if they pass.
    pub async fn admit(&self, tx: VerifiedTransaction) -> Result<Admission, WsError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Admit(tx, reply))
            .map_err(|_| WsError::ShuttingDown)?;
        Ok(answer.await.map_err(|_| WsError::ShuttingDown)??)
    }

    /// Whether `hash` is pending in the mempool.
    pub async fn is_pending(&self, hash: Hash) -> Result<bool, WsError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::IsPending(hash, reply))
            .map_err(|_| WsError::ShuttingDown)?;
        answer.await.map_err(|_| WsError::ShuttingDown)
    }

    /// Block events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>> {
        self.events.subscribe()
    }

    /// Asks the service to turn what is pending into blocks and stop.
    /// Admissions after this are refused.
    pub fn shutdown(&self) {
        let _ = self.requests.send(Request::Shutdown);
    }
}

struct Producer<S, E> {
    ledger: Ledger<S, E>,
    config: ProducerConfig,
    clock: Clock,
    events: broadcast::Sender<Arc<BlockEvent>>,
}

impl<S: StateCommit, E: ContractEngine> Producer<S, E> {
    fn run(mut self, inbox: mpsc::Receiver<Request>) -> Result<(), CoreError> {
        let idle = Duration::from_secs(3600);
        let mut last_block = Instant::now() - self.config.block_interval;
        loop {
            let wait = if self.ledger.mempool().is_empty() {
                idle
            } else {
                (last_block + self.config.block_interval).saturating_duration_since(Instant::now())
            };
            match inbox.recv_timeout(wait) {
                Ok(Request::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(request) => {
                    if self.handle(request) {
                        // Take whatever else is already queued before deciding.
                        while let Ok(request) = inbox.try_recv() {
                            if matches!(request, Request::Shutdown) {
                                return self.drain();
                            }
                            self.handle(request);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            let due = Instant::now() >= last_block + self.config.block_interval;
            let full = self.ledger.mempool().len() >= self.config.max_block_transactions;
            if !self.ledger.mempool().is_empty() && (due || full) {
                // The interval runs from the start of a block: under load,
                // when executing and committing a block takes longer than
                // the interval, the next block starts at once, so no
                // transaction waits longer than interval + one block.
                last_block = Instant::now();
                self.produce()?;
            }
        }
        self.drain()
    }

    /// Handles one request; `true` if it may have added to the mempool.
    fn handle(&mut self, request: Request) -> bool {
        match request {
            Request::Admit(tx, reply) => {
                let _ = reply.send(self.ledger.admit(tx));
                true
            }
            Request::IsPending(hash, reply) => {
                let _ = reply.send(self.ledger.mempool().contains(&hash));
                false
            }
            Request::Shutdown => false,
        }
    }

    /// Produces, stores and announces a block; `false` if nothing was pending.
    fn produce(&mut self) -> Result<bool, CoreError> {
        let time = (self.clock)();
        let Some(changes) = self.ledger.produce_block(time, self.config.coinbase)? else {
            return Ok(false);
        };
        {
            tracing::info!(
                depth = changes.block.depth,
                hash = %changes.block.hash(),
                transactions = changes.block.transactions.len(),
                "block stored"
            );
            // Nobody listening is fine.
            let _ = self.events.send(Arc::new(BlockEvent::of(&changes)));
        }
        Ok(true)
    }

    /// Turns everything pending into blocks, so every transaction answered
    /// Pending reaches a final status before the node stops.
    fn drain(mut self) -> Result<(), CoreError> {
        while self.produce()? {}
        Ok(())
    }
}
