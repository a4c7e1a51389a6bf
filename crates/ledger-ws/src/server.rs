//! The WebSocket server: one task per connection, each with its own
//! subscriptions, limits and bounded outgoing queue.
//!
//! Each connection drives a `tungstenite::WebSocket` over a non-blocking
//! socket itself (reading when the socket is readable, writing when it is
//! writable). `tokio-tungstenite`'s stream ends at the first error of any
//! kind, but ws-api-v1.md wants a text frame of invalid UTF-8 answered with
//! `invalid_json` and the connection kept; driving tungstenite directly
//! gives that, and puts the outgoing queue and its bound in our hands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{FuturesUnordered, StreamExt};
use ledger_chain::{BlockEvent, Chain, ChainError};
use ledger_core::{
    Admission, Hash, RawTransaction, StateRead, StatusCode, TransactionStatus, VerifiedTransaction,
    ViewCall, ViewOutcome,
};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

use crate::extensions::{Peers, Relayed, WirePeer};
use crate::handlers;
use crate::http::{self, HttpContext, Upgraded, WebSocketApi};
use crate::metrics::{ApiMetrics, ConnectionGuard, Kind};
use crate::outbox::{would_block, Budget, Outgoing};
use crate::protocol::{
    error_answer, ok_answer, parse, Command, FromBlock, LastBlockInfo, Parsed, NOT_SUBSCRIBED,
    UNSUBSCRIBED,
};
use crate::request_error::RequestError;
use crate::session::{Admitted, Session};
use crate::snapshots::{SnapshotInfo, Snapshots};
use crate::stream::StreamConnection;
use crate::timings::{unix_nanos, Stamp};
use crate::wire::{Close, KeepAlive, Wire, READ_BATCH};

/// Per-connection limits and timers.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Largest request answered normally; a larger one is answered
    /// `limit_exceeded`.
    pub max_request_bytes: usize,
    /// Largest message read at all; a larger one closes the connection
    /// (code 1009) without reading it into memory. It bounds what one
    /// connection can make the node hold while a message arrives.
    pub max_message_bytes: usize,
    /// Most active subscriptions (including pushes awaiting admission).
    pub max_subscriptions: usize,
    /// Most requests waiting on the chain service at once.
    pub max_in_flight: usize,
    /// Most messages queued for a client that does not read; past it the
    /// client is disconnected with close code 1008.
    pub max_outgoing: usize,
    /// Most bytes queued for a client that does not read (a few large
    /// answers weigh more than many small ones); past it, close code 1008.
    /// A larger answer is answered `limit_exceeded` instead.
    pub max_outgoing_bytes: usize,
    /// Most bytes queued for all clients together; a client whose answer
    /// would pass it, even the socket having taken what it could, is
    /// closed with 1008.
    pub max_total_outgoing_bytes: usize,
    /// Quiet time after which the server pings a connection.
    pub ping_interval: Duration,
    /// How long a pinged connection may stay silent before it is closed.
    pub pong_timeout: Duration,
    /// Most connections at once; more are refused at the handshake.
    pub max_connections: usize,
    /// Most messages queued for a valid-transactions stream reader; past
    /// it the reader is disconnected with close code 1008.
    pub stream_queue: usize,
    /// Longest transaction list `account_info` answers with; a longer one
    /// is `limit_exceeded`, pointing to `account_transactions`.
    pub max_account_hashes: usize,
    /// How long a client may take to send a request's headers, counted
    /// from the moment the connection opens or its previous answer went
    /// out: a connection that says nothing (or stops halfway through its
    /// headers) is closed after it.
    pub header_timeout: Duration,
    /// The kernel send buffer asked for each WebSocket (Linux doubles it,
    /// up to twice `net.core.wmem_max`). Without it the kernel grows the
    /// buffer to megabytes for a client that does not read.
    pub send_buffer_bytes: usize,
}

impl ServerConfig {
    fn keep_alive(&self) -> KeepAlive {
        KeepAlive {
            ping_interval: self.ping_interval,
            pong_timeout: self.pong_timeout,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_request_bytes: 1 << 20,
            max_message_bytes: 4 << 20,
            max_subscriptions: 1024,
            max_in_flight: 1024,
            max_outgoing: 4096,
            max_outgoing_bytes: 64 << 20,
            max_total_outgoing_bytes: 1 << 30,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            stream_queue: 1000,
            max_account_hashes: 100_000,
            header_timeout: Duration::from_secs(10),
            send_buffer_bytes: 256 << 10,
        }
    }
}

/// Where the node is in its life, as the server sees it. The node moves
/// it forward only: `Running`, then `Draining`, then `Stopped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Serving.
    Running,
    /// Stopping: no new connections; new requests are answered with an
    /// error; requests already taken are still answered, and pushes
    /// answered Pending still get their final status.
    Draining,
    /// The chain service has stopped and announced its last block: each
    /// connection answers what it still owes, then closes (code 1001).
    Stopped,
}

/// Accepts connections on `listener` while `phase` is
/// [`Phase::Running`]; returns when every connection has closed after
/// [`Phase::Stopped`].
pub async fn serve<C: Chain>(
    listener: TcpListener,
    chain: C,
    config: ServerConfig,
    mut phase: watch::Receiver<Phase>,
) {
    let mut connections = JoinSet::new();
    let budget = Budget::new(config.max_total_outgoing_bytes);
    let metrics = Arc::new(ApiMetrics::new(chain.metrics()));
    let context = Arc::new(HttpContext {
        chain: chain.clone(),
        config,
        metrics: metrics.clone(),
    });
    let snapshots = Arc::new(Snapshots::default());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = phase.wait_for(|phase| *phase > Phase::Running) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if connections.len() >= config.max_connections {
            tracing::warn!(%peer, limit = config.max_connections, "connection refused: too many connections");
            continue;
        }
        let shared = Shared {
            chain: chain.clone(),
            config,
            budget: budget.clone(),
            metrics: metrics.clone(),
            snapshots: snapshots.clone(),
        };
        let context = context.clone();
        let phase = phase.clone();
        connections.spawn(async move {
            let Some(upgraded) = http::serve(socket, peer, context, phase.clone()).await else {
                return;
            };
            shared.run(upgraded, peer, phase).await;
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

struct Shared<C> {
    chain: C,
    config: ServerConfig,
    budget: Arc<Budget>,
    metrics: Arc<ApiMetrics>,
    snapshots: Arc<Snapshots>,
}

impl<C: Chain> Shared<C> {
    /// Runs a connection that became a WebSocket to its end.
    async fn run(self, upgraded: Upgraded, peer: SocketAddr, phase: watch::Receiver<Phase>) {
        let Upgraded { ws, api, events } = upgraded;
        let config = self.config;
        // Bounded, so that what a client that does not read can make the
        // node hold is the outgoing queue (bounded, counted, reported)
        // rather than kernel buffers that would otherwise grow to
        // megabytes per connection, out of sight.
        let socket = socket2::SockRef::from(&ws.get_ref().0);
        if let Err(error) = socket.set_send_buffer_size(config.send_buffer_bytes) {
            tracing::debug!(%peer, %error, "the socket's send buffer keeps its size");
        }
        match api {
            WebSocketApi::V1 => {
                let bounds = (config.max_outgoing, config.max_outgoing_bytes);
                let wire = Wire::new(ws, peer, bounds, self.budget.clone(), config.keep_alive());
                Connection::new(wire, self).run(events, phase).await;
            }
            WebSocketApi::Stream(filter) => {
                let genesis = match self.chain.state().genesis_hash() {
                    Ok(Some(genesis)) => genesis,
                    Ok(None) | Err(_) => {
                        tracing::error!(%peer, "stream refused: the genesis hash cannot be read");
                        return;
                    }
                };
                let bounds = (config.stream_queue, config.max_outgoing_bytes);
                let wire = Wire::new(ws, peer, bounds, self.budget, config.keep_alive());
                StreamConnection::new(wire, self.chain, filter, genesis, self.metrics)
                    .run(events, phase, config.keep_alive().tick())
                    .await;
            }
        }
    }
}

/// What woke a connection up.
enum Wake {
    Socket,
    Event(Result<Arc<BlockEvent>, broadcast::error::RecvError>),
    Done(Completion),
    Tick,
    Phase(Phase),
}

/// A text frame as read, with when it was read (Unix nanoseconds, and
/// the instant).
type Frame = (tungstenite::Utf8Bytes, (u64, std::time::Instant));

/// Pushes read together from which their signatures are checked on every
/// core rather than one after another on the connection's thread: enough
/// that starting the helper threads (a few tens of microseconds) is small
/// beside the checks (tens of microseconds each).
const PARALLEL_PUSHES: usize = 8;

/// Most completions answered in one turn of a connection's loop, so
/// that the socket, the block events and the timers are looked at between
/// bursts.
const COMPLETION_BATCH: usize = 256;

/// The cores this process may run on.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// A request that waited on the chain service.
enum Completion {
    Admission {
        id: u64,
        hash: Hash,
        result: Result<Admission, RequestError>,
        /// When the push was read.
        read: std::time::Instant,
    },
    Status {
        id: u64,
        hash: Hash,
        result: Result<bool, RequestError>,
    },
    View {
        id: u64,
        result: Result<ViewOutcome, RequestError>,
    },
    Estimate {
        id: u64,
        from: ledger_core::Address,
        result: Result<ledger_core::FeeEstimate, RequestError>,
    },
    Relay {
        id: u64,
        result: Result<Relayed, RequestError>,
    },
    Snapshot {
        id: u64,
        result: Result<SnapshotInfo, RequestError>,
    },
}

/// Verifies `raws` off the connection's thread (a batch is up to a
/// thousand signatures, checked on every core) and admits them in order,
/// counting how each fared.
async fn relay<C: Chain>(chain: &C, raws: Vec<RawTransaction>) -> Result<Relayed, RequestError> {
    let verified =
        tokio::task::spawn_blocking(move || VerifiedTransaction::from_raws(&raws, cores()))
            .await
            .map_err(|_| RequestError::ShuttingDown)?;
    let mut relayed = Relayed::default();
    for tx in verified {
        let Ok(tx) = tx else {
            relayed.refused += 1;
            continue;
        };
        match chain.relay(tx).await {
            Ok(Admission::Admitted) => relayed.admitted += 1,
            Ok(Admission::AlreadyPending | Admission::AlreadyApplied(_)) => relayed.known += 1,
            Ok(Admission::Rejected(_)) | Err(ChainError::Core(_)) => relayed.refused += 1,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(relayed)
}

struct Connection<C> {
    wire: Wire,
    shared: Shared<C>,
    session: Session,
    in_flight: FuturesUnordered<BoxFuture<'static, Completion>>,
    events_open: bool,
    phase: Phase,
    /// Requests that asked for timings, while they or their
    /// subscriptions are active, by id.
    timed: HashMap<u64, Stamp>,
    /// The request being handled, if it asked for timings.
    current: Option<(u64, Stamp)>,
    /// While a block event is answered: when its block was stored.
    notifying: Option<u64>,
    /// Subscriptions last counted in the metrics, by kind.
    counted: [usize; 4],
    _connected: ConnectionGuard,
}

/// The subscription kinds a v1 session holds, in [`Session::counts`] order.
const SESSION_KINDS: [Kind; 4] = [Kind::Blocks, Kind::Accounts, Kind::Pushes, Kind::Logs];

impl<C: Chain> Connection<C> {
    fn new(wire: Wire, shared: Shared<C>) -> Self {
        tracing::debug!(peer = %wire.peer, "connected");
        let connected = shared.metrics.connected();
        Connection {
            wire,
            shared,
            session: Session::default(),
            in_flight: FuturesUnordered::new(),
            events_open: true,
            phase: Phase::Running,
            timed: HashMap::new(),
            current: None,
            notifying: None,
            counted: [0; 4],
            _connected: connected,
        }
    }

    async fn run(
        mut self,
        mut events: broadcast::Receiver<Arc<BlockEvent>>,
        mut phase: watch::Receiver<Phase>,
    ) {
        let mut ticker = tokio::time::interval(self.shared.config.keep_alive().tick());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let close = loop {
            let read = self.read_available();
            self.after_wake();
            if let Err(close) = read {
                break close;
            }
            // A queue over its bounds, or a failed write, while answering.
            if let Some(close) = self.wire.closing.take() {
                break close;
            }
            if let Err(close) = self.wire.write_queued() {
                break close;
            }
            let wake = tokio::select! {
                ready = self.wire.ws.get_ref().0.readable() => match ready {
                    Ok(()) => Wake::Socket,
                    Err(_) => break Close::Gone,
                },
                ready = self.wire.ws.get_ref().0.writable(), if self.wire.write_blocked => match ready {
                    Ok(()) => Wake::Socket,
                    Err(_) => break Close::Gone,
                },
                event = events.recv(), if self.events_open => Wake::Event(event),
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => Wake::Done(done),
                _ = ticker.tick() => Wake::Tick,
                changed = phase.changed(), if self.phase < Phase::Stopped => match changed {
                    Ok(()) => Wake::Phase(*phase.borrow_and_update()),
                    Err(_) => Wake::Phase(Phase::Stopped), // the node is gone
                },
            };
            let handled = match wake {
                Wake::Socket => Ok(()),
                Wake::Event(event) => self.on_event(event),
                Wake::Done(done) => {
                    self.on_completion(done);
                    self.drain_completions();
                    Ok(())
                }
                Wake::Tick => self.wire.on_tick(),
                Wake::Phase(phase) => {
                    self.phase = phase;
                    if phase == Phase::Stopped {
                        // The chain service has stopped: every block event
                        // is already queued. Pass them on.
                        while let Ok(event) = events.try_recv() {
                            let _ = self.on_event(Ok(event));
                        }
                    }
                    Ok(())
                }
            };
            if let Err(close) = handled {
                break close;
            }
            // Once the chain has stopped, what is still in flight resolves
            // at once (answered, or refused as shutting down); then goodbye.
            if self.phase == Phase::Stopped && self.in_flight.is_empty() {
                break Close::With(CloseCode::Away, "the node is shutting down".into());
            }
        };
        for (kind, counted) in SESSION_KINDS.into_iter().zip(self.counted) {
            self.shared.metrics.subscriptions(kind, -(counted as i64));
        }
        self.wire.close(close).await;
    }

    /// Bookkeeping once per turn of the loop, after reading and before
    /// writing (so what a wake changed is counted before its answers go
    /// out): forget the timings of requests that ended, and bring the
    /// subscription metrics up to date.
    fn after_wake(&mut self) {
        if !self.timed.is_empty() {
            let session = &self.session;
            self.timed.retain(|id, _| session.holds(*id));
        }
        let counts = self.session.counts();
        if counts != self.counted {
            for ((kind, now), before) in SESSION_KINDS.into_iter().zip(counts).zip(self.counted) {
                self.shared
                    .metrics
                    .subscriptions(kind, now as i64 - before as i64);
            }
            self.counted = counts;
        }
    }

    /// Reads what the socket holds, up to [`READ_BATCH`] frames. Text
    /// frames are handled together once read ([`Self::on_texts`]), so the
    /// signatures of a burst of pushes are checked at once; a frame of
    /// another kind first lets the texts before it be answered, keeping
    /// answers in the order of their frames.
    fn read_available(&mut self) -> Result<(), Close> {
        let mut texts = Vec::new();
        let read = self.read_frames(&mut texts);
        self.on_texts(texts);
        read
    }

    fn read_frames(&mut self, texts: &mut Vec<Frame>) -> Result<(), Close> {
        for _ in 0..READ_BATCH {
            if self.wire.closing.is_some() {
                return Ok(());
            }
            let message = self.wire.ws.read();
            if !matches!(message, Ok(Message::Text(_))) {
                // What comes next is answered after the texts before it.
                self.on_texts(std::mem::take(texts));
            }
            match message {
                Ok(Message::Text(text)) => {
                    let read = (unix_nanos(), std::time::Instant::now());
                    self.wire.heard();
                    texts.push((text, read));
                }
                Err(error) if would_block(&error) => return Ok(()),
                Ok(Message::Binary(_)) => {
                    self.wire.heard();
                    self.send_error(None, RequestError::BinaryFrame);
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => self.wire.heard(),
                Ok(Message::Close(_)) => return Err(Close::Gone),
                Err(tungstenite::Error::Utf8(_)) => {
                    self.wire.heard();
                    self.send_error(None, RequestError::NotUtf8);
                }
                Err(tungstenite::Error::Capacity(error)) => {
                    return Err(Close::With(CloseCode::Size, format!("{error}")));
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Err(Close::Gone)
                }
                Err(error) => {
                    tracing::debug!(peer = %self.wire.peer, %error, "connection failed");
                    return Err(Close::Gone);
                }
            }
        }
        Ok(())
    }

    /// Parses `texts`, checks the signatures of the pushes among them
    /// together (on every core when there are [`PARALLEL_PUSHES`] or
    /// more: one connection pushing a burst is not bound to one core),
    /// then handles each request in order.
    fn on_texts(&mut self, texts: Vec<Frame>) {
        if texts.is_empty() {
            return;
        }
        let requests: Vec<_> = texts
            .iter()
            .map(|(text, read)| (self.parse_frame(text.as_str()), *read))
            .collect();
        let pushes: Vec<&RawTransaction> = requests
            .iter()
            .filter_map(|(request, _)| match request {
                Ok(Parsed {
                    command: Command::PushTransaction(Ok(raw)),
                    ..
                }) => Some(raw),
                _ => None,
            })
            .collect();
        let threads = if pushes.len() >= PARALLEL_PUSHES {
            cores()
        } else {
            1
        };
        let mut verified = VerifiedTransaction::from_raws(&pushes, threads).into_iter();
        for (request, read) in requests {
            if self.wire.closing.is_some() {
                return;
            }
            match request {
                Ok(request) => {
                    let push = matches!(request.command, Command::PushTransaction(Ok(_)))
                        .then(|| verified.next())
                        .flatten();
                    self.on_request(request, push, read);
                }
                Err(rejected) => self.send_error(rejected.id, rejected.error),
            }
        }
    }

    /// Queues an answer or notification; one larger than the connection
    /// may hold is replaced by a `limit_exceeded` answer naming its size.
    fn send_ok<T: Serialize>(&mut self, id: u64, result: &T) {
        self.send_answer(id, ok_answer(id, result));
    }

    /// Runs a read that may be large (a block, an account's whole list)
    /// and serialises its answer, telling the runtime that this worker
    /// blocks meanwhile (`block_in_place`), so the other connections it
    /// serves move to another thread instead of waiting. The read stays in
    /// its place in the connection's order, one at a time, as before.
    fn large_answer<T: Serialize>(
        &self,
        id: u64,
        read: impl FnOnce(&C::State) -> Result<T, RequestError>,
    ) -> Result<String, RequestError> {
        let run = || read(self.store()).map(|answer| ok_answer(id, &answer));
        let flavor = tokio::runtime::Handle::try_current().map(|runtime| runtime.runtime_flavor());
        match flavor {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
            _ => run(),
        }
    }

    /// Queues the text of an ok answer to `id` (see [`Self::send_ok`]).
    fn send_answer(&mut self, id: u64, text: String) {
        let limit = self.shared.config.max_outgoing_bytes;
        if text.len() > limit {
            let len = text.len();
            return self.send_error(Some(id), RequestError::AnswerTooLarge { len, limit });
        }
        let text = self.stamped(Some(id), text);
        self.wire.queue(Outgoing::text(text));
    }

    fn send_error(&mut self, id: Option<u64>, error: RequestError) {
        let text = error_answer(id, &error.to_api_error());
        let text = self.stamped(id, text);
        self.wire.queue(Outgoing::text(text));
    }

    /// `text` with `exData` if the request `id` asked for timings: a
    /// notification's stamp while a block is answered, else the request's.
    fn stamped(&self, id: Option<u64>, text: String) -> String {
        let Some(id) = id else {
            return text;
        };
        let stamp = match self.current {
            Some((current, stamp)) if current == id => Some(stamp),
            _ => self.timed.get(&id).map(|stamp| match self.notifying {
                Some(stored) => Stamp {
                    before_create: stored,
                    created: unix_nanos(),
                },
                None => *stamp,
            }),
        };
        match stamp {
            Some(stamp) => stamp.stamp(text),
            None => text,
        }
    }

    /// One text frame's request, or why it is refused.
    fn parse_frame(&self, text: &str) -> Result<Parsed, crate::protocol::Rejected> {
        let limit = self.shared.config.max_request_bytes;
        if text.len() > limit {
            let len = text.len();
            return Err(crate::protocol::Rejected {
                id: None,
                error: RequestError::RequestTooLarge { len, limit },
            });
        }
        parse(text)
    }

    /// Handles one request; `push` is the signature check of a push,
    /// already made with the others of its burst.
    fn on_request(
        &mut self,
        request: Parsed,
        push: Option<Result<VerifiedTransaction, ledger_core::CoreError>>,
        (read, started): (u64, std::time::Instant),
    ) {
        let Parsed {
            id,
            command,
            timings,
        } = request;
        let stamp = timings.then(|| Stamp::parsed(read));
        self.current = stamp.map(|stamp| (id, stamp));
        let outcome = if self.phase > Phase::Running {
            Err(RequestError::ShuttingDown)
        } else {
            self.session
                .check_id(id)
                .and_then(|()| self.execute(id, command, push, started))
        };
        let taken = outcome.is_ok();
        if let Err(error) = outcome {
            self.send_error(Some(id), error);
        }
        self.current = None;
        if let Some(stamp) = stamp {
            // Answers still to come (a subscription's, or a request's that
            // waits on the chain) carry the request's stamp too.
            if taken && self.session.holds(id) {
                self.timed.insert(id, stamp);
            }
        }
    }

    fn store(&self) -> &C::State {
        self.shared.chain.state()
    }

    fn execute(
        &mut self,
        id: u64,
        command: Command,
        push: Option<Result<VerifiedTransaction, ledger_core::CoreError>>,
        read: std::time::Instant,
    ) -> Result<(), RequestError> {
        let max_hashes = self.shared.config.max_account_hashes;
        match command {
            Command::LastBlockInfo => {
                let tip = handlers::tip(self.store())?;
                self.send_ok(id, &LastBlockInfo::from(tip));
            }
            Command::AccountInfo(address) => {
                let text = self.large_answer(id, |state| {
                    handlers::account_info(state, &address, None, max_hashes)
                })?;
                self.send_answer(id, text);
            }
            Command::AccountTransactions(page) => {
                let text =
                    self.large_answer(id, |state| handlers::account_transactions(state, page))?;
                self.send_answer(id, text);
            }
            Command::NodeInfo => {
                let info = handlers::node_info(self.store(), self.shared.chain.mode())?;
                self.send_ok(id, &info);
            }
            Command::Peers => {
                let peers = Peers {
                    peers: self
                        .shared
                        .chain
                        .peers()
                        .into_iter()
                        .map(WirePeer::from)
                        .collect(),
                };
                self.send_ok(id, &peers);
            }
            Command::RelayTransactions(raws) => {
                let chain = self.shared.chain.clone();
                self.wait_on_chain(
                    id,
                    Box::pin(async move {
                        let result = relay(&chain, raws).await;
                        Completion::Relay { id, result }
                    }),
                )?;
            }
            Command::StateSnapshot => {
                let chain = self.shared.chain.clone();
                let snapshots = self.shared.snapshots.clone();
                self.wait_on_chain(
                    id,
                    Box::pin(async move {
                        let result = snapshots.current(&chain).await;
                        Completion::Snapshot { id, result }
                    }),
                )?;
            }
            Command::StateSnapshotChunk { depth, index } => {
                let chunk = self.shared.snapshots.chunk(depth, index)?;
                self.send_ok(id, &chunk);
            }
            Command::FindBlock(by) => {
                let text = self.large_answer(id, |state| handlers::find_block(state, by))?;
                self.send_answer(id, text);
            }
            Command::FindTransaction(hash) => {
                let text =
                    self.large_answer(id, |state| handlers::find_transaction(state, hash))?;
                self.send_answer(id, text);
            }
            Command::FindTransactionStatus(hash) => {
                if let Some(status) = handlers::stored_status(self.store(), &hash)? {
                    self.send_ok(id, &status);
                } else {
                    self.wait_on_chain(id, {
                        let chain = self.shared.chain.clone();
                        Box::pin(async move {
                            let result = chain.is_pending(hash).await.map_err(RequestError::from);
                            Completion::Status { id, hash, result }
                        })
                    })?;
                }
            }
            Command::CallContractView(raw) => {
                let call = ViewCall::verify_raw(&raw)?;
                let chain = self.shared.chain.clone();
                self.wait_on_chain(
                    id,
                    Box::pin(async move {
                        let result = chain.view_call(call).await.map_err(RequestError::from);
                        Completion::View { id, result }
                    }),
                )?;
            }
            Command::EstimateFee(request) => {
                let chain = self.shared.chain.clone();
                let from = request.from;
                self.wait_on_chain(
                    id,
                    Box::pin(async move {
                        let result = chain.estimate_fee(*request).await;
                        Completion::Estimate {
                            id,
                            from,
                            result: result.map_err(RequestError::from),
                        }
                    }),
                )?;
            }
            Command::AccountCode(address) => {
                let text =
                    self.large_answer(id, |state| handlers::account_code(state, &address))?;
                self.send_answer(id, text);
            }
            Command::AccountStorage { address, slot } => {
                let value = handlers::account_storage(self.store(), &address, &slot)?;
                self.send_ok(id, &value);
            }
            Command::FindTransactionLogs(hash) => {
                let text =
                    self.large_answer(id, |state| handlers::find_transaction_logs(state, hash))?;
                self.send_answer(id, text);
            }
            Command::SubscribeLogs(filter) => {
                self.session
                    .may_follow_logs(&filter, self.max_subscriptions())?;
                let tip = handlers::tip(self.store())?;
                self.session.follow_logs(filter, id, tip.depth);
                self.send_ok(
                    id,
                    &FromBlock {
                        from_block: tip.depth,
                    },
                );
            }
            Command::UnsubscribeLogs(filter) => {
                let found = self.session.unfollow_logs(&filter);
                self.answer_unsubscribe(id, found);
            }
            Command::SubscribeBlocks => {
                self.session.may_follow_blocks(self.max_subscriptions())?;
                let tip = handlers::tip(self.store())?;
                self.session.follow_blocks(id, tip.depth);
                self.send_ok(id, &LastBlockInfo::from(tip));
            }
            Command::SubscribeAccount(address) => {
                self.session
                    .may_follow_account(&address, self.max_subscriptions())?;
                // The depth is read first: a block landing in between is
                // reported again rather than missed.
                let sent = handlers::tip(self.store())?.depth;
                let text = self.large_answer(id, |state| {
                    handlers::account_info(state, &address, None, max_hashes)
                })?;
                self.session.follow_account(address, id, sent);
                self.send_answer(id, text);
            }
            Command::PushTransaction(Err(error)) => {
                let status =
                    TransactionStatus::rejected(StatusCode::BadQueryForm, error.to_string());
                self.send_ok(id, &status);
                self.shared.metrics.admitted(read.elapsed());
            }
            Command::PushTransaction(Ok(raw)) => {
                let verified = push.unwrap_or_else(|| VerifiedTransaction::from_raw(&raw));
                let tx = match verified {
                    Ok(tx) => tx,
                    Err(error) => {
                        self.send_ok(id, &TransactionStatus::from_admission_error(&error));
                        self.shared.metrics.admitted(read.elapsed());
                        return Ok(());
                    }
                };
                let hash = tx.hash();
                self.session.may_push(&hash, self.max_subscriptions())?;
                let chain = self.shared.chain.clone();
                self.wait_on_chain(
                    id,
                    Box::pin(async move {
                        let result = chain.admit(tx).await.map_err(RequestError::from);
                        Completion::Admission {
                            id,
                            hash,
                            result,
                            read,
                        }
                    }),
                )?;
                self.session.admitting(hash);
            }
            Command::UnsubscribeBlocks => {
                let found = self.session.unfollow_blocks();
                self.answer_unsubscribe(id, found);
            }
            Command::UnsubscribeAccount(address) => {
                let found = self.session.unfollow_account(&address);
                self.answer_unsubscribe(id, found);
            }
            Command::UnsubscribePush(hash) => {
                let found = self.session.unpush(&hash);
                self.answer_unsubscribe(id, found);
            }
        }
        Ok(())
    }

    /// The seed's unsubscribe answer: "successful" or "error".
    fn answer_unsubscribe(&mut self, id: u64, found: bool) {
        self.send_ok(id, &if found { UNSUBSCRIBED } else { NOT_SUBSCRIBED });
    }

    fn max_subscriptions(&self) -> usize {
        self.shared.config.max_subscriptions
    }

    fn wait_on_chain(
        &mut self,
        id: u64,
        future: BoxFuture<'static, Completion>,
    ) -> Result<(), RequestError> {
        let limit = self.shared.config.max_in_flight;
        if self.in_flight.len() >= limit {
            return Err(RequestError::InFlightLimit { limit });
        }
        self.session.hold(id);
        self.in_flight.push(future);
        Ok(())
    }

    /// Handles the completions that are ready too: they come in bursts
    /// (the admissions of a burst of pushes), and answering them all
    /// before the next write sends them in a few writes instead of one
    /// each. (Polling without a waker here is safe: the loop's `select!`
    /// polls `in_flight` again with the task's own before it sleeps.)
    fn drain_completions(&mut self) {
        for _ in 0..COMPLETION_BATCH {
            match self.in_flight.next().now_or_never() {
                Some(Some(done)) => self.on_completion(done),
                _ => return,
            }
        }
    }

    fn on_completion(&mut self, done: Completion) {
        match done {
            Completion::Admission {
                id,
                hash,
                result,
                read,
            } => {
                self.session.release(id);
                let Admitted::Wanted { early } = self.session.admitted(&hash) else {
                    return; // cancelled meanwhile
                };
                // Counted as it is answered, whatever the answer.
                self.shared.metrics.admitted(read.elapsed());
                match result {
                    Ok(Admission::Admitted | Admission::AlreadyPending) => {
                        self.send_ok(id, &TransactionStatus::pending());
                        // Its block's event may have come first (the
                        // session kept the status), else it will come.
                        match early {
                            Some(status) => self.send_ok(id, &status),
                            None => self.session.await_final(hash, id),
                        }
                    }
                    Ok(Admission::AlreadyApplied(status) | Admission::Rejected(status)) => {
                        self.send_ok(id, &status);
                    }
                    Err(error) => self.send_error(Some(id), error),
                }
            }
            Completion::Relay { id, result } => {
                self.session.release(id);
                match result {
                    Ok(relayed) => self.send_ok(id, &relayed),
                    Err(error) => self.send_error(Some(id), error),
                }
            }
            Completion::Snapshot { id, result } => {
                self.session.release(id);
                match result {
                    Ok(info) => self.send_ok(id, &info),
                    Err(error) => self.send_error(Some(id), error),
                }
            }
            Completion::View { id, result } => {
                self.session.release(id);
                match result.and_then(handlers::view_answer) {
                    Ok(output) => self.send_ok(id, &output),
                    Err(error) => self.send_error(Some(id), error),
                }
            }
            Completion::Estimate { id, from, result } => {
                self.session.release(id);
                match result.and_then(|estimate| handlers::estimate_answer(from, estimate)) {
                    Ok(fee) => self.send_ok(id, &fee),
                    Err(error) => self.send_error(Some(id), error),
                }
            }
            Completion::Status { id, hash, result } => {
                self.session.release(id);
                let answer = result.and_then(|pending| {
                    if pending {
                        return Ok(Some(TransactionStatus::pending()));
                    }
                    // Applied between the first look and the service's answer?
                    handlers::stored_status(self.store(), &hash)
                });
                match answer {
                    Ok(Some(status)) => self.send_ok(id, &status),
                    Ok(None) => self.send_error(Some(id), RequestError::StatusNotFound { hash }),
                    Err(error) => self.send_error(Some(id), error),
                }
            }
        }
    }

    fn on_event(
        &mut self,
        event: Result<Arc<BlockEvent>, broadcast::error::RecvError>,
    ) -> Result<(), Close> {
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                return Err(Close::With(
                    CloseCode::Policy,
                    format!("too slow: {missed} block notifications behind"),
                ));
            }
            Err(broadcast::error::RecvError::Closed) => {
                self.events_open = false;
                return Ok(());
            }
        };
        let owed = self.session.owed(&event);
        self.notifying = Some(event.stored_at);
        if let Some((id, tip)) = owed.tip {
            self.send_ok(id, &LastBlockInfo::from(tip));
        }
        let max_hashes = self.shared.config.max_account_hashes;
        for (id, address, account) in owed.accounts {
            let answer = self.large_answer(id, |state| {
                handlers::account_info(state, &address, Some(account), max_hashes)
            });
            match answer {
                Ok(text) => self.send_answer(id, text),
                Err(error) => self.send_error(Some(id), error),
            }
        }
        for (id, status) in owed.statuses {
            self.send_ok(id, &status);
        }
        for (id, message) in owed.logs {
            self.send_ok(id, &message);
        }
        self.notifying = None;
        Ok(())
    }
}
