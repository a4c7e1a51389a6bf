//! The chain service: the one thread that owns the ledger, fed by a
//! bounded inbox, timed by the injected clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use ledger_core::{
    Address, Admission, Block, BlockChanges, ChainTip, ContractEngine, CoreError, FeeEstimate,
    FeeRequest, Hash, Ledger, Snapshot, SnapshotError, StateCommit, VerifiedTransaction, ViewCall,
    ViewOutcome,
};
use tokio::sync::{broadcast, oneshot, watch};

use crate::api::{Chain, NodeMode};
use crate::clock::Clock;
use crate::error::{ChainError, Halt};
use crate::event::BlockEvent;
use crate::metrics::ChainMetrics;
use crate::priority;
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
    EstimateFee(
        Box<FeeRequest>,
        oneshot::Sender<Result<FeeEstimate, ChainError>>,
    ),
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
    /// If the store fails under it (storing a block fails on a full disk
    /// or an I/O error, or a read it needs to admit a transaction or build
    /// a block fails), the service halts: it produces no more blocks,
    /// refuses admissions and imports with [`ChainError::Halted`], still
    /// answers view calls (reads of the store need no service), and
    /// returns the failure when shut down.
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
        let committer = Committer::spawn(state.clone(), config.thread_nice)?;
        let thread = std::thread::Builder::new()
            .name("chain".into())
            .spawn(move || {
                let _stopped = Stopped(stopped_sender);
                priority::run_current_thread_at(config.thread_nice, "chain");
                run(producer, inbox, committer)
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

/// A block stored on the committer thread, and how that went.
struct Stored {
    changes: BlockChanges,
    result: Result<(), CoreError>,
}

/// The thread that stores produced blocks, so the chain thread goes on
/// admitting while a block is written and synced: a push answered Pending
/// no longer waits for a commit (issue 13). One block at a time.
struct Committer {
    jobs: flume::Sender<BlockChanges>,
    done: flume::Receiver<Box<Stored>>,
}

impl Committer {
    fn spawn<S: StateCommit + Send + 'static>(
        store: S,
        nice: Option<i32>,
    ) -> std::io::Result<Committer> {
        let (jobs, queued) = flume::bounded::<BlockChanges>(1);
        let (finished, done) = flume::bounded::<Box<Stored>>(1);
        std::thread::Builder::new()
            .name("chain-store".into())
            .spawn(move || {
                priority::run_current_thread_at(nice, "chain-store");
                for changes in queued {
                    let result = store.commit(&changes);
                    if finished.send(Box::new(Stored { changes, result })).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Committer { jobs, done })
    }
}

/// The failure the service halts with if the committer thread is gone
/// (it only ends when the service drops it, or by a panic in a store).
fn committer_gone() -> CoreError {
    CoreError::storage(std::io::Error::other(
        "the thread that stores blocks is gone",
    ))
}

/// What the chain thread waits for. A request moves through by value, as
/// it came out of the inbox; a stored block is boxed.
#[allow(clippy::large_enum_variant)]
enum Event {
    Request(Request),
    Stored(Box<Stored>),
    /// A block may be due.
    Timeout,
    /// Every handle is gone.
    Closed,
}

fn run<S, E, C>(
    producer: Producer<S, E, C>,
    inbox: flume::Receiver<Request>,
    committer: Committer,
) -> Result<(), ChainError>
where
    S: StateCommit,
    E: ContractEngine,
    C: Clock,
{
    let mut service = Service {
        producer,
        halted: None,
        committer,
        storing: None,
        deferred: Vec::new(),
        waiting: VecDeque::new(),
    };
    loop {
        let deadline = match (&service.halted, &service.storing) {
            (None, None) => service.producer.deadline(),
            _ => None,
        };
        let keep_going = match service.next_event(&inbox, deadline) {
            Event::Request(request) => service.handle(request),
            Event::Stored(stored) => service.on_stored(stored),
            Event::Timeout => true,
            Event::Closed => false,
        };
        if !keep_going {
            break;
        }
        // Take whatever else is already queued before deciding.
        while let Ok(request) = inbox.try_recv() {
            if !service.handle(request) {
                return service.stop();
            }
        }
        service.start_due();
    }
    service.stop()
}

/// The producer, and the failure that halted it, if one did.
struct Service<S, E, C> {
    producer: Producer<S, E, C>,
    halted: Option<Arc<Halt>>,
    committer: Committer,
    /// When the block on the committer thread was handed to it.
    storing: Option<std::time::Duration>,
    /// Admissions refused while a block was being stored: asked again once
    /// it is, since the state after it may cover them.
    deferred: Vec<(VerifiedTransaction, AdmitReply)>,
    /// Requests that need the stored tip, held until the block is stored.
    waiting: VecDeque<Request>,
}

type AdmitReply = oneshot::Sender<Result<Admission, ChainError>>;

impl<S: StateCommit, E: ContractEngine, C: Clock> Service<S, E, C> {
    fn next_event(
        &self,
        inbox: &flume::Receiver<Request>,
        deadline: Option<std::time::Duration>,
    ) -> Event {
        let selector = flume::Selector::new()
            .recv(inbox, |request| match request {
                Ok(request) => Event::Request(request),
                Err(flume::RecvError::Disconnected) => Event::Closed,
            })
            .recv(&self.committer.done, |stored| match stored {
                Ok(stored) => Event::Stored(stored),
                // The committer outlives the service; gone means stopping.
                Err(flume::RecvError::Disconnected) => Event::Closed,
            });
        match deadline {
            None => selector.wait(),
            Some(due) => selector
                .wait_timeout(due.saturating_sub(self.producer.clock().elapsed()))
                .unwrap_or(Event::Timeout),
        }
    }

    /// Hands the next block to the committer thread if one is due.
    fn start_due(&mut self) {
        if self.halted.is_some() || self.storing.is_some() {
            return;
        }
        match self.producer.start_due() {
            Ok(Some(changes)) => {
                self.storing = Some(self.producer.clock().elapsed());
                if self.committer.jobs.send(changes).is_err() {
                    self.halt(Halt::Storing(committer_gone()));
                    self.storing = None;
                }
            }
            Ok(None) => {}
            Err(failure) => {
                self.halt(Halt::Reading(failure));
            }
        }
    }

    /// The committer stored a block (or failed to): announce it, then ask
    /// again the admissions it held back and run the requests that waited
    /// for it. `false` if one of them was a shutdown.
    fn on_stored(&mut self, stored: Box<Stored>) -> bool {
        let started = self.storing.take().unwrap_or_default();
        let took = self.producer.clock().elapsed().saturating_sub(started);
        let Stored {
            mut changes,
            result,
        } = *stored;
        let outcome = match result {
            Ok(()) => self
                .producer
                .stored(&mut changes, took)
                .map_err(Halt::Reading),
            Err(failure) => Err(Halt::Storing(failure)),
        };
        if let Err(halt) = outcome {
            self.halt(halt);
        }
        for (tx, reply) in std::mem::take(&mut self.deferred) {
            let _ = reply.send(self.admit(tx));
        }
        while let Some(request) = self.waiting.pop_front() {
            if !self.handle(request) {
                return false;
            }
        }
        true
    }

    /// Admits `tx` unless halted. A read of the store that fails while no
    /// block is being stored halts the service: the writer cannot decide
    /// anything on a store it cannot read, and with sled such a read is
    /// how a failed write shows first (its background writer met it).
    /// While a block is being stored, the failure is returned as it is,
    /// and [`Service::handle`] holds the push until that block's outcome.
    fn admit(&mut self, tx: VerifiedTransaction) -> Result<Admission, ChainError> {
        self.running()?;
        match self.producer.admit(tx) {
            Err(failure @ CoreError::Storage(_)) if self.storing.is_none() => {
                Err(ChainError::Halted(self.halt(Halt::Reading(failure))))
            }
            other => other.map_err(ChainError::from),
        }
    }

    /// Handles one request; `false` for a shutdown. A failed import is the
    /// importer's error, not the service's, unless storing it failed.
    /// While a block is being stored, admissions go on against the state
    /// before it (its transactions still pending), a refusal (or a read
    /// the failing store refused) waits for the block's outcome, and what
    /// needs the stored tip waits too.
    fn handle(&mut self, request: Request) -> bool {
        if self.storing.is_some() {
            match request {
                Request::Admit(tx, reply) => {
                    match self.admit(tx.clone()) {
                        // The block being stored may pay for it; or the
                        // store failed writing it, which that block's
                        // outcome will name (the service halts).
                        Ok(Admission::Rejected(_))
                        | Err(ChainError::Core(CoreError::Storage(_))) => {
                            self.deferred.push((tx, reply))
                        }
                        answer => {
                            let _ = reply.send(answer);
                        }
                    }
                    return true;
                }
                Request::IsPending(..) | Request::ViewCall(..) | Request::EstimateFee(..) => {}
                request => {
                    self.waiting.push_back(request);
                    return true;
                }
            }
        }
        match request {
            Request::Admit(tx, reply) => {
                let _ = reply.send(self.admit(tx));
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
            Request::EstimateFee(request, reply) => {
                let answer = self.producer.estimate_fee(&request);
                let _ = reply.send(answer.map_err(ChainError::from));
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
            Err(failure @ CoreError::Storage(_)) => {
                Err(ChainError::Halted(self.halt(Halt::Storing(failure))))
            }
            other => other.map_err(ChainError::from),
        }
    }

    /// Stops producing for good after `halt`.
    fn halt(&mut self, halt: Halt) -> Arc<Halt> {
        tracing::error!(
            error = %halt,
            "the store failed: no more blocks; the node answers reads only until it is stopped"
        );
        self.halted.insert(Arc::new(halt)).clone()
    }

    /// `Err(Halted)` once a failure has halted the service.
    fn running(&self) -> Result<(), ChainError> {
        match &self.halted {
            Some(failure) => Err(ChainError::Halted(failure.clone())),
            None => Ok(()),
        }
    }

    /// At shutdown: waits for the block being stored, then turns what is
    /// pending into blocks, unless halted.
    fn stop(&mut self) -> Result<(), ChainError> {
        if self.storing.is_some() {
            match self.committer.done.recv() {
                Ok(stored) => {
                    let _ = self.on_stored(stored);
                }
                Err(_) => {
                    self.halt(Halt::Storing(committer_gone()));
                }
            }
        }
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

    async fn estimate_fee(&self, request: FeeRequest) -> Result<FeeEstimate, ChainError> {
        self.ask(|reply| Request::EstimateFee(Box::new(request), reply))
            .await?
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
