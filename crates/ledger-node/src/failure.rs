//! How a command's failure reaches a person: one line on stderr, each
//! cause said once, with a hint where one helps; and the failures of
//! talking to a node, typed so each gets its own words.

use std::fmt;
use std::time::Duration;

use ledger_core::Hash;
use ledger_ws::protocol::ApiError;

use crate::endpoint::NodeUrl;

/// `error`'s chain of causes as one line: each cause once (a cause whose
/// text an earlier one already holds is left out, as libraries often
/// print their source inside their own message), line breaks folded.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = fold(&cause.to_string());
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// `text` on one line: runs of white space, line breaks included, become
/// one space.
pub(crate) fn fold(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A command-line usage error as one line, with where to read more:
/// clap's message without its usage block, and the command's `--help`.
pub(crate) fn usage_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let (message, usage) = match rendered.split_once("Usage:") {
        Some((message, rest)) => (message, Some(rest)),
        None => (rendered.as_str(), None),
    };
    // clap's tips ("tip: a similar argument exists") stand on lines of
    // their own: after a semicolon here.
    let message = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .map(|line| match line.starts_with("tip:") {
            true => format!("; {line}"),
            false => format!(" {line}"),
        })
        .collect::<String>();
    let message = fold(message.trim().trim_start_matches("error:"));
    // "Usage: ledger-node block <--number <NUMBER>|--hash <HASH>>": the
    // command is the words before the first option or placeholder.
    let command = usage.map(|usage| {
        usage
            .split_whitespace()
            .take_while(|word| !word.starts_with(['-', '<', '[']))
            .collect::<Vec<_>>()
            .join(" ")
    });
    match command {
        Some(command) if !command.is_empty() => format!("{message} (see `{command} --help`)"),
        _ => message,
    }
}

/// A duration as people read it in a message: `30 s`, `2.5 s`, `250 ms`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Took(pub(crate) Duration);

impl fmt::Display for Took {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs_f64();
        if seconds < 1.0 {
            write!(f, "{} ms", self.0.as_millis())
        } else {
            write!(f, "{} s", (seconds * 10.0).round() / 10.0)
        }
    }
}

/// What can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NodeError {
    /// Nothing listens there.
    #[error("cannot reach the node at {url}: connection refused; is it running? `ledger-node run` starts one")]
    Refused { url: NodeUrl },
    /// The host could not be reached or looked up.
    #[error("cannot reach the node at {url}: {reason}")]
    Unreachable { url: NodeUrl, reason: String },
    /// An HTTP server that is not a node's API port.
    #[error("{url} answered HTTP {status} instead of a WebSocket handshake; is it a ledger node's API port?")]
    NotWebSocket { url: NodeUrl, status: u16 },
    /// Something that accepts connections and says nothing.
    #[error("{url} accepted the connection but sent no WebSocket handshake within {timeout}; is it a ledger node's API port? (--timeout waits longer)")]
    NoHandshake { url: NodeUrl, timeout: Took },
    /// Something that answered, but not as a WebSocket server.
    #[error(
        "{url} did not answer as a WebSocket server ({reason}); is it a ledger node's API port?"
    )]
    NotTheApi { url: NodeUrl, reason: String },
    /// The node took longer than `--timeout` to answer.
    #[error("the node at {url} did not answer {what} within {timeout} (--timeout waits longer)")]
    NoAnswer {
        url: NodeUrl,
        what: &'static str,
        timeout: Took,
    },
    /// A transaction stayed pending past `--timeout`.
    #[error("transaction {hash} is not in a block after {timeout} (it may still be: `ledger-node tx {hash} --node {url}` looks it up)")]
    NotFinal {
        hash: Hash,
        url: NodeUrl,
        timeout: Took,
    },
    /// The node refused the request.
    #[error("the node answered {0}")]
    Api(ApiError),
    /// The connection ended.
    #[error("the node at {url} closed the connection")]
    Closed { url: NodeUrl },
    /// Anything else the connection failed with.
    #[error("talking to the node at {url}: {reason}")]
    Connection { url: NodeUrl, reason: String },
}

impl NodeError {
    /// The error of a failed connection attempt to `url`.
    pub(crate) fn connecting(url: &NodeUrl, error: ledger_ws::WsError) -> NodeError {
        use tungstenite::Error as Ws;
        let url = url.clone();
        match error {
            ledger_ws::WsError::WebSocket(Ws::Io(io)) | ledger_ws::WsError::Io(io) => {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => NodeError::Refused { url },
                    _ => NodeError::Unreachable {
                        url,
                        reason: fold(&io.to_string()),
                    },
                }
            }
            ledger_ws::WsError::WebSocket(Ws::Http(response)) => NodeError::NotWebSocket {
                url,
                status: response.status().as_u16(),
            },
            ledger_ws::WsError::WebSocket(error) => NodeError::NotTheApi {
                url,
                reason: fold(&error.to_string()),
            },
            other => NodeError::during(&url, other),
        }
    }

    /// The error of a request to `url` that failed.
    pub(crate) fn during(url: &NodeUrl, error: ledger_ws::WsError) -> NodeError {
        let url = url.clone();
        match error {
            ledger_ws::WsError::Api(error) => NodeError::Api(error),
            ledger_ws::WsError::Closed => NodeError::Closed { url },
            other => NodeError::Connection {
                url,
                reason: fold(&other.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_said_once_on_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file (os error 2)");
        let error = anyhow::Error::new(io)
            .context("key file nope.key: No such file (os error 2)")
            .context("--key");
        assert_eq!(
            one_line(&error),
            "--key: key file nope.key: No such file (os error 2)"
        );
        let error = anyhow::anyhow!("first line\n   second  line");
        assert_eq!(one_line(&error), "first line second line");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(Took(Duration::from_secs(30)).to_string(), "30 s");
        assert_eq!(Took(Duration::from_millis(2500)).to_string(), "2.5 s");
        assert_eq!(Took(Duration::from_millis(250)).to_string(), "250 ms");
    }
}
