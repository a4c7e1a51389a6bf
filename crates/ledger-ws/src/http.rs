//! The HTTP room: every connection starts as HTTP/1.1, served by hyper.
//! Plain requests are answered here (`GET /api/v1/`, `GET /metrics`, 404
//! for the rest); a WebSocket upgrade on a WebSocket route is accepted
//! here and handed back as the socket itself, with the bytes hyper read
//! past the handshake, so the connection loops drive tungstenite directly
//! over the same non-blocking socket as before.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ledger_chain::{BlockEvent, Chain};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, watch};
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::WebSocket;

use crate::extensions::ApiRoot;
use crate::handlers;
use crate::metrics::ApiMetrics;
use crate::outbox::WRITE_BATCH;
use crate::router::{route, Route};
use crate::server::{Phase, ServerConfig};
use crate::stream::StreamFilter;
use crate::transport::{NonBlocking, READ_BUFFER};

/// A connection that became a WebSocket, and which API it speaks.
pub(crate) struct Upgraded {
    pub(crate) ws: WebSocket<NonBlocking>,
    pub(crate) api: WebSocketApi,
    /// Every stored block from the moment the upgrade was accepted.
    pub(crate) events: broadcast::Receiver<Arc<BlockEvent>>,
}

/// The API a WebSocket connection speaks.
pub(crate) enum WebSocketApi {
    /// The likelib v1 API.
    V1,
    /// The valid-transactions stream, with its filter.
    Stream(StreamFilter),
}

/// What the HTTP side needs to answer.
pub(crate) struct HttpContext<C> {
    pub(crate) chain: C,
    pub(crate) config: ServerConfig,
    pub(crate) metrics: Arc<ApiMetrics>,
}

/// An accepted upgrade, waiting for hyper to hand the socket over.
struct Pending {
    api: WebSocketApi,
    on_upgrade: OnUpgrade,
    events: broadcast::Receiver<Arc<BlockEvent>>,
}

/// Serves HTTP on `socket` until the client leaves, the node stops, or a
/// WebSocket upgrade is accepted: then the socket comes back as a
/// WebSocket.
pub(crate) async fn serve<C: Chain>(
    socket: TcpStream,
    peer: SocketAddr,
    context: Arc<HttpContext<C>>,
    mut phase: watch::Receiver<Phase>,
) -> Option<Upgraded> {
    if let Err(error) = socket.set_nodelay(true) {
        tracing::debug!(%peer, %error, "connection failed");
        return None;
    }
    let local = socket.local_addr().ok();
    let max_message_bytes = context.config.max_message_bytes;
    let header_timeout = context.config.header_timeout;
    let accepted: Arc<Mutex<Option<Pending>>> = Arc::default();
    let service = {
        let accepted = accepted.clone();
        service_fn(move |request| {
            let response = respond(request, &context, local, &accepted);
            async move { Ok::<_, Infallible>(response) }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    tokio::pin!(connection);
    let stopping = async {
        let _ = phase.wait_for(|phase| *phase > Phase::Running).await;
    };
    let served = tokio::select! {
        served = connection.as_mut() => Some(served),
        () = stopping => None,
    };
    let served = match served {
        Some(served) => served,
        None => {
            // Stopping: finish the request under way, take no more.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = served {
        tracing::debug!(%peer, %error, "HTTP connection failed");
    }
    let pending = accepted
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()?;
    let upgraded = match pending.on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%peer, %error, "upgrade failed");
            return None;
        }
    };
    let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
        tracing::error!(%peer, "the upgraded connection is not the TCP socket it was served on");
        return None;
    };
    let ws = WebSocket::from_partially_read(
        NonBlocking(parts.io.into_inner()),
        parts.read_buf.to_vec(),
        Role::Server,
        Some(ws_config(max_message_bytes)),
    );
    Some(Upgraded {
        ws,
        api: pending.api,
        events: pending.events,
    })
}

/// The limits a WebSocket is read with: the read buffer starts small and
/// grows only for a large frame (an idle connection should cost little);
/// writes are batched and fragmented by the outbox, which bounds the
/// write buffer itself.
fn ws_config(max_message_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BATCH)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes))
}

type Answer = Response<Full<Bytes>>;

/// The answer to one HTTP request.
fn respond<C: Chain>(
    request: Request<Incoming>,
    context: &HttpContext<C>,
    local: Option<SocketAddr>,
    accepted: &Mutex<Option<Pending>>,
) -> Answer {
    let path = request.uri().path();
    let route = route(path);
    if wants_websocket(&request) {
        let api = match route {
            Some(Route::V1) => WebSocketApi::V1,
            Some(Route::Stream) => match StreamFilter::from_query(request.uri().query()) {
                Ok(filter) => WebSocketApi::Stream(filter),
                Err(error) => return text(StatusCode::BAD_REQUEST, error.to_string()),
            },
            _ => return not_found(path),
        };
        return accept_upgrade(request, api, context, accepted);
    }
    let Some(route) = route else {
        return not_found(path);
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut answer = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not served on {path}; use GET", request.method()),
        );
        answer
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return answer;
    }
    match route {
        Route::ApiRoot => api_root(&request, context, local),
        Route::Metrics => {
            let mut answer = Response::new(Full::new(Bytes::from(context.metrics.encode())));
            answer.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            answer
        }
        Route::V1 => {
            let mut answer = Response::new(Full::new(Bytes::from_static(
                crate::explorer::PAGE.as_bytes(),
            )));
            let headers = answer.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            answer
        }
        Route::Stream => {
            let mut answer = text(
                StatusCode::UPGRADE_REQUIRED,
                format!("{path} is a WebSocket stream; connect with a WebSocket client"),
            );
            answer
                .headers_mut()
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            answer
        }
    }
}

/// `GET /api/v1/`: `node_info` and the WebSocket URLs, on the host the
/// client addressed.
fn api_root<C: Chain>(
    request: &Request<Incoming>,
    context: &HttpContext<C>,
    local: Option<SocketAddr>,
) -> Answer {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(ToString::to_string))
        .or_else(|| local.map(|local| local.to_string()))
        .unwrap_or_default();
    let node = match handlers::node_info(context.chain.state(), context.chain.mode()) {
        Ok(node) => node,
        Err(error) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the node could not describe itself: {error}"),
            )
        }
    };
    match serde_json::to_vec(&ApiRoot::new(node, &host)) {
        Ok(body) => {
            let mut answer = Response::new(Full::new(Bytes::from(body)));
            answer.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            answer
        }
        Err(error) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the answer could not be encoded: {error}"),
        ),
    }
}

/// Whether the request asks for a WebSocket (`Upgrade: websocket`).
fn wants_websocket(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket"))
}

/// Checks the rest of the handshake (RFC 6455, 4.2.1) and answers 101,
/// leaving the socket to be taken once hyper has sent the answer.
fn accept_upgrade<C: Chain>(
    mut request: Request<Incoming>,
    api: WebSocketApi,
    context: &HttpContext<C>,
    accepted: &Mutex<Option<Pending>>,
) -> Answer {
    let headers = request.headers();
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if request.method() != Method::GET || !connection_upgrade {
        return text(
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake is a GET with `Connection: Upgrade`".to_owned(),
        );
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        let mut answer = text(
            StatusCode::UPGRADE_REQUIRED,
            "this node speaks WebSocket version 13".to_owned(),
        );
        answer.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return answer;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return text(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` is missing".to_owned(),
        );
    };
    let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) else {
        return text(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` is not a header value".to_owned(),
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    *accepted.lock().unwrap_or_else(PoisonError::into_inner) = Some(Pending {
        api,
        on_upgrade,
        events: context.chain.subscribe(),
    });
    let mut answer = Response::new(Full::new(Bytes::new()));
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = answer.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    answer
}

fn not_found(path: &str) -> Answer {
    text(
        StatusCode::NOT_FOUND,
        format!("nothing is served at {path}; the likelib v1 API is a WebSocket on /"),
    )
}

fn text(status: StatusCode, body: String) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}
