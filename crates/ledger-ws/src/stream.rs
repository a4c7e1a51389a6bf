//! The valid-transactions stream (Planetmint's event stream,
//! api-extensions.md): one message per transaction of every block stored
//! after the client connected, in chain order, each exactly once, filtered
//! by address and action type. One-way: what the client sends is read
//! (so pings and closes work) and ignored.

use std::sync::Arc;

use ledger_chain::{BlockEvent, Chain};
use ledger_core::{ActionType, Address, CoreError, Hash, StateRead};
use tokio::sync::{broadcast, watch};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

use crate::extensions::StreamMessage;
use crate::metrics::{ApiMetrics, ConnectionGuard, Kind};
use crate::outbox::{would_block, Outgoing};
use crate::server::Phase;
use crate::wire::{Close, Wire, READ_BATCH};

/// Which transactions a stream connection wants: `address=<base58>`
/// (sender or receiver) and `action_type=<0..3>`, both optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamFilter {
    address: Option<Address>,
    action_type: Option<ActionType>,
}

/// Why a stream's query is refused (HTTP 400, before the upgrade).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamQueryError {
    /// A parameter the stream does not know.
    #[error("unknown parameter {name:?}; the stream takes `address` and `action_type`")]
    UnknownParameter {
        /// Its name.
        name: String,
    },
    /// A parameter given twice.
    #[error("`{name}` is given more than once")]
    Repeated {
        /// Its name.
        name: &'static str,
    },
    /// `address` is not a base58 address.
    #[error("`address` {value:?} is not a base58 address")]
    Address {
        /// What was given.
        value: String,
    },
    /// `action_type` is not 0 to 3.
    #[error("`action_type` {value:?} is not one of 0, 1, 2, 3")]
    ActionType {
        /// What was given.
        value: String,
    },
}

impl StreamFilter {
    /// The filter of a query string (`None`: no query, everything).
    pub(crate) fn from_query(query: Option<&str>) -> Result<StreamFilter, StreamQueryError> {
        let mut filter = StreamFilter::default();
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty());
        for pair in pairs {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "address" => {
                    let address = value.parse().map_err(|_| StreamQueryError::Address {
                        value: value.to_owned(),
                    })?;
                    if filter.address.replace(address).is_some() {
                        return Err(StreamQueryError::Repeated { name: "address" });
                    }
                }
                "action_type" => {
                    let action = value
                        .parse()
                        .ok()
                        .and_then(ActionType::from_u8)
                        .ok_or_else(|| StreamQueryError::ActionType {
                            value: value.to_owned(),
                        })?;
                    if filter.action_type.replace(action).is_some() {
                        return Err(StreamQueryError::Repeated {
                            name: "action_type",
                        });
                    }
                }
                other => {
                    return Err(StreamQueryError::UnknownParameter {
                        name: other.to_owned(),
                    })
                }
            }
        }
        Ok(filter)
    }

    /// The query that asks for this filter, in canonical form.
    pub(crate) fn to_query(self) -> String {
        let address = self.address.map(|address| format!("address={address}"));
        let action = self
            .action_type
            .map(|action| format!("action_type={}", action as u8));
        address
            .into_iter()
            .chain(action)
            .collect::<Vec<_>>()
            .join("&")
    }

    fn matches(&self, message: &StreamMessage) -> bool {
        self.address
            .is_none_or(|address| message.from == address || message.to == address)
            && self
                .action_type
                .is_none_or(|action| message.action_type == action)
    }
}

/// The messages a stored block makes for `filter`, in block order.
/// `asset_id` is the genesis hash for the native coin; a creation's own
/// hash; for a call, the transaction that deployed the called contract.
pub(crate) fn messages<S: StateRead + ?Sized>(
    event: &BlockEvent,
    filter: &StreamFilter,
    genesis: Hash,
    state: &S,
) -> Result<Vec<StreamMessage>, CoreError> {
    let mut messages = Vec::new();
    for tx in &event.block.transactions {
        let hash = tx.hash();
        let Some(status) = event.statuses.get(&hash) else {
            continue;
        };
        let mut message = StreamMessage {
            transaction_id: hash,
            asset_id: genesis,
            height: event.tip.depth,
            status_code: status.status_code,
            action_type: status.action_type,
            from: tx.from,
            to: tx.to,
        };
        if !filter.matches(&message) {
            continue;
        }
        message.asset_id = match status.action_type {
            ActionType::ContractCreation => hash,
            ActionType::ContractCall => creation_of(state, &tx.to)?.unwrap_or(genesis),
            ActionType::Transfer | ActionType::None => genesis,
        };
        messages.push(message);
    }
    Ok(messages)
}

/// The transaction that deployed the contract at `address`. Stores from
/// before creators were recorded know only the first transaction on the
/// contract's list, which is its creation for a top-level deployment.
fn creation_of<S: StateRead + ?Sized>(
    state: &S,
    address: &Address,
) -> Result<Option<Hash>, CoreError> {
    if let Some(creator) = state.creator(address)? {
        return Ok(Some(creator));
    }
    Ok(state.account_transactions(address, 0, 1)?.first().copied())
}

/// What woke a stream connection up.
enum Wake {
    /// The socket is ready (`false`: it failed).
    Socket(bool),
    Event(Result<Arc<BlockEvent>, broadcast::error::RecvError>),
    Tick,
    Stopped,
}

/// One stream connection.
pub(crate) struct StreamConnection<C> {
    wire: Wire,
    chain: C,
    filter: StreamFilter,
    genesis: Hash,
    metrics: Arc<ApiMetrics>,
    _counted: ConnectionGuard,
}

impl<C: Chain> StreamConnection<C> {
    pub(crate) fn new(
        wire: Wire,
        chain: C,
        filter: StreamFilter,
        genesis: Hash,
        metrics: Arc<ApiMetrics>,
    ) -> Self {
        tracing::debug!(peer = %wire.peer, ?filter, "stream connected");
        metrics.subscriptions(Kind::Stream, 1);
        StreamConnection {
            wire,
            chain,
            filter,
            genesis,
            _counted: metrics.connected(),
            metrics,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut events: broadcast::Receiver<Arc<BlockEvent>>,
        mut phase: watch::Receiver<Phase>,
        tick: std::time::Duration,
    ) {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut events_open = true;
        let mut stopped = false;
        let close = loop {
            if let Err(close) = self.read_available() {
                break close;
            }
            if let Some(close) = self.wire.closing.take() {
                break close;
            }
            if let Err(close) = self.wire.write_queued() {
                break close;
            }
            if stopped {
                break Close::With(CloseCode::Away, "the node is shutting down".into());
            }
            let socket = &self.wire.ws.get_ref().0;
            let wake = tokio::select! {
                ready = socket.readable() => Wake::Socket(ready.is_ok()),
                ready = socket.writable(), if self.wire.write_blocked => Wake::Socket(ready.is_ok()),
                event = events.recv(), if events_open => Wake::Event(event),
                _ = ticker.tick() => Wake::Tick,
                _ = phase.wait_for(|phase| *phase == Phase::Stopped), if !stopped => Wake::Stopped,
            };
            let handled = match wake {
                Wake::Socket(true) => Ok(()),
                Wake::Socket(false) => Err(Close::Gone),
                Wake::Event(Ok(event)) => self.on_event(&event),
                Wake::Event(Err(broadcast::error::RecvError::Lagged(missed))) => Err(Close::With(
                    CloseCode::Policy,
                    format!("too slow: {missed} blocks behind"),
                )),
                Wake::Event(Err(broadcast::error::RecvError::Closed)) => {
                    events_open = false;
                    Ok(())
                }
                Wake::Tick => self.wire.on_tick(),
                Wake::Stopped => {
                    // The chain has stopped: every block event is queued.
                    stopped = true;
                    let mut result = Ok(());
                    while let Ok(event) = events.try_recv() {
                        result = result.and_then(|()| self.on_event(&event));
                    }
                    result
                }
            };
            if let Err(close) = handled {
                break close;
            }
        };
        self.metrics.subscriptions(Kind::Stream, -1);
        self.wire.close(close).await;
    }

    /// Reads what the client sent: nothing is expected but control
    /// frames and a close; anything else is ignored.
    fn read_available(&mut self) -> Result<(), Close> {
        for _ in 0..READ_BATCH {
            match self.wire.ws.read() {
                Ok(Message::Close(_)) => return Err(Close::Gone),
                Ok(_) => self.wire.heard(),
                Err(error) if would_block(&error) => return Ok(()),
                Err(tungstenite::Error::Utf8(_)) => self.wire.heard(),
                Err(tungstenite::Error::Capacity(error)) => {
                    return Err(Close::With(CloseCode::Size, format!("{error}")));
                }
                Err(error) => {
                    tracing::debug!(peer = %self.wire.peer, %error, "stream connection failed");
                    return Err(Close::Gone);
                }
            }
        }
        Ok(())
    }

    fn on_event(&mut self, event: &BlockEvent) -> Result<(), Close> {
        let messages = messages(event, &self.filter, self.genesis, self.chain.state())
            .map_err(|error| {
                tracing::error!(%error, depth = event.tip.depth, "stream messages could not be read");
                Close::With(
                    CloseCode::Error,
                    format!("the node could not read block {}", event.tip.depth),
                )
            })?;
        for message in messages {
            match serde_json::to_string(&message) {
                Ok(text) => self.wire.queue(Outgoing::text(text)),
                Err(error) => {
                    tracing::error!(%error, "a stream message could not be encoded");
                }
            }
            if self.wire.closing.is_some() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_written_back_asks_for_itself() {
        let address = "4Mq1maZ6wuaYe88oLzi5aN9zK771";
        for query in [
            "",
            "action_type=2",
            &format!("address={address}"),
            &format!("action_type=1&address={address}&"),
        ] {
            let filter = StreamFilter::from_query(Some(query)).expect(query);
            assert_eq!(
                StreamFilter::from_query(Some(&filter.to_query())),
                Ok(filter)
            );
        }
        assert_eq!(
            StreamFilter::from_query(Some(&format!("address={address}")))
                .expect("parses")
                .to_query(),
            format!("address={address}")
        );
    }

    #[test]
    fn request_targets_the_fuzzer_reached_are_handled() {
        for target in [
            "",
            "?",
            "/?&&=",
            "/api/v1/streams/valid_transactions?action_type=",
            "/?action_type=256",
            "/?address=0",
            "/\u{0}?=\u{ffff}",
        ] {
            crate::fuzz_request_target(target);
        }
    }
}
