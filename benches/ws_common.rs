//! What the WebSocket examples share: a block of large transactions to
//! read. Included by each example with `#[path]`.

use futures_util::StreamExt;
use ledger_core::{Balance, Genesis, Transaction};
use ledger_ws::protocol::BlockRef;
use ledger_ws::Client;

/// Pushes three transfers of 700,000 bytes of data each (from the dev
/// key) and returns the number of the largest block they landed in, and
/// the size of its `find_block` answer in bytes.
pub(crate) async fn large_block(
    client: &Client,
) -> Result<(u64, usize), Box<dyn std::error::Error>> {
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as u32;
    let mut pushes = Vec::new();
    for n in 0..3 {
        let to = ledger_core::Address([8; 20]);
        let data = vec![n as u8; 700_000];
        let tx = Transaction::signed(&Genesis::dev_key(), to, Balance::from(1), 0, salt + n, data);
        pushes.push(client.push_transaction(&tx.to_raw()).await?);
    }
    for mut statuses in pushes {
        while statuses.next().await.is_some() {}
    }
    let top = client.last_block_info().await?.top_block_number;
    let mut largest = (0, 0);
    for number in 1..=top {
        let block = client.find_block(BlockRef::Number(number)).await?;
        largest = largest.max((serde_json::to_string(&block)?.len(), number));
    }
    Ok((largest.1, largest.0))
}
