//! The chain service: the one thread that owns the ledger, fed by a
//! bounded inbox, timed by the injected clock.

use std::sync::Arc;
use std::thread::JoinHandle;

use ledger_core::{
    Address, Admission, Block, BlockChanges, ChainTip, ContractEngine, CoreError, Hash, Ledger,
    Snapshot, SnapshotError, StateCommit, VerifiedTransaction, ViewCall, ViewOutcome,
};
use tokio::sync::{broadcast, oneshot, watch};

use crate::api::{Chain, NodeMode};
use crate::clock::Clock;
use crate::error::ChainError;
use crate::event::BlockEvent;
use crate::metrics::ChainMetrics;
use crate::producer::{Producer, ProducerConfig};

/// Requests waiting for the service at most; past it, senders wait, so
/// back-pressure reaches the connections instead of memory.
pub const INBOX_CAPACITY: usize = 4096;

enum Request {
    Admit(
        VerifiedTransaction,
        oneshot::Sender<Result<Admission, ChainError>>,
    ),
    IsPending(Hash, oneshot::Sender<bool>),
    Import(Block, oneshot::Sender<Result<ChainTip, ChainError>>),
    ViewCall(ViewCall, oneshot::Sender<Result<ViewOutcome, ChainError>>),
    Build(
        Address,
        oneshot::Sender<Result<Option<BlockChanges>, ChainError>>,
    ),
    Check(Block, oneshot::Sender<Result<BlockChanges, ChainError>>),
    CommitDecided(
        Box<BlockChanges>,
        oneshot::Sender<Result<ChainTip, ChainError>>,
    ),
    Snapshot(oneshot::Sender<Result<Snapshot, ChainError>>),
    Shutdown,
}

/// The service's thread: it returns when the service stops, with the
/// storage failure that halted it ([`ChainError::Halted`]) or that failed
/// the last blocks at shutdown, if any.
pub type ServiceThread = JoinHandle<Result<(), ChainError>>;

/// Starts the service.
pub struct ChainService;

impl ChainService {
    /// Starts the service on its own thread, producing blocks by `config`
    /// on `clock`'s time. The thread ends after [`ChainHandle::shutdown`],
    /// having turned every pending transaction into blocks.
    ///
    /// If storing a block fails (a full disk, an I/O error), the service
    /// halts: it produces no more blocks, refuses admissions and imports
    /// with [`ChainError::Halted`], still answers view calls (reads of the
    /// store need no service), and returns the failure when shut down.
    pub fn spawn<S, E, C>(
        ledger: Ledger<S, E>,
        config: ProducerConfig,
        clock: C,
    ) -> std::io::Result<(ChainHandle<S>, ServiceThread)>
    where
        S: StateCommit + Clone + Send + Sync + 'static,
        E: ContractEngine + Send + 'static,
        C: Clock,
    {
        let (requests, inbox) = flume::bounded(INBOX_CAPACITY);
        let (events, _) = broadcast::channel(config.event_backlog.max(1));
        let (stopped_sender, stopped) = watch::channel(false);
        let state = ledger.store().clone();
        let producer = Producer::new(ledger, config, events.clone(), clock);
        let metrics = producer.metrics().clone();
        let pending = producer.pending();
        let mode = if config.driven {
            NodeMode::Validator
        } else {
            NodeMode::Single
        };
        let thread = std::thread::Builder::new()
            .name("chain".into())
            .spawn(move || {
                let _stopped = Stopped(stopped_sender);
                run(producer, inbox)
            })?;
        let handle = ChainHandle {
            requests,
            events,
            state,
            stopped,
            metrics,
            pending,
            mode,
        };
        Ok((handle, thread))
    }
}

/// Says the service has stopped when the thread ends, however it ends.
/// Requests still queued then are never answered (the queue outlives the
/// thread while handles exist), so waiters must hear it from here.
struct Stopped(watch::Sender<bool>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

fn run<S, E, C>(
    producer: Producer<S, E, C>,
    inbox: flume::Receiver<Request>,
) -> Result<(), ChainError>
where
    S: StateCommit,
    E: ContractEngine,
    C: Clock,
{
    let mut service = Service {
        producer,
        halted: None,
    };
    loop {
        let deadline = match service.halted {
            Some(_) => None,
            None => service.producer.deadline(),
        };
        let request = match deadline {
            None => match inbox.recv() {
                Ok(request) => Some(request),
                Err(flume::RecvError::Disconnected) => break,
            },
            Some(due) => {
                match inbox.recv_timeout(due.saturating_sub(service.producer.clock().elapsed())) {
                    Ok(request) => Some(request),
                    Err(flume::RecvTimeoutError::Timeout) => None,
                    Err(flume::RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        if let Some(request) = request {
            if !service.handle(request) {
                break;
            }
            // Take whatever else is already queued before deciding.
            while let Ok(request) = inbox.try_recv() {
                if !service.handle(request) {
                    return service.stop();
                }
            }
        }
        if service.halted.is_none() {
            if let Err(failure) = service.producer.poll() {
                service.halt(failure);
            }
        }
    }
    service.stop()
}

/// The producer, and the failure that halted it, if one did.
struct Service<S, E, C> {
    producer: Producer<S, E, C>,
    halted: Option<Arc<CoreError>>,
}

impl<S: StateCommit, E: ContractEngine, C: Clock> Service<S, E, C> {
    /// Handles one request; `false` for a shutdown. A failed import is the
    /// importer's error, not the service's, unless storing it failed.
    fn handle(&mut self, request: Request) -> bool {
        match request {
            Request::Admit(tx, reply) => {
                let answer = self
                    .running()
                    .and_then(|()| self.producer.admit(tx).map_err(ChainError::from));
                let _ = reply.send(answer);
            }
            Request::IsPending(hash, reply) => {
                let _ = reply.send(self.producer.is_pending(&hash));
            }
            Request::Import(block, reply) => {
                let answer = self.storing(|producer| producer.import(block));
                let _ = reply.send(answer);
            }
            Request::ViewCall(call, reply) => {
                let _ = reply.send(self.producer.view_call(&call).map_err(ChainError::from));
            }
            Request::Build(coinbase, reply) => {
                let answer = self
                    .running()
                    .and_then(|()| self.producer.build(coinbase).map_err(ChainError::from));
                let _ = reply.send(answer);
            }
            Request::Check(block, reply) => {
                let answer = self
                    .running()
                    .and_then(|()| self.producer.check(block).map_err(ChainError::from));
                let _ = reply.send(answer);
            }
            Request::CommitDecided(changes, reply) => {
                let answer = self.storing(|producer| producer.commit_decided(*changes));
                let _ = reply.send(answer);
            }
            Request::Snapshot(reply) => {
                // Taken here, between two blocks, so it is of one state.
                let answer = match Snapshot::of(self.producer.ledger().store()) {
                    Ok(snapshot) => Ok(snapshot),
                    Err(SnapshotError::Undecided { .. }) => Err(ChainError::NoSnapshot),
                    Err(error) => Err(ChainError::Snapshot(Box::new(error))),
                };
                let _ = reply.send(answer);
            }
            Request::Shutdown => return false,
        }
        true
    }

    /// Runs `store` (a step that commits a block) unless halted; a storage
    /// failure in it halts the service, any other failure is the caller's.
    fn storing<T>(
        &mut self,
        store: impl FnOnce(&mut Producer<S, E, C>) -> Result<T, CoreError>,
    ) -> Result<T, ChainError> {
        self.running()?;
        match store(&mut self.producer) {
            Err(failure @ CoreError::Storage(_)) => Err(ChainError::Halted(self.halt(failure))),
            other => other.map_err(ChainError::from),
        }
    }

    /// Stops producing for good after `failure`.
    fn halt(&mut self, failure: CoreError) -> Arc<CoreError> {
        tracing::error!(
            error = %failure,
            "storing a block failed: no more blocks; the node answers reads only until it is stopped"
        );
        self.halted.insert(Arc::new(failure)).clone()
    }

    /// `Err(Halted)` once a failure has halted the service.
    fn running(&self) -> Result<(), ChainError> {
        match &self.halted {
            Some(failure) => Err(ChainError::Halted(failure.clone())),
            None => Ok(()),
        }
    }

    /// At shutdown: turns what is pending into blocks, unless halted.
    fn stop(&mut self) -> Result<(), ChainError> {
        self.running()?;
        Ok(self.producer.drain()?)
    }
}

/// A cheap, cloneable handle to the chain service.
#[derive(Clone)]
pub struct ChainHandle<S> {
    requests: flume::Sender<Request>,
    events: broadcast::Sender<Arc<BlockEvent>>,
    state: S,
    stopped: watch::Receiver<bool>,
    metrics: ChainMetrics,
    pending: watch::Receiver<usize>,
    mode: NodeMode,
}

impl<S> ChainHandle<S> {
    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, ChainError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send_async(request(reply))
            .await
            .map_err(|_| ChainError::ShuttingDown)?;
        let mut stopped = self.stopped.clone();
        tokio::select! {
            // An answer given before the service stopped wins.
            biased;
            answer = answer => answer.map_err(|_| ChainError::ShuttingDown),
            _ = stopped.wait_for(|stopped| *stopped) => Err(ChainError::ShuttingDown),
        }
    }

    /// Validates, executes, commits and announces a block produced
    /// elsewhere (by a peer, through consensus).
    pub async fn import_block(&self, block: Block) -> Result<ChainTip, ChainError> {
        self.ask(|reply| Request::Import(block, reply)).await?
    }

    /// Builds and executes the next block from what is pending without
    /// committing it (a proposal); `None` when nothing is pending.
    pub async fn build_block(&self, coinbase: Address) -> Result<Option<BlockChanges>, ChainError> {
        self.ask(|reply| Request::Build(coinbase, reply)).await?
    }

    /// Validates and executes `block` on the tip without committing it.
    pub async fn check_block(&self, block: Block) -> Result<BlockChanges, ChainError> {
        self.ask(|reply| Request::Check(block, reply)).await?
    }

    /// Commits and announces changes a network decided.
    pub async fn commit_decided(&self, changes: BlockChanges) -> Result<ChainTip, ChainError> {
        self.ask(|reply| Request::CommitDecided(Box::new(changes), reply))
            .await?
    }

    /// How many transactions are pending, as it changes.
    pub fn pending(&self) -> watch::Receiver<usize> {
        self.pending.clone()
    }

    /// Asks the service to turn what is pending into blocks and stop.
    /// Requests queued before this are answered; later ones are refused as
    /// [`ChainError::ShuttingDown`].
    pub async fn shutdown(&self) {
        let _ = self.requests.send_async(Request::Shutdown).await;
    }
}

impl<S: ledger_core::StateRead + Clone + Send + Sync + 'static> Chain for ChainHandle<S> {
    type State = S;

    fn state(&self) -> &S {
        &self.state
    }

    async fn admit(&self, tx: VerifiedTransaction) -> Result<Admission, ChainError> {
        self.ask(|reply| Request::Admit(tx, reply)).await?
    }

    async fn is_pending(&self, hash: Hash) -> Result<bool, ChainError> {
        self.ask(|reply| Request::IsPending(hash, reply)).await
    }

    async fn view_call(&self, call: ViewCall) -> Result<ViewOutcome, ChainError> {
        self.ask(|reply| Request::ViewCall(call, reply)).await?
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>> {
        self.events.subscribe()
    }

    fn metrics(&self) -> &ChainMetrics {
        &self.metrics
    }

    async fn snapshot(&self) -> Result<Snapshot, ChainError> {
        self.ask(Request::Snapshot).await?
    }

    fn mode(&self) -> NodeMode {
        self.mode
    }
}
