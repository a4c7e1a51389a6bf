//! The outgoing side of a connection: what the node owes a client, and how
//! it reaches the socket without ever spinning and without tungstenite's
//! write buffer growing with the largest answer.
//!
//! Messages wait here, counted by the memory they really hold. They are
//! handed to tungstenite a batch at a time ([`WRITE_BATCH`]); a message
//! larger than a fragment goes out as a fragmented text message
//! (RFC 6455 §5.4), so the library never holds more than a batch and one
//! fragment, whatever the size of the answer. Every error of the library
//! on write is returned to the caller, never retried unchanged.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::{Bytes, Message, WebSocket};

/// Most bytes handed to tungstenite before its buffer must drain to the
/// socket: many small answers leave in one write, a large one in pieces.
pub(crate) const WRITE_BATCH: usize = 64 << 10;

/// Largest frame of a fragmented message.
pub(crate) const FRAGMENT: usize = 64 << 10;

/// A message owed to the client, with the memory it holds.
#[derive(Debug)]
pub(crate) struct Outgoing {
    kind: Kind,
    held: usize,
    /// Whether `held` was taken from the node's budget.
    budgeted: bool,
}

#[derive(Debug)]
enum Kind {
    Text(Bytes),
    Ping,
}

impl Outgoing {
    /// A text message.
    ///
    /// `serde_json` grows its buffer by doubling, so a large answer can
    /// hold up to twice its length: such an answer is copied into a buffer
    /// of its exact size, so that the bounds on queued bytes bound memory.
    pub(crate) fn text(text: String) -> Outgoing {
        let slack = text.capacity() - text.len();
        if slack > 4096 {
            Outgoing {
                held: text.len(),
                kind: Kind::Text(Bytes::copy_from_slice(text.as_bytes())),
                budgeted: false,
            }
        } else {
            Outgoing {
                held: text.capacity(),
                kind: Kind::Text(Bytes::from(text)),
                budgeted: false,
            }
        }
    }

    /// A ping.
    pub(crate) fn ping() -> Outgoing {
        Outgoing {
            kind: Kind::Ping,
            held: 0,
            budgeted: false,
        }
    }

    /// The memory it holds.
    pub(crate) fn held(&self) -> usize {
        self.held
    }
}

/// What [`Outbox::pump`] achieved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pumped {
    /// Everything owed is on the socket.
    Written,
    /// The socket is full; wait until it is writable and pump again.
    Blocked,
}

/// The bytes every connection's outbox holds together, and their limit:
/// the per-connection bounds times the connection limit is far more than
/// a node has.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes, none used.
    pub(crate) fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            limit,
        })
    }

    /// Takes `bytes` if they fit.
    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes held by every outbox now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

/// Why [`Outbox::try_push`] refused a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// This connection's bound in messages or bytes.
    Connection,
    /// The node's budget for all connections.
    Node,
}

/// Messages waiting for the socket, bounded in number and in bytes, and
/// counted against the node's budget.
#[derive(Debug)]
pub(crate) struct Outbox {
    max_messages: usize,
    max_bytes: usize,
    budget: Arc<Budget>,
    queue: VecDeque<Outgoing>,
    /// Memory held by the queued messages, the one partly handed over included.
    bytes: usize,
    /// How much of the front message has been handed over as fragments.
    front_sent: usize,
    /// Bytes handed to tungstenite since its buffer was last flushed.
    handed: usize,
}

impl Outbox {
    /// An empty outbox that holds at most `max_messages` messages and
    /// `max_bytes` bytes, within what `budget` has left.
    pub(crate) fn new(max_messages: usize, max_bytes: usize, budget: Arc<Budget>) -> Outbox {
        Outbox {
            max_messages,
            max_bytes,
            budget,
            queue: VecDeque::new(),
            bytes: 0,
            front_sent: 0,
            handed: 0,
        }
    }

    /// Queues `message`, or hands it back with the bound it would pass.
    ///
    /// With the node's budget spent, a message may still be queued if it
    /// is the only one waiting and at most a batch: it goes straight into
    /// tungstenite's bounded buffer at the next pump, so a client that
    /// keeps up is not closed for the memory slow ones hold.
    pub(crate) fn try_push(&mut self, mut message: Outgoing) -> Result<(), (Outgoing, Full)> {
        if self.queue.len() >= self.max_messages || self.bytes + message.held > self.max_bytes {
            return Err((message, Full::Connection));
        }
        message.budgeted = self.budget.take(message.held);
        let straight_out = self.queue.is_empty() && message.held <= WRITE_BATCH;
        if !message.budgeted && !straight_out {
            return Err((message, Full::Node));
        }
        self.bytes += message.held;
        self.queue.push_back(message);
        Ok(())
    }

    /// Messages waiting, the one partly handed over included.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Memory held by the waiting messages.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops every waiting message that has not begun to leave. A message
    /// already partly handed over is finished, so the stream stays valid.
    pub(crate) fn drop_unsent(&mut self) {
        let keep = usize::from(self.front_sent > 0).min(self.queue.len());
        let dropped: Vec<Outgoing> = self.queue.drain(keep..).collect();
        for message in &dropped {
            self.release(message);
        }
    }

    /// The next frame to hand over, taken from the front message.
    fn next_frame(&mut self) -> Option<Message> {
        let front = self.queue.front()?;
        let (message, done) = match &front.kind {
            Kind::Ping => (Message::Ping(Bytes::new()), true),
            Kind::Text(text) if self.front_sent == 0 && text.len() <= FRAGMENT => {
                let frame = Frame::message(text.clone(), OpCode::Data(Data::Text), true);
                (Message::Frame(frame), true)
            }
            Kind::Text(text) => {
                let start = self.front_sent;
                let end = text.len().min(start + FRAGMENT);
                let opcode = if start == 0 {
                    Data::Text
                } else {
                    Data::Continue
                };
                let last = end == text.len();
                let frame = Frame::message(text.slice(start..end), OpCode::Data(opcode), last);
                self.front_sent = end;
                (Message::Frame(frame), last)
            }
        };
        if done {
            if let Some(sent) = self.queue.pop_front() {
                self.release(&sent);
            }
            self.front_sent = 0;
        }
        Some(message)
    }

    /// Forgets the memory of a message that has left the queue.
    fn release(&mut self, message: &Outgoing) {
        self.bytes -= message.held;
        if message.budgeted {
            self.budget.give_back(message.held);
        }
    }

    /// Hands what is owed to `ws` and the socket under it until everything
    /// is written or the socket is full. Never loops without progress: each
    /// round either hands over a frame, writes to the socket, or returns.
    pub(crate) fn pump<S: Read + Write>(
        &mut self,
        ws: &mut WebSocket<S>,
    ) -> Result<Pumped, tungstenite::Error> {
        loop {
            while self.handed < WRITE_BATCH {
                let Some(message) = self.next_frame() else {
                    break;
                };
                self.handed += message.len();
                match ws.write(message) {
                    Ok(()) => {}
                    // The frame is in tungstenite's buffer; the socket is full.
                    Err(error) if would_block(&error) => {}
                    Err(error) => return Err(error),
                }
            }
            match ws.flush() {
                Ok(()) => {
                    self.handed = 0;
                    if self.queue.is_empty() {
                        return Ok(Pumped::Written);
                    }
                }
                Err(error) if would_block(&error) => return Ok(Pumped::Blocked),
                Err(error) => return Err(error),
            }
        }
    }

    /// Bytes of the front message handed over so far (for tests).
    #[cfg(test)]
    fn front_sent(&self) -> usize {
        self.front_sent
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        for message in std::mem::take(&mut self.queue) {
            self.release(&message);
        }
    }
}

/// Whether a tungstenite error only says the socket is not ready.
pub(crate) fn would_block(error: &tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::{Role, WebSocketConfig};

    /// A socket that takes at most `room` bytes before answering
    /// `WouldBlock`, like a full kernel buffer, and records what it took.
    #[derive(Default)]
    struct Socket {
        written: Vec<u8>,
        room: usize,
        writes: usize,
    }

    impl Read for Socket {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    impl Write for Socket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn server(room: usize) -> WebSocket<Socket> {
        let config = WebSocketConfig::default().write_buffer_size(WRITE_BATCH);
        WebSocket::from_raw_socket(
            Socket {
                room,
                ..Socket::default()
            },
            Role::Server,
            Some(config),
        )
    }

    /// What a client reads: the server's bytes; what it writes (pongs) is dropped.
    struct Replay(io::Cursor<Vec<u8>>);

    impl Read for Replay {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Replay {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Reads back every message the server wrote, as a client would.
    fn received(written: &[u8]) -> Vec<String> {
        let replay = Replay(io::Cursor::new(written.to_vec()));
        let mut client = WebSocket::from_raw_socket(replay, Role::Client, None);
        let mut messages = Vec::new();
        loop {
            match client.read() {
                Ok(Message::Text(text)) => messages.push(text.as_str().to_owned()),
                Ok(Message::Ping(_)) => messages.push("<ping>".into()),
                Ok(other) => panic!("unexpected {other:?}"),
                Err(error) => {
                    let read = client.get_ref().0.position();
                    assert_eq!(read, written.len() as u64, "{error}");
                    return messages;
                }
            }
        }
    }

    fn text(len: usize) -> String {
        (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect()
    }

    fn unbounded() -> Outbox {
        Outbox::new(usize::MAX, usize::MAX, Budget::new(usize::MAX))
    }

    fn push(outbox: &mut Outbox, message: Outgoing) {
        outbox.try_push(message).expect("fits");
    }

    #[test]
    fn an_answer_far_larger_than_a_batch_arrives_whole_and_in_order() {
        let mut ws = server(usize::MAX);
        let mut outbox = unbounded();
        let big = text(3_000_000);
        push(&mut outbox, Outgoing::text("before".into()));
        push(&mut outbox, Outgoing::text(big.clone()));
        push(&mut outbox, Outgoing::ping());
        push(&mut outbox, Outgoing::text("after".into()));
        assert!(matches!(outbox.pump(&mut ws), Ok(Pumped::Written)));
        assert_eq!((outbox.len(), outbox.bytes()), (0, 0));
        assert_eq!(
            received(&ws.get_ref().written),
            ["before", &big, "<ping>", "after"]
        );
    }

    #[test]
    fn a_full_socket_blocks_the_pump_instead_of_spinning() {
        let mut ws = server(0);
        let mut outbox = unbounded();
        let big = text(1_000_000);
        push(&mut outbox, Outgoing::text(big.clone()));
        // The socket takes nothing: the pump hands over one batch, tries
        // the socket a bounded number of times and says it is blocked.
        assert!(matches!(outbox.pump(&mut ws), Ok(Pumped::Blocked)));
        assert!(ws.get_ref().writes <= 2, "{} writes", ws.get_ref().writes);
        let handed = outbox.front_sent();
        assert!(
            (WRITE_BATCH..=WRITE_BATCH + FRAGMENT).contains(&handed),
            "{handed}"
        );
        // Still full: nothing more is handed over, tungstenite's buffer
        // stays bounded.
        assert!(matches!(outbox.pump(&mut ws), Ok(Pumped::Blocked)));
        assert_eq!(outbox.front_sent(), handed);
        // Room a little at a time: every pump makes progress and the
        // answer arrives whole.
        let mut rounds = 0;
        loop {
            ws.get_mut().room = 10_000;
            rounds += 1;
            if matches!(outbox.pump(&mut ws), Ok(Pumped::Written)) {
                break;
            }
            assert!(rounds < 200, "no progress");
        }
        assert_eq!(received(&ws.get_ref().written), [big]);
    }

    #[test]
    fn a_write_error_is_returned_not_retried() {
        let mut ws = server(usize::MAX);
        ws.close(None).expect("close queued");
        let mut outbox = unbounded();
        push(&mut outbox, Outgoing::text("too late".into()));
        assert!(outbox.pump(&mut ws).is_err());
    }

    #[test]
    fn queued_bytes_count_the_memory_held() {
        // Built by doubling, as serde_json does: far more capacity than length.
        let mut doubled = String::with_capacity(4 << 20);
        doubled.push_str(&text(2_100_000));
        assert_eq!(Outgoing::text(doubled).held(), 2_100_000);
        let small = String::with_capacity(128) + "ok";
        assert_eq!(Outgoing::text(small).held(), 128);
    }

    /// A text message holding exactly `len` bytes.
    fn exact(len: usize) -> Outgoing {
        Outgoing::text(text(len).into_boxed_str().into_string())
    }

    #[test]
    fn the_bounds_hold_for_messages_and_bytes() {
        let mut outbox = Outbox::new(3, 1_000, Budget::new(usize::MAX));
        assert!(outbox.try_push(exact(600)).is_ok());
        let (refused, full) = outbox
            .try_push(exact(401))
            .expect_err("over the byte bound");
        assert_eq!((refused.held(), full), (401, Full::Connection));
        assert!(outbox.try_push(exact(400)).is_ok());
        assert_eq!(outbox.bytes(), 1_000);
        assert!(outbox.try_push(Outgoing::ping()).is_ok());
        let (_, full) = outbox
            .try_push(Outgoing::ping())
            .expect_err("over the message bound");
        assert_eq!(full, Full::Connection);
        assert_eq!(outbox.len(), 3);
    }

    #[test]
    fn the_node_budget_holds_across_outboxes_and_comes_back() {
        let budget = Budget::new(1_000);
        let mut first = Outbox::new(100, 800, budget.clone());
        let mut second = Outbox::new(100, 800, budget.clone());
        assert!(first.try_push(exact(700)).is_ok());
        assert!(second.try_push(exact(300)).is_ok());
        assert_eq!(budget.used(), 1_000);
        let (_, full) = second
            .try_push(exact(100))
            .expect_err("over the node's budget");
        assert_eq!(full, Full::Node);
        // Written out, dropped unsent, or gone with its connection: the
        // bytes come back.
        let mut ws = server(usize::MAX);
        assert!(matches!(first.pump(&mut ws), Ok(Pumped::Written)));
        assert_eq!(budget.used(), 300);
        assert!(first.try_push(exact(500)).is_ok());
        first.drop_unsent();
        assert_eq!(budget.used(), 300);
        drop(second);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn with_the_budget_spent_a_client_that_keeps_up_is_still_served() {
        let budget = Budget::new(1_000);
        let mut slow = Outbox::new(100, 10_000, budget.clone());
        assert!(slow.try_push(exact(1_000)).is_ok());
        let mut fast = Outbox::new(100, 1 << 20, budget.clone());
        // Nothing waiting and small: it may go straight to the socket.
        assert!(fast.try_push(exact(500)).is_ok());
        let (_, full) = fast
            .try_push(exact(500))
            .expect_err("a queue, over the budget");
        assert_eq!(full, Full::Node);
        let mut ws = server(usize::MAX);
        assert!(matches!(fast.pump(&mut ws), Ok(Pumped::Written)));
        assert_eq!(budget.used(), 1_000, "unbudgeted bytes are not given back");
        // Too large to go straight out: refused.
        let (_, full) = fast.try_push(exact(WRITE_BATCH + 1)).expect_err("large");
        assert_eq!(full, Full::Node);
    }

    #[test]
    fn dropping_unsent_messages_finishes_the_one_under_way() {
        let mut ws = server(0);
        let mut outbox = unbounded();
        push(&mut outbox, Outgoing::text(text(500_000)));
        push(&mut outbox, Outgoing::text("dropped".into()));
        assert!(matches!(outbox.pump(&mut ws), Ok(Pumped::Blocked)));
        outbox.drop_unsent();
        assert_eq!(outbox.len(), 1);
        ws.get_mut().room = usize::MAX;
        assert!(matches!(outbox.pump(&mut ws), Ok(Pumped::Written)));
        assert_eq!(received(&ws.get_ref().written), [text(500_000)]);
    }
}
