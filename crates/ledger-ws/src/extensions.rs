//! The answers of the calls and surfaces we add beyond likelib v1
//! (api-extensions.md): `node_info` (also the body of `GET /api/v1/`),
//! `peers`, `account_transactions`, `estimate_fee`, `account_code`,
//! `account_storage`, and the messages of the valid-transactions stream.

use ledger_chain::Peer;
use ledger_core::{ActionType, Address, Hash, HistoryEntry, StatusCode};
use serde::{Deserialize, Serialize};

/// The extensions this node serves, as `node_info` lists them.
pub const EXTENSIONS: [&str; 12] = [
    "timings",
    "node_info",
    "peers",
    "account_transactions",
    "find_transaction_logs",
    "logs",
    "streams",
    "metrics",
    "explorer",
    "estimate_fee",
    "account_code",
    "account_storage",
];

/// The `estimate_fee` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstimatedFee {
    /// The smallest fee the transaction succeeds with, decimal.
    pub fee: String,
    /// What it used with that fee, decimal.
    pub gas_used: String,
    /// What it would be: a transfer, a creation or a call.
    pub action_type: ActionType,
}

/// The `account_code` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCode {
    /// Base64 of the deployed code; `""` for an account without code.
    pub code: String,
}

/// The `account_storage` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStorage {
    /// Base64 of the slot's 32 bytes (zeros when never written).
    pub value: String,
}

/// The `relay_transactions` result: how the relayed transactions fared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relayed {
    /// Admitted now.
    pub admitted: u64,
    /// Already pending or applied here.
    pub known: u64,
    /// Refused: a bad signature or form, or not covered by the balance.
    pub refused: u64,
}

/// The path of the valid-transactions stream.
pub const STREAM_PATH: &str = "/api/v1/streams/valid_transactions";

/// The `node_info` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's version (of the `ledger-node` package).
    pub version: String,
    /// The likelib API versions it speaks.
    pub api: Vec<u64>,
    /// The extensions it serves.
    pub extensions: Vec<String>,
    /// The genesis block's hash.
    pub genesis_hash: Hash,
    /// Depth of the newest stored block.
    pub top_block_number: u64,
    /// Hash of the newest stored block.
    pub top_block_hash: Hash,
    /// The chain id contracts see.
    pub chain_id: u64,
    /// The EVM fork contracts run on.
    pub evm_fork: String,
    /// `single`, `validator` or `follower`.
    pub mode: String,
}

/// The body of `GET /api/v1/`: `node_info` and where the WebSocket
/// surfaces are, as the client addressed the node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRoot {
    /// The node.
    #[serde(flatten)]
    pub node: NodeInfo,
    /// The valid-transactions stream: `ws://HOST:PORT/api/v1/streams/valid_transactions`.
    pub streams: String,
    /// The likelib v1 API: `ws://HOST:PORT/`.
    pub ws: String,
}

impl ApiRoot {
    /// The root for a client that addressed the node as `host` (`HOST:PORT`).
    pub fn new(node: NodeInfo, host: &str) -> ApiRoot {
        ApiRoot {
            node,
            streams: format!("ws://{host}{STREAM_PATH}"),
            ws: format!("ws://{host}/"),
        }
    }
}

/// One peer in the `peers` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePeer {
    /// The peer's identity in the network.
    pub id: String,
    /// `HOST:PORT`.
    pub address: String,
    /// The validator it runs, if any.
    pub validator: Option<Address>,
    /// The newest block it announced.
    pub height: u64,
    /// Whether it answers now.
    pub reachable: bool,
}

impl From<Peer> for WirePeer {
    fn from(peer: Peer) -> Self {
        WirePeer {
            id: peer.id,
            address: peer.address,
            validator: peer.validator,
            height: peer.height,
            reachable: peer.reachable,
        }
    }
}

/// The `peers` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peers {
    /// The nodes this one is connected to.
    pub peers: Vec<WirePeer>,
}

/// One transaction of an account's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// The transaction.
    pub hash: Hash,
    /// Depth of its block.
    pub block_number: u64,
    /// Its 0-based position in its block.
    pub index: u32,
    /// `in`, `out` or `self`.
    pub direction: String,
}

impl From<&HistoryEntry> for HistoryItem {
    fn from(entry: &HistoryEntry) -> Self {
        HistoryItem {
            hash: entry.hash,
            block_number: entry.block_depth,
            index: entry.index,
            direction: entry.direction.name().to_owned(),
        }
    }
}

/// The `account_transactions` result: a page, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTransactions {
    /// The page.
    pub transactions: Vec<HistoryItem>,
    /// The next (older) page's cursor; `None` at the end.
    pub cursor: Option<String>,
}

/// One message of the valid-transactions stream (Planetmint's names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMessage {
    /// The transaction's hash.
    pub transaction_id: Hash,
    /// The transaction that created the asset moved: the genesis hash for
    /// the native coin, the creating transaction for a contract.
    pub asset_id: Hash,
    /// Depth of its block.
    pub height: u64,
    /// Its final status.
    pub status_code: StatusCode,
    /// What it did.
    pub action_type: ActionType,
    /// Its sender.
    pub from: Address,
    /// Its receiver (the null address for a creation).
    pub to: Address,
}
