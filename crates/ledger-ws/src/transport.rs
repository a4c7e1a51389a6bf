//! The transport room: a socket that never blocks. The handshake is the
//! HTTP room's; the outgoing side of a connection is the outbox; what
//! travels is the connection's business.

use std::io::{self, Read, Write};

use tokio::net::TcpStream;

/// Bytes read from the socket at a time, and the read buffer's starting size.
pub(crate) const READ_BUFFER: usize = 8 << 10;

/// A socket whose `Read` and `Write` never block: they answer
/// `WouldBlock`, and the connection task awaits readiness.
pub(crate) struct NonBlocking(pub(crate) TcpStream);

impl Read for NonBlocking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for NonBlocking {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
