//! A Rust client of the v1 API: typed calls, and subscriptions as streams.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ledger_ws::WsError> {
//! use futures_util::StreamExt;
//! let client = ledger_ws::Client::connect("ws://127.0.0.1:50051").await?;
//! let top = client.last_block_info().await?;
//! let mut blocks = client.subscribe_blocks().await?;
//! while let Some(block) = blocks.next().await {
//!     println!("block {}", block?.top_block_number);
//! }
//! # let _ = top; Ok(()) }
//! ```

use std::collections::HashMap;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_util::{SinkExt, Stream, StreamExt};
use ledger_core::{Address, Hash, RawBlock, RawTransaction, RawViewCall, TransactionStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::error::WsError;
use crate::extensions::{
    AccountCode, AccountStorage, AccountTransactions, EstimatedFee, NodeInfo, Peers,
};
use crate::protocol::{
    AccountInfo, Answer, BlockRef, LastBlockInfo, LogFilter, LogsEvent, Request, RequestType,
    TransactionLogs, API_VERSION, UNSUBSCRIBED,
};
use crate::snapshots::{SnapshotChunk, SnapshotInfo};

/// A result as the node sent it, decoded once, by whoever waits for it,
/// into the type they ask for (never into a [`Value`] tree first).
type RawResult = Result<Box<RawValue>, WsError>;

enum Route {
    Call(oneshot::Sender<RawResult>),
    Subscription {
        /// Dropped after the subscription's last message, which ends the
        /// stream.
        sender: mpsc::UnboundedSender<RawResult>,
        /// A `push_transaction`: the node sends nothing after a final status.
        ends_after_final_status: bool,
    },
}

/// Whether a push status message is final (anything but Pending).
fn is_final_status(result: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Code {
        status_code: Option<u64>,
    }
    let code = serde_json::from_str::<Code>(result.get()).ok();
    code.and_then(|code| code.status_code) != Some(1)
}

struct Outgoing {
    text: String,
    id: u64,
    route: Route,
}

/// A connection to a node. Cheap to share by reference; requests may run
/// concurrently. Dropping it closes the connection.
pub struct Client {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    next_id: AtomicU64,
}

impl Client {
    /// Connects to `url` (`ws://host:port`).
    pub async fn connect(url: &str) -> Result<Client, WsError> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        let (outgoing, requests) = mpsc::unbounded_channel();
        tokio::spawn(route(socket, requests));
        Ok(Client {
            outgoing,
            next_id: AtomicU64::new(1),
        })
    }

    fn send<A: Serialize + ?Sized>(
        &self,
        kind: RequestType,
        name: &str,
        args: Option<&A>,
        route: Route,
    ) -> Result<(), WsError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Request {
            kind,
            name,
            api: API_VERSION,
            id,
            args,
        };
        let text = serde_json::to_string(&request)?;
        self.outgoing
            .send(Outgoing { text, id, route })
            .map_err(|_| WsError::Closed)
    }

    /// Sends `call` `name` with `args` and decodes its result.
    pub async fn call<T: DeserializeOwned>(&self, name: &str, args: Value) -> Result<T, WsError> {
        let (reply, answer) = oneshot::channel();
        self.send(RequestType::Call, name, object(&args), Route::Call(reply))?;
        decode(&answer.await.map_err(|_| WsError::Closed)??)
    }

    /// Subscribes to `name` with `args`; the stream yields every message.
    pub async fn subscribe<T: DeserializeOwned>(
        &self,
        name: &str,
        args: Value,
    ) -> Result<Subscription<T>, WsError> {
        self.subscribe_with(name, object(&args))
    }

    /// Subscribes to `name`, with `args` (an object) serialised straight
    /// into the request.
    fn subscribe_with<T: DeserializeOwned, A: Serialize + ?Sized>(
        &self,
        name: &str,
        args: Option<&A>,
    ) -> Result<Subscription<T>, WsError> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let route = Route::Subscription {
            sender,
            ends_after_final_status: name == "push_transaction",
        };
        self.send(RequestType::Subscribe, name, args, route)?;
        Ok(Subscription {
            receiver,
            ended: false,
            _type: PhantomData,
        })
    }

    /// Ends a subscription; `true` if the node had it.
    pub async fn unsubscribe(&self, name: &str, args: Value) -> Result<bool, WsError> {
        let (reply, answer) = oneshot::channel();
        self.send(
            RequestType::Unsubscribe,
            name,
            object(&args),
            Route::Call(reply),
        )?;
        let answer: Value = decode(&answer.await.map_err(|_| WsError::Closed)??)?;
        Ok(answer.as_str() == Some(UNSUBSCRIBED))
    }

    /// The top block.
    pub async fn last_block_info(&self) -> Result<LastBlockInfo, WsError> {
        self.call("last_block_info", json!({})).await
    }

    /// An account.
    pub async fn account_info(&self, address: &Address) -> Result<AccountInfo, WsError> {
        self.call("account_info", json!({ "address": address }))
            .await
    }

    /// A block by hash or depth.
    pub async fn find_block(&self, block: BlockRef) -> Result<RawBlock, WsError> {
        let args = match block {
            BlockRef::Hash(hash) => json!({ "hash": hash }),
            BlockRef::Number(number) => json!({ "number": number }),
        };
        self.call("find_block", args).await
    }

    /// An applied transaction.
    pub async fn find_transaction(&self, hash: &Hash) -> Result<RawTransaction, WsError> {
        self.call("find_transaction", json!({ "hash": hash })).await
    }

    /// A transaction's status (Pending while in the mempool).
    pub async fn find_transaction_status(&self, hash: &Hash) -> Result<TransactionStatus, WsError> {
        self.call("find_transaction_status", json!({ "hash": hash }))
            .await
    }

    /// A read-only contract call; the result is base64 of the return data.
    pub async fn call_contract_view(&self, call: &RawViewCall) -> Result<String, WsError> {
        let args = serde_json::to_value(call)?;
        self.call("call_contract_view", args).await
    }

    /// What a transaction would cost as the first of the next block
    /// (`estimate_fee`): unsigned, it changes nothing.
    pub async fn estimate_fee(
        &self,
        from: &Address,
        to: &Address,
        amount: ledger_core::Balance,
        data: &[u8],
    ) -> Result<EstimatedFee, WsError> {
        let args = json!({
            "from": from,
            "to": to,
            "amount": amount,
            "data": ledger_core::encode_base64(data),
        });
        self.call("estimate_fee", args).await
    }

    /// A contract's deployed code; empty for an account without code.
    pub async fn account_code(&self, address: &Address) -> Result<Vec<u8>, WsError> {
        let answer: AccountCode = self
            .call("account_code", json!({ "address": address }))
            .await?;
        base64_answer("code", &answer.code)
    }

    /// One storage slot of a contract (zeros when never written).
    pub async fn account_storage(
        &self,
        address: &Address,
        slot: &[u8; 32],
    ) -> Result<[u8; 32], WsError> {
        let args = json!({ "address": address, "slot": Hash(*slot) });
        let answer: AccountStorage = self.call("account_storage", args).await?;
        let bytes = base64_answer("storage value", &answer.value)?;
        bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| WsError::BadAnswer {
                what: "storage value",
                reason: format!("{} bytes, not 32", bytes.len()),
            })
    }

    /// The logs of an applied transaction, in emission order.
    pub async fn find_transaction_logs(&self, hash: &Hash) -> Result<TransactionLogs, WsError> {
        self.call("find_transaction_logs", json!({ "hash": hash }))
            .await
    }

    /// What the node is and where its chain stands.
    pub async fn node_info(&self) -> Result<NodeInfo, WsError> {
        self.call("node_info", json!({})).await
    }

    /// The nodes this one is connected to.
    pub async fn peers(&self) -> Result<Peers, WsError> {
        self.call("peers", json!({})).await
    }

    /// A page of `address`'s history, newest first: up to `limit`
    /// transactions before `cursor` (from an earlier page; `None` for the
    /// newest).
    pub async fn account_transactions(
        &self,
        address: &Address,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<AccountTransactions, WsError> {
        self.call(
            "account_transactions",
            json!({ "address": address, "limit": limit, "cursor": cursor }),
        )
        .await
    }

    /// Logs of blocks stored from now on that pass `filter`: first
    /// [`LogsEvent::Started`], then one [`LogsEvent::Log`] per log.
    pub async fn subscribe_logs(
        &self,
        filter: &LogFilter,
    ) -> Result<Subscription<LogsEvent>, WsError> {
        self.subscribe("logs", filter.to_args()).await
    }

    /// Every new block, starting with the current top.
    pub async fn subscribe_blocks(&self) -> Result<Subscription<LastBlockInfo>, WsError> {
        self.subscribe("last_block_info", json!({})).await
    }

    /// An account after every block that changes it, starting with its current state.
    pub async fn subscribe_account(
        &self,
        address: &Address,
    ) -> Result<Subscription<AccountInfo>, WsError> {
        self.subscribe("account_info", json!({ "address": address }))
            .await
    }

    /// Pushes a transaction: the stream yields its admission status and,
    /// if Pending, its final status, then ends.
    pub async fn push_transaction(
        &self,
        tx: &RawTransaction,
    ) -> Result<Subscription<TransactionStatus>, WsError> {
        self.subscribe_with("push_transaction", Some(tx))
    }

    /// Relays transactions another validator admitted (1 to
    /// [`crate::protocol::MAX_RELAY`]): admitted without an answer each
    /// and never forwarded on; says how many were admitted, known already
    /// or refused.
    pub async fn relay_transactions(
        &self,
        transactions: &[RawTransaction],
    ) -> Result<crate::extensions::Relayed, WsError> {
        self.call(
            "relay_transactions",
            json!({ "transactions": transactions }),
        )
        .await
    }

    /// Has the node take (or reuse) a snapshot of its decided chain to
    /// serve, and describes it.
    pub async fn state_snapshot(&self) -> Result<SnapshotInfo, WsError> {
        self.call("state_snapshot", json!({})).await
    }

    /// Chunk `index` of the snapshot whose top block is at `depth`.
    pub async fn state_snapshot_chunk(
        &self,
        depth: u64,
        index: u64,
    ) -> Result<SnapshotChunk, WsError> {
        self.call(
            "state_snapshot_chunk",
            json!({ "depth": depth, "index": index }),
        )
        .await
    }

    /// The node's snapshot, every chunk fetched and put together, its size
    /// and sha256 checked against the description. What it holds is not
    /// checked: [`ledger_core::Snapshot::verify`] and the validators'
    /// certificate do that.
    pub async fn fetch_snapshot(&self) -> Result<(SnapshotInfo, Vec<u8>), WsError> {
        let info = self.state_snapshot().await?;
        let mismatch = |reason| WsError::Snapshot { reason };
        let capacity = usize::try_from(info.bytes).map_err(|_| mismatch(SnapshotMismatch::Size))?;
        let mut bytes = Vec::with_capacity(capacity.min(1 << 30));
        for index in 0..info.chunks {
            let chunk = self.state_snapshot_chunk(info.depth, index).await?;
            let data = ledger_core::decode_base64(&chunk.data)
                .map_err(|_| mismatch(SnapshotMismatch::Chunk { index }))?;
            bytes.extend_from_slice(&data);
            if bytes.len() as u64 > info.bytes {
                return Err(mismatch(SnapshotMismatch::Size));
            }
        }
        if bytes.len() as u64 != info.bytes {
            return Err(mismatch(SnapshotMismatch::Size));
        }
        if ledger_core::sha256(&bytes) != info.sha256 {
            return Err(mismatch(SnapshotMismatch::Digest));
        }
        Ok((info, bytes))
    }

    /// Pushes a transaction and waits for its final status.
    pub async fn push_and_wait(&self, tx: &RawTransaction) -> Result<TransactionStatus, WsError> {
        let mut statuses = self.push_transaction(tx).await?;
        let mut last = None;
        while let Some(status) = statuses.next().await {
            last = Some(status?);
        }
        last.ok_or(WsError::Closed)
    }
}

/// A request's arguments: `args` if it is a non-empty object, else none.
fn object(args: &Value) -> Option<&Map<String, Value>> {
    args.as_object().filter(|args| !args.is_empty())
}

/// The bytes of `text`, base64 in an answer's `what`.
fn base64_answer(what: &'static str, text: &str) -> Result<Vec<u8>, WsError> {
    ledger_core::decode_base64(text).map_err(|error| WsError::BadAnswer {
        what,
        reason: error.to_string(),
    })
}

fn decode<T: DeserializeOwned>(result: &RawValue) -> Result<T, WsError> {
    Ok(serde_json::from_str(result.get())?)
}

/// The messages of one subscription, decoded. Ends when the connection
/// closes, when the node answers the subscription with an error, and for
/// `push_transaction` after the final status.
pub struct Subscription<T> {
    receiver: mpsc::UnboundedReceiver<RawResult>,
    ended: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<T, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let item = match self.receiver.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                self.ended = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(item)) => item,
        };
        // After the last message the router drops its sender, so the
        // stream ends there by itself.
        let item = item.and_then(|result| decode(&result));
        if item.is_err() {
            self.ended = true;
        }
        Poll::Ready(Some(item))
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Most requests written to the socket at once.
const WRITE_BATCH: usize = 64;

/// Owns the socket: writes requests, routes answers by id.
async fn route(socket: Socket, mut requests: mpsc::UnboundedReceiver<Outgoing>) {
    let (mut sink, mut stream) = socket.split();
    let mut routes: HashMap<u64, Route> = HashMap::new();
    loop {
        tokio::select! {
            outgoing = requests.recv() => {
                let Some(first) = outgoing else { break };
                // What was asked meanwhile goes out in the same write: a
                // client with many requests in flight (a wallet pushing a
                // batch, the load generator) costs the node one read for
                // many frames, not one each.
                let mut next = Some(first);
                let mut written = 0;
                let mut failed = false;
                while let Some(Outgoing { text, id, route }) = next.take() {
                    routes.insert(id, route);
                    if sink.feed(Message::text(text)).await.is_err() {
                        failed = true;
                        break;
                    }
                    written += 1;
                    if written < WRITE_BATCH {
                        next = requests.try_recv().ok();
                    }
                }
                if failed || sink.flush().await.is_err() {
                    break;
                }
            }
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                let Message::Text(text) = frame else { continue };
                let Ok(answer) = serde_json::from_str::<Answer>(text.as_str()) else { continue };
                let Some(id) = answer.id else {
                    tracing::warn!(?answer.error, "the node reported an error for no request");
                    continue;
                };
                let result = match (answer.status.as_ref(), answer.result, answer.error) {
                    ("ok", Some(result), _) => Ok(result.to_owned()),
                    (_, _, Some(error)) => Err(WsError::Api(error)),
                    (status, ..) => Err(WsError::NoResult { status: status.to_owned() }),
                };
                match routes.remove(&id) {
                    Some(Route::Call(reply)) => { let _ = reply.send(result); }
                    Some(Route::Subscription { sender, ends_after_final_status }) => {
                        // Keep routing until the subscription is over: the
                        // subscriber is gone, the node refused, or a push
                        // reached its final status.
                        let over = match &result {
                            Ok(value) => ends_after_final_status && is_final_status(value),
                            Err(_) => true,
                        };
                        if sender.send(result).is_ok() && !over {
                            routes.insert(id, Route::Subscription { sender, ends_after_final_status });
                        }
                    }
                    None => {}
                }
            }
        }
    }
    // Every waiting call and subscription learns that the connection is gone.
    for (_, route) in routes {
        match route {
            Route::Call(reply) => {
                let _ = reply.send(Err(WsError::Closed));
            }
            Route::Subscription { sender, .. } => drop(sender),
        }
    }
    let _ = sink.close().await;
}

/// How a fetched snapshot failed to match its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotMismatch {
    /// They add up to another size.
    #[error("add up to another size than described")]
    Size,
    /// A chunk's data is not base64.
    #[error("include chunk {index}, which is not base64")]
    Chunk {
        /// The chunk.
        index: u64,
    },
    /// They hash to another sha256.
    #[error("hash to another sha256 than described")]
    Digest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::{Balance, Genesis, Transaction};

    fn frame<A: Serialize + ?Sized>(name: &str, args: Option<&A>) -> Value {
        let frame = Request {
            kind: RequestType::Subscribe,
            name,
            api: API_VERSION,
            id: 7,
            args,
        };
        serde_json::from_str(&serde_json::to_string(&frame).expect("serialises")).expect("JSON")
    }

    #[test]
    fn a_push_frame_carries_the_transaction_as_the_value_path_did() {
        let tx = Transaction::signed(
            &Genesis::dev_key(),
            Address([4; 20]),
            Balance::from(1),
            0,
            1_800_000_000,
            Vec::new(),
        )
        .to_raw();
        let direct = frame("push_transaction", Some(&tx));
        let through_value = serde_json::to_value(&tx).expect("serialises");
        assert_eq!(direct["args"], through_value);
        assert_eq!(direct["type"], "subscribe");
        assert_eq!(direct["id"], 7);
        assert_eq!(direct["api"], API_VERSION);
    }

    #[test]
    fn empty_or_non_object_arguments_are_left_out() {
        for args in [json!({}), json!(null), json!([1])] {
            let frame = frame("last_block_info", object(&args));
            assert!(frame.get("args").is_none(), "{args} gave {frame}");
        }
        let args = json!({ "number": 3 });
        assert_eq!(frame("find_block", object(&args))["args"], args);
    }

    #[test]
    fn only_a_pending_status_is_not_final() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).expect("JSON");
        assert!(!is_final_status(&raw(r#"{"status_code":1,"message":"x"}"#)));
        assert!(is_final_status(&raw(r#"{"status_code":0,"message":"x"}"#)));
        assert!(is_final_status(&raw(r#"{"message":"no code"}"#)));
        assert!(is_final_status(&raw(r#""not an object""#)));
    }

    #[test]
    fn an_answer_frame_keeps_its_result_unparsed() {
        let text = r#"{"id":3,"status":"ok","result":{"status_code":1, "message":"a\"b"}}"#;
        let answer: Answer = serde_json::from_str(text).expect("parses");
        assert_eq!(answer.id, Some(3));
        assert_eq!(answer.status, "ok");
        let result = answer.result.expect("a result");
        assert_eq!(result.get(), r#"{"status_code":1, "message":"a\"b"}"#);
        let null: Answer =
            serde_json::from_str(r#"{"id":3,"status":"ok","result":null}"#).expect("parses");
        assert!(null.result.is_none());
    }
}
