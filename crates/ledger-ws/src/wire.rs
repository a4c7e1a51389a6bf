//! The wire room: one WebSocket and what every kind of connection does
//! with it alike. The outgoing queue with its bounds (a client that does
//! not read is closed with 1008), keep-alive pings, and an orderly close
//! that still delivers what is owed. The v1 API and the event stream
//! differ in what they read and send, not in this.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::WebSocket;

use crate::outbox::{would_block, Budget, Full, Outbox, Outgoing, Pumped};
use crate::transport::NonBlocking;

/// Why a connection ends.
pub(crate) enum Close {
    /// Closed by the peer or the socket failed: nothing more to say.
    Gone,
    /// We close, with this code and reason.
    With(CloseCode, String),
}

/// Most frames read in one go before a connection looks at its other
/// duties, so a client that floods frames cannot keep it from them.
pub(crate) const READ_BATCH: usize = 64;

/// How long a closing connection may take to deliver what it owes and its
/// close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Keep-alive timing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeepAlive {
    /// Quiet time after which the server pings.
    pub(crate) ping_interval: Duration,
    /// How long a pinged connection may stay silent.
    pub(crate) pong_timeout: Duration,
}

impl KeepAlive {
    /// How often the timers are looked at.
    pub(crate) fn tick(&self) -> Duration {
        self.ping_interval.min(self.pong_timeout) / 4
    }
}

/// A WebSocket, its outgoing queue and its keep-alive state.
pub(crate) struct Wire {
    pub(crate) ws: WebSocket<NonBlocking>,
    pub(crate) peer: SocketAddr,
    out: Outbox,
    budget: Arc<Budget>,
    /// Whether the socket refused a write: wait until it is writable.
    pub(crate) write_blocked: bool,
    /// Set when sending found the connection must close.
    pub(crate) closing: Option<Close>,
    keep_alive: KeepAlive,
    /// On tokio's clock, so tests can run the ping timers on paused time.
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

impl Wire {
    /// A wire holding at most `max_messages` messages and `max_bytes`
    /// bytes for its client, within the node's `budget`.
    pub(crate) fn new(
        ws: WebSocket<NonBlocking>,
        peer: SocketAddr,
        (max_messages, max_bytes): (usize, usize),
        budget: Arc<Budget>,
        keep_alive: KeepAlive,
    ) -> Wire {
        Wire {
            ws,
            peer,
            out: Outbox::new(max_messages, max_bytes, budget.clone()),
            budget,
            write_blocked: false,
            closing: None,
            keep_alive,
            last_heard: Instant::now(),
            ping_sent: None,
        }
    }

    /// The client said something: it is alive.
    pub(crate) fn heard(&mut self) {
        self.last_heard = Instant::now();
        self.ping_sent = None;
    }

    /// Hands queued messages to the socket.
    pub(crate) fn write_queued(&mut self) -> Result<(), Close> {
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

    /// Queues `message`. What the socket takes at once does not count
    /// against the outgoing bounds; a client whose queue would still pass
    /// them is too slow, and the connection closes (1008) instead.
    pub(crate) fn queue(&mut self, message: Outgoing) {
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
                    self.budget.used(),
                    self.budget.limit()
                ),
            };
            self.closing = Some(Close::With(CloseCode::Policy, reason));
        }
    }

    /// Pings a quiet client; closes one that did not answer a ping in time.
    pub(crate) fn on_tick(&mut self) -> Result<(), Close> {
        let KeepAlive {
            ping_interval,
            pong_timeout,
        } = self.keep_alive;
        let now = Instant::now();
        match self.ping_sent {
            Some(sent) if now.duration_since(sent) >= pong_timeout => {
                return Err(Close::With(
                    CloseCode::Away,
                    format!("no answer to a ping for {} ms", pong_timeout.as_millis()),
                ));
            }
            Some(_) => {}
            None if now.duration_since(self.last_heard) >= ping_interval => {
                self.ping_sent = Some(now);
                self.queue(Outgoing::ping());
            }
            None => {}
        }
        Ok(())
    }

    /// Ends the connection: for a close of ours, what is owed goes first
    /// (unless the client was too slow), then the close frame, then what
    /// the client still sends is read until it answers. Bounded in time.
    pub(crate) async fn close(mut self, close: Close) {
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
        // under a peer that is still reading. Once the WebSocket layer can
        // make nothing of what follows (the rest of a message too large
        // to read, whose continuation frames belong to no message), the
        // bytes are discarded as they come, until the peer stops sending.
        let mut frames_readable = true;
        let mut discard = [0u8; crate::transport::READ_BUFFER];
        loop {
            let flushed = match self.ws.flush() {
                Ok(()) => true,
                Err(error) if would_block(&error) => false,
                Err(_) => return,
            };
            if frames_readable {
                match self.ws.read() {
                    Ok(_) => continue,
                    Err(error) if would_block(&error) => {}
                    Err(
                        tungstenite::Error::ConnectionClosed
                        | tungstenite::Error::AlreadyClosed
                        | tungstenite::Error::Io(_),
                    ) => return,
                    Err(_) => frames_readable = false,
                }
            }
            if !frames_readable {
                match self.ws.get_mut().0.try_read(&mut discard) {
                    Ok(0) => return,
                    Ok(_) => continue,
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
            let socket = &self.ws.get_ref().0;
            tokio::select! {
                _ = socket.readable() => {}
                _ = socket.writable(), if !flushed => {}
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }
}
