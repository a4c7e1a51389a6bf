//! The WebSocket server: one task per connection, each with its own
//! subscriptions, limits and bounded outgoing queue.
//!
//! Each connection drives a `tungstenite::WebSocket` over a non-blocking
//! socket itself (reading when the socket is readable, writing when it is
//! writable). `tokio-tungstenite`'s stream ends at the first error of any
//! kind, but ws-api-v1.md wants a text frame of invalid UTF-8 answered with
//! `invalid_json` and the connection kept; driving tungstenite directly
//! gives that, and puts the outgoing queue and its bound in our hands.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use ledger_chain::{BlockEvent, Chain};
use ledger_core::{
    Admission, Hash, StateRead, StatusCode, TransactionStatus, VerifiedTransaction, ViewCall,
    ViewOutcome,
};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::{Message, WebSocket};

use crate::handlers;
use crate::outbox::{would_block, Budget, Full, Outbox, Outgoing, Pumped};
use crate::protocol::{
    error_answer, ok_answer, parse_request, Command, FromBlock, LastBlockInfo, NOT_SUBSCRIBED,
    UNSUBSCRIBED,
};
use crate::request_error::RequestError;
use crate::session::Session;
use crate::transport::{handshake, NonBlocking};

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
        let events = chain.subscribe();
        let connection = Shared {
            chain: chain.clone(),
            config,
            budget: budget.clone(),
        };
        let phase = phase.clone();
        connections.spawn(async move {
            match handshake(socket, &config).await {
                Ok(ws) => {
                    Connection::new(ws, peer, connection)
                        .run(events, phase)
                        .await
                }
                Err(error) => tracing::debug!(%peer, %error, "handshake failed"),
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

struct Shared<C> {
    chain: C,
    config: ServerConfig,
    budget: Arc<Budget>,
}

/// What woke a connection up.
enum Wake {
    Socket,
    Event(Result<Arc<BlockEvent>, broadcast::error::RecvError>),
    Done(Completion),
    Tick,
    Phase(Phase),
}

/// A request that waited on the chain service.
enum Completion {
    Admission {
        id: u64,
        hash: Hash,
        result: Result<Admission, RequestError>,
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
}

/// Why a connection ends.
enum Close {
    /// Closed by the peer or the socket failed: nothing more to say.
    Gone,
    /// We close, with this code and reason.
    With(CloseCode, String),
}

struct Connection<C> {
    ws: WebSocket<NonBlocking>,
    peer: SocketAddr,
    shared: Shared<C>,
    out: Outbox,
    write_blocked: bool,
    session: Session,
    in_flight: FuturesUnordered<BoxFuture<'static, Completion>>,
    /// On tokio's clock, so tests can run the ping timers on paused time.
    last_heard: Instant,
    ping_sent: Option<Instant>,
    events_open: bool,
    phase: Phase,
    /// Set when answering found the connection must close.
    closing: Option<Close>,
}

/// Most frames handled in one go before the connection looks at its other duties.
const READ_BATCH: usize = 64;

/// How long a closing connection may take to deliver what it owes and its
/// close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

impl<C: Chain> Connection<C> {
    fn new(ws: WebSocket<NonBlocking>, peer: SocketAddr, shared: Shared<C>) -> Self {
        tracing::debug!(%peer, "connected");
        let config = shared.config;
        let out = Outbox::new(
            config.max_outgoing,
            config.max_outgoing_bytes,
            shared.budget.clone(),
        );
        Connection {
            ws,
            peer,
            shared,
            out,
            write_blocked: false,
            session: Session::default(),
            in_flight: FuturesUnordered::new(),
            last_heard: Instant::now(),
            ping_sent: None,
            events_open: true,
            phase: Phase::Running,
            closing: None,
        }
    }

    async fn run(
        mut self,
        mut events: broadcast::Receiver<Arc<BlockEvent>>,
        mut phase: watch::Receiver<Phase>,
    ) {
        let config = self.shared.config;
        let mut ticker = tokio::time::interval(config.ping_interval.min(config.pong_timeout) / 4);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let close = loop {
            if let Err(close) = self.read_available() {
                break close;
            }
            // A queue over its bounds, or a failed write, while answering.
            if let Some(close) = self.closing.take() {
                break close;
            }
            if let Err(close) = self.write_queued() {
                break close;
            }
            let wake = tokio::select! {
                ready = self.ws.get_ref().0.readable() => match ready {
                    Ok(()) => Wake::Socket,
                    Err(_) => break Close::Gone,
                },
                ready = self.ws.get_ref().0.writable(), if self.write_blocked => match ready {
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
                    Ok(())
                }
                Wake::Tick => self.on_tick(),
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
        self.close(close).await;
    }

    fn heard(&mut self) {
        self.last_heard = Instant::now();
        self.ping_sent = None;
    }

    fn read_available(&mut self) -> Result<(), Close> {
        for _ in 0..READ_BATCH {
            if self.closing.is_some() {
                return Ok(());
            }
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    self.heard();
                    self.on_text(text.as_str());
                }
                Ok(Message::Binary(_)) => {
                    self.heard();
                    self.send_error(None, RequestError::BinaryFrame);
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => self.heard(),
                Ok(Message::Close(_)) => return Err(Close::Gone),
                Err(error) if would_block(&error) => return Ok(()),
                Err(tungstenite::Error::Utf8(_)) => {
                    self.heard();
                    self.send_error(None, RequestError::NotUtf8);
                }
                Err(tungstenite::Error::Capacity(error)) => {
                    return Err(Close::With(CloseCode::Size, format!("{error}")));
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Err(Close::Gone)
                }
                Err(error) => {
                    tracing::debug!(peer = %self.peer, %error, "connection failed");
                    return Err(Close::Gone);
                }
            }
        }
        Ok(())
    }

    /// Hands queued messages to the socket.
    fn write_queued(&mut self) -> Result<(), Close> {
        self.write_blocked = self.pump()? == Pumped::Blocked;
        Ok(())
    }

    /// [`Outbox::pump`], with a failed write ending the connection.
    fn pump(&mut self) -> Result<Pumped, Close> {
        self.out.pump(&mut self.ws).map_err(|error| {
            tracing::debug!(peer = %self.peer, %error, "write failed");
            Close::Gone
        })
    }

    async fn close(mut self, close: Close) {
        let Close::With(code, reason) = close else {
            // Send the reply to a peer's close frame, if it still fits.
            let _ = self.ws.flush();
            tracing::debug!(peer = %self.peer, "disconnected");
            return;
        };
        if matches!(code, CloseCode::Policy | CloseCode::Size) {
            // The client broke a bound: worth an operator's attention.
            tracing::warn!(peer = %self.peer, code = u16::from(code), %reason, "closing connection");
        } else {
            tracing::info!(peer = %self.peer, code = u16::from(code), %reason, "closing connection");
        }
        let deadline = Instant::now() + CLOSE_GRACE;
        if code == CloseCode::Policy {
            // A slow reader's queue is dropped; what was already handed to
            // the socket goes first, then the close frame.
            self.out.drop_unsent();
        }
        // Anything else (shutdown, silence) still delivers what is owed,
        // such as the final statuses of the last blocks, before the close.
        loop {
            let blocked = match self.pump() {
                Ok(Pumped::Written) => break,
                Ok(Pumped::Blocked) => true,
                Err(_) => return,
            };
            let socket = &self.ws.get_ref().0;
            tokio::select! {
                _ = socket.writable(), if blocked => {}
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        match self.ws.close(Some(frame)) {
            Ok(()) => {}
            Err(error) if would_block(&error) => {} // queued; flushed below
            Err(_) => return,
        }
        // Send the close frame, and read (discarding) what the peer still
        // sends until it answers the close, so the socket is not reset
        // under a peer that is still reading. Bounded in time.
        loop {
            let flushed = match self.ws.flush() {
                Ok(()) => true,
                Err(error) if would_block(&error) => false,
                Err(_) => return,
            };
            match self.ws.read() {
                Ok(_) => continue,
                Err(error) if would_block(&error) => {}
                Err(_) => return,
            }
            let socket = &self.ws.get_ref().0;
            tokio::select! {
                _ = socket.readable() => {}
                _ = socket.writable(), if !flushed => {}
                _ = tokio::time::sleep_until(deadline) => return,
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
        self.queue(Outgoing::text(text));
    }

    /// Queues `message`. What the socket takes at once does not count
    /// against the outgoing bounds; a client whose queue would still pass
    /// them is too slow, and the connection closes (1008) instead.
    fn queue(&mut self, message: Outgoing) {
        if self.closing.is_some() {
            return;
        }
        let Err((message, _)) = self.out.try_push(message) else {
            return;
        };
        match self.pump() {
            Ok(pumped) => self.write_blocked = pumped == Pumped::Blocked,
            Err(close) => {
                self.closing = Some(close);
                return;
            }
        }
        if let Err((message, full)) = self.out.try_push(message) {
            let reason = match full {
                Full::Connection => format!(
                    "too slow: {} messages ({} bytes) waiting to be read, more than allowed",
                    self.out.len() + 1,
                    self.out.bytes() + message.held()
                ),
                Full::Node => format!(
                    "too slow: clients that do not read hold {} bytes of answers, \
                     the most this node keeps for all of them is {}",
                    self.shared.budget.used(),
                    self.shared.budget.limit()
                ),
            };
            self.closing = Some(Close::With(CloseCode::Policy, reason));
        }
    }

    fn send_error(&mut self, id: Option<u64>, error: RequestError) {
        self.queue(Outgoing::text(error_answer(id, &error.to_api_error())));
    }

    fn on_text(&mut self, text: &str) {
        let limit = self.shared.config.max_request_bytes;
        if text.len() > limit {
            let len = text.len();
            return self.send_error(None, RequestError::RequestTooLarge { len, limit });
        }
        match parse_request(text) {
            Ok((id, _)) if self.phase > Phase::Running => {
                self.send_error(Some(id), RequestError::ShuttingDown);
            }
            Ok((id, command)) => {
                if let Err(error) = self
                    .session
                    .check_id(id)
                    .and_then(|()| self.execute(id, command))
                {
                    self.send_error(Some(id), error);
                }
            }
            Err(rejected) => self.send_error(rejected.id, rejected.error),
        }
    }

    fn store(&self) -> &C::State {
        self.shared.chain.state()
    }

    fn execute(&mut self, id: u64, command: Command) -> Result<(), RequestError> {
        match command {
            Command::LastBlockInfo => {
                let tip = handlers::tip(self.store())?;
                self.send_ok(id, &LastBlockInfo::from(tip));
            }
            Command::AccountInfo(address) => {
                let text =
                    self.large_answer(id, |state| handlers::account_info(state, &address, None))?;
                self.send_answer(id, text);
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
                let text =
                    self.large_answer(id, |state| handlers::account_info(state, &address, None))?;
                self.session.follow_account(address, id, sent);
                self.send_answer(id, text);
            }
            Command::PushTransaction(Err(error)) => {
                let status =
                    TransactionStatus::rejected(StatusCode::BadQueryForm, error.to_string());
                self.send_ok(id, &status);
            }
            Command::PushTransaction(Ok(raw)) => {
                let tx = match VerifiedTransaction::from_raw(&raw) {
                    Ok(tx) => tx,
                    Err(error) => {
                        self.send_ok(id, &TransactionStatus::from_admission_error(&error));
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
                        Completion::Admission { id, hash, result }
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

    fn on_completion(&mut self, done: Completion) {
        match done {
            Completion::Admission { id, hash, result } => {
                self.session.release(id);
                if !self.session.admitted(&hash) {
                    return; // cancelled meanwhile
                }
                match result {
                    Ok(Admission::Admitted | Admission::AlreadyPending) => {
                        self.send_ok(id, &TransactionStatus::pending());
                        // Its block may already be stored (and its event
                        // handled): then the final status comes from the
                        // store, else from the event. Never both, never none.
                        match self.store().transaction(&hash) {
                            Ok(Some(record)) => self.send_ok(id, &record.status),
                            Ok(None) => {
                                if let Some(status) = self.session.await_final(hash, id) {
                                    self.send_ok(id, &status);
                                }
                            }
                            Err(error) => self.send_error(Some(id), error.into()),
                        }
                    }
                    Ok(Admission::AlreadyApplied(status) | Admission::Rejected(status)) => {
                        self.send_ok(id, &status);
                    }
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
        if let Some((id, tip)) = owed.tip {
            self.send_ok(id, &LastBlockInfo::from(tip));
        }
        for (id, address, account) in owed.accounts {
            let answer = self.large_answer(id, |state| {
                handlers::account_info(state, &address, Some(account))
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
        Ok(())
    }

    fn on_tick(&mut self) -> Result<(), Close> {
        let config = self.shared.config;
        let now = Instant::now();
        match self.ping_sent {
            Some(sent) if now.duration_since(sent) >= config.pong_timeout => {
                return Err(Close::With(
                    CloseCode::Away,
                    format!(
                        "no answer to a ping for {} ms",
                        config.pong_timeout.as_millis()
                    ),
                ));
            }
            Some(_) => {}
            None if now.duration_since(self.last_heard) >= config.ping_interval => {
                self.ping_sent = Some(now);
                self.queue(Outgoing::ping());
            }
            None => {}
        }
        Ok(())
    }
}
