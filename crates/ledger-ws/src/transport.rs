//! The transport room: a socket that never blocks, and the WebSocket
//! handshake with the router in front of it. The outgoing side of a
//! connection is the outbox; what travels is the connection's business.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::handshake::HandshakeError;
use tungstenite::http::StatusCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::WebSocket;

use crate::error::WsError;
use crate::outbox::WRITE_BATCH;
use crate::router::{route, Route};
use crate::server::ServerConfig;

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

pub(crate) async fn handshake(
    socket: TcpStream,
    config: &ServerConfig,
) -> Result<WebSocket<NonBlocking>, WsError> {
    socket.set_nodelay(true)?;
    // The read buffer starts small and grows only for a large frame (an
    // idle connection should cost little); writes are batched and
    // fragmented by the outbox, which bounds the write buffer itself.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BATCH)
        .max_message_size(Some(config.max_message_bytes))
        .max_frame_size(Some(config.max_message_bytes));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempt = tungstenite::accept_hdr_with_config(
        NonBlocking(socket),
        route_or_refuse as fn(&Request, Response) -> Result<Response, ErrorResponse>,
        Some(ws_config),
    );
    loop {
        match attempt {
            Ok(ws) => return Ok(ws),
            Err(HandshakeError::Failure(error)) => return Err(error.into()),
            Err(HandshakeError::Interrupted(mid)) => {
                if Instant::now() > deadline {
                    return Err(WsError::Io(io::ErrorKind::TimedOut.into()));
                }
                // The handshake reads a request, then writes a short
                // answer; wait for input, and retry now and then in case
                // it was the write that blocked.
                let _ = tokio::time::timeout(
                    Duration::from_millis(20),
                    mid.get_ref().get_ref().0.readable(),
                )
                .await;
                attempt = mid.handshake();
            }
        }
    }
}

/// Lets a WebSocket upgrade through when its path has a route, and answers
/// 404 naming the path otherwise.
// The signature is tungstenite's handshake callback's; its error is an
// HTTP response, large by nature and built once per refused handshake.
#[allow(clippy::result_large_err)]
fn route_or_refuse(request: &Request, response: Response) -> Result<Response, ErrorResponse> {
    let path = request.uri().path();
    match route(path) {
        Some(Route::V1) => Ok(response),
        None => {
            let mut refusal = ErrorResponse::new(Some(format!(
                "no WebSocket API at {path}; the likelib v1 API is at /"
            )));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        }
    }
}
