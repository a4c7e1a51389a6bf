//! Where a node is: the `--node` URL of a client command, and the address
//! `run --ws` listens on. Both take what people type: `ws://HOST:PORT`,
//! `HOST:PORT` or `localhost:PORT`; what cannot be the v1 API (an
//! `http://` URL, the stream's path) is refused with what to type instead.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// The path of the valid-transactions stream on a node's port.
const STREAM_PATH: &str = "/api/v1/streams/valid_transactions";

/// The URL of a node's v1 API: `ws://HOST:PORT/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NodeUrl {
    /// `HOST:PORT`, as given.
    authority: String,
}

/// Why a `--node` value is not a v1 API URL.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadNodeUrl {
    /// `http://` or `https://`: the port's web pages, not its API.
    #[error("{given} is a web address; the API on that port is ws://{authority}")]
    Http { given: String, authority: String },
    /// `wss://`: this client speaks plain WebSocket only.
    #[error("{given}: TLS (wss://) is not supported; use ws://{authority} (behind a TLS proxy, connect to the proxy's plain side)")]
    Tls { given: String, authority: String },
    /// Another scheme.
    #[error("{given}: the scheme {scheme}:// is not a node's; use ws://HOST:PORT")]
    Scheme { given: String, scheme: String },
    /// The valid-transactions stream: it only sends.
    #[error("{given} is the valid-transactions stream, which answers no requests; the API is ws://{authority}")]
    Stream { given: String, authority: String },
    /// Another path.
    #[error("{given}: the API is at the root path; use ws://{authority}")]
    Path { given: String, authority: String },
    /// No `:PORT`.
    #[error("{given}: no port; use ws://HOST:PORT (a node listens on 50051 by default)")]
    NoPort { given: String },
}

impl fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ws://{}", self.authority)
    }
}

impl FromStr for NodeUrl {
    type Err = BadNodeUrl;

    fn from_str(given: &str) -> Result<NodeUrl, BadNodeUrl> {
        let given = given.trim();
        let (scheme, rest) = match given.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
            None => (None, given),
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        let authority = authority.to_owned();
        let owned = || given.to_owned();
        match scheme.as_deref() {
            None | Some("ws") => {}
            Some("http" | "https") => {
                return Err(BadNodeUrl::Http {
                    given: owned(),
                    authority,
                })
            }
            Some("wss") => {
                return Err(BadNodeUrl::Tls {
                    given: owned(),
                    authority,
                })
            }
            Some(other) => {
                return Err(BadNodeUrl::Scheme {
                    given: owned(),
                    scheme: other.to_owned(),
                })
            }
        }
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if path.trim_end_matches('/') == STREAM_PATH {
            return Err(BadNodeUrl::Stream {
                given: owned(),
                authority,
            });
        }
        if !path.is_empty() && path != "/" {
            return Err(BadNodeUrl::Path {
                given: owned(),
                authority,
            });
        }
        if !has_port(&authority) {
            return Err(BadNodeUrl::NoPort { given: owned() });
        }
        Ok(NodeUrl { authority })
    }
}

/// Whether `HOST:PORT` ends in a port (an IPv6 host is bracketed).
fn has_port(authority: &str) -> bool {
    let host_end = authority.rfind(']').map_or(0, |at| at + 1);
    authority[host_end..]
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
}

/// The address `run --ws` listens on: `HOST:PORT` (a name such as
/// `localhost` is looked up), with or without `ws://`.
pub(crate) fn listen_address(given: &str) -> Result<SocketAddr, String> {
    let bare = given
        .trim()
        .trim_start_matches("ws://")
        .trim_end_matches('/');
    if !has_port(bare) {
        return Err(format!(
            "{given:?} has no port; give HOST:PORT, e.g. 127.0.0.1:50051"
        ));
    }
    if let Ok(address) = bare.parse() {
        return Ok(address);
    }
    match bare.to_socket_addrs() {
        Ok(mut addresses) => addresses
            .next()
            .ok_or_else(|| format!("{given:?} names no address")),
        Err(error) => Err(format!("cannot look up {given:?}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Result<String, BadNodeUrl> {
        text.parse::<NodeUrl>().map(|url| url.to_string())
    }

    #[test]
    fn what_people_type_becomes_the_api_url() {
        for given in [
            "ws://127.0.0.1:50051",
            "ws://127.0.0.1:50051/",
            "127.0.0.1:50051",
            "WS://127.0.0.1:50051",
        ] {
            assert_eq!(url(given).as_deref(), Ok("ws://127.0.0.1:50051"), "{given}");
        }
        assert_eq!(url("localhost:7").as_deref(), Ok("ws://localhost:7"));
        assert_eq!(url("[::1]:7").as_deref(), Ok("ws://[::1]:7"));
    }

    #[test]
    fn what_is_not_the_api_says_what_to_type() {
        let refused = |given: &str| url(given).expect_err(given).to_string();
        assert!(refused("http://h:1/").ends_with("the API on that port is ws://h:1"));
        assert!(refused("wss://h:1").contains("use ws://h:1"));
        assert!(refused("ftp://h:1").contains("ftp://"));
        let stream = refused("ws://h:1/api/v1/streams/valid_transactions?address=x");
        assert!(
            stream.contains("answers no requests; the API is ws://h:1"),
            "{stream}"
        );
        assert!(refused("ws://h:1/other").contains("root path; use ws://h:1"));
        assert!(refused("h").contains("no port"));
        assert!(refused("[::1]").contains("no port"));
    }

    #[test]
    fn a_listening_address_takes_names_and_the_scheme() {
        assert_eq!(
            listen_address("127.0.0.1:0"),
            Ok("127.0.0.1:0".parse().expect("address"))
        );
        assert_eq!(
            listen_address("ws://127.0.0.1:9/"),
            Ok("127.0.0.1:9".parse().expect("address"))
        );
        let local = listen_address("localhost:9").expect("looked up");
        assert!(local.ip().is_loopback() && local.port() == 9, "{local}");
        assert!(listen_address("127.0.0.1").unwrap_err().contains("no port"));
    }
}
