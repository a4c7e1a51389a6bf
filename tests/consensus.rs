//! Four `ledger-node` processes as validators of one network on loopback
//! (issue 14): they decide the same blocks, a transfer pushed to any one
//! of them reaches every validator (forwarded through their APIs) and its
//! final status through the likelib API, `peers` shows the others, and a
//! validator killed with SIGKILL catches up on restart from its peers
//! (Malachite's value sync serving the stored blocks and certificates),
//! one that lost its data directory rejoins by state sync (a validator's
//! snapshot, checked against its certificate), and a follower syncs every
//! block from the genesis, stores what they decide and relays what is
//! pushed to it; and one partitioned by proxies on its p2p paths decides
//! nothing alone and catches up once healed.
//!
//! Real processes, real sockets and real consensus timeouts: every wait is
//! on an answer or a block, bounded, never a sleep.

mod support;

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use ledger_consensus::testing::{isolate, Link};
use ledger_consensus::{ValidatorEntry, ValidatorKey};
use ledger_core::{Balance, Genesis, Sealable, StatusCode};
use ledger_ws::protocol::BlockRef;
use support::{address, dev_transfer, Node};

const VALIDATORS: usize = 4;

/// Writes the network's genesis (the dev genesis listing four validators)
/// and each validator's key; the options each node runs with.
fn network_in(dir: &Path) -> Vec<Vec<String>> {
    let ports = ledger_consensus::loopback_addresses(2 * VALIDATORS).expect("free ports");
    let (ports, apis) = ports.split_at(VALIDATORS);
    let keys: Vec<ValidatorKey> = (0..VALIDATORS)
        .map(|i| ValidatorKey::from_bytes([i as u8 + 1; 32]))
        .collect();
    let mut genesis = Genesis::dev();
    genesis.validators = keys
        .iter()
        .zip(ports.iter().zip(apis))
        .map(|(key, (port, api))| ValidatorEntry {
            public_key: hex::encode(key.public_key().as_bytes()),
            power: 1,
            p2p: Some(port.to_string()),
            api: Some(format!("ws://{api}")),
        })
        .collect();
    let genesis_file = dir.join("genesis.json");
    std::fs::write(&genesis_file, genesis.to_json()).expect("writes");
    keys.iter()
        .zip(ports.iter().zip(apis))
        .enumerate()
        .map(|(i, (key, (port, api)))| {
            let key_file = dir.join(format!("validator-{i}.key"));
            key.save(&key_file).expect("saves");
            vec![
                "--genesis".into(),
                genesis_file.display().to_string(),
                "--validator-key".into(),
                key_file.display().to_string(),
                "--p2p".into(),
                port.to_string(),
                "--ws".into(),
                api.to_string(),
            ]
        })
        .collect()
}

fn start(dir: &Path, i: usize, options: &[String]) -> Node {
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    Node::start_in(&dir.join(format!("node-{i}")), &options).expect("the validator starts")
}

/// Pushes `tx` to `node` alone and waits for its final status there;
/// then every node of `nodes` has applied it (they decide blocks
/// together, so each stores the block before `node` announces it or soon
/// after: asked until it has, on each block).
async fn push_to_one(node: &Node, nodes: &[&Node], tx: &ledger_core::Transaction) {
    let client = node.client().await;
    let status = tokio::time::timeout(Duration::from_secs(60), client.push_and_wait(&tx.to_raw()))
        .await
        .expect("final within a minute")
        .expect("a final status");
    assert_eq!(status.status_code, StatusCode::Success, "{status:?}");
    let hash = tx.clone().seal().hash();
    for other in nodes {
        let client = other.client().await;
        tokio::time::timeout(Duration::from_secs(60), async {
            let mut blocks = client.subscribe_blocks().await.expect("subscribes");
            while client
                .find_transaction_status(&hash)
                .await
                .map(|s| s.status_code)
                .ok()
                != Some(StatusCode::Success)
            {
                let _ = blocks.next().await;
            }
        })
        .await
        .expect("applied everywhere within a minute");
    }
}

/// Every node of `nodes` has the same block at every depth up to the
/// first's top, and the same balance of `to`.
async fn same_chain(nodes: &[&Node], to: ledger_core::Address) {
    let first = nodes[0].client().await;
    let top = first.last_block_info().await.expect("answers");
    for node in &nodes[1..] {
        let client = node.client().await;
        for depth in 1..=top.top_block_number {
            let expected = first
                .find_block(BlockRef::Number(depth))
                .await
                .expect("a block");
            let block = client
                .find_block(BlockRef::Number(depth))
                .await
                .expect("a block");
            assert_eq!(block, expected, "block {depth}");
        }
        assert_eq!(
            client.account_info(&to).await.expect("answers").balance,
            first.account_info(&to).await.expect("answers").balance
        );
    }
}

/// On every node of `nodes`, the balances of the dev account, `to` and
/// every coinbase that ever proposed (`coinbases`) add up to the genesis
/// supply plus the rewards of every block: no value created or lost.
async fn supply_holds(
    nodes: &[&Node],
    to: ledger_core::Address,
    coinbases: &[ledger_core::Address],
) {
    let mut holders = vec![support::dev_key().address(), to];
    holders.extend_from_slice(coinbases);
    holders.sort_by_key(|address| address.0);
    holders.dedup();
    for node in nodes {
        support::check_supply(&node.client().await, &holders).await;
    }
}

/// The balance of `address` on `node`.
async fn balance_of(node: &Node, address: ledger_core::Address) -> Balance {
    let client = node.client().await;
    client
        .account_info(&address)
        .await
        .expect("answers")
        .balance
}

/// The depth of `node`'s top block.
async fn top_of(node: &Node) -> u64 {
    let client = node.client().await;
    client
        .last_block_info()
        .await
        .expect("answers")
        .top_block_number
}

/// Waits until `node`'s top block is at least `depth`.
async fn until_depth(node: &Node, depth: u64) {
    let client = node.client().await;
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let mut blocks = client.subscribe_blocks().await.expect("subscribes");
            if client
                .last_block_info()
                .await
                .expect("answers")
                .top_block_number
                >= depth
            {
                return;
            }
            let _ = blocks.next().await;
        }
    })
    .await
    .expect("caught up within a minute");
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validator_processes_decide_and_killed_or_wiped_ones_catch_up() {
    let temp = tempfile::tempdir().expect("a directory");
    let dir = temp.path();
    let options = network_in(dir);
    let mut nodes: Vec<Node> = (0..VALIDATORS)
        .map(|i| start(dir, i, &options[i]))
        .collect();
    let mut coinbases: Vec<ledger_core::Address> = nodes.iter().map(|n| n.coinbase).collect();
    for node in &nodes {
        let info = node.client().await.node_info().await.expect("answers");
        assert_eq!(info.mode, "validator");
    }
    // The network's genesis without --p2p: refused, not run alone (which
    // would fork the network's chain).
    let alone = Node::start_in(
        &dir.join("alone"),
        &options[0][..2]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let refusal = alone.err().expect("refused");
    assert!(refusal.contains("--p2p"), "{refusal}");

    let to = address(42);
    let all: Vec<&Node> = nodes.iter().collect();
    // Pushed to the last validator only: forwarded to the others.
    push_to_one(all[3], &all, &dev_transfer(to, 100, 1, 1)).await;
    same_chain(&all, to).await;

    // A follower (its key in no validator list) stores what the network
    // decides; a push to it is relayed to the validators and decided.
    let p2p = ledger_consensus::loopback_addresses(1).expect("a free port")[0];
    let follower_key = dir.join("follower.key");
    ValidatorKey::from_bytes([9; 32])
        .save(&follower_key)
        .expect("saves");
    let follower_options: Vec<String> = vec![
        options[0][0].clone(),
        options[0][1].clone(),
        "--validator-key".into(),
        follower_key.display().to_string(),
        "--p2p".into(),
        p2p.to_string(),
        "--follow".into(),
        // Syncs every block from the genesis: the path a node takes when
        // no snapshot is served (the wiped validator below takes one).
        "--no-state-sync".into(),
    ];
    let follower = start(dir, VALIDATORS + 1, &follower_options);
    let info = follower.client().await.node_info().await.expect("answers");
    assert_eq!(info.mode, "follower");
    let with_follower: Vec<&Node> = nodes.iter().chain([&follower]).collect();
    push_to_one(&follower, &with_follower, &dev_transfer(to, 1, 1, 90)).await;
    same_chain(&with_follower, to).await;
    drop(follower);
    let peers = nodes[0]
        .client()
        .await
        .peers()
        .await
        .expect("answers")
        .peers;
    assert_eq!(peers.len(), VALIDATORS - 1);

    // SIGKILL one; the three left still decide.
    let mut killed = nodes.pop().expect("four");
    killed.signal("KILL");
    let rest: Vec<&Node> = nodes.iter().collect();
    push_to_one(rest[0], &rest, &dev_transfer(to, 100, 1, 2)).await;
    push_to_one(rest[1], &rest, &dev_transfer(to, 100, 1, 3)).await;
    same_chain(&rest, to).await;

    // Restarted on its data directory, it syncs what it missed.
    let restarted = start(dir, VALIDATORS - 1, &options[VALIDATORS - 1]);
    let top = top_of(&nodes[0]).await;
    until_depth(&restarted, top).await;
    nodes.push(restarted);
    let all: Vec<&Node> = nodes.iter().collect();
    same_chain(&all, to).await;
    assert_eq!(balance_of(&nodes[3], to).await, Balance::from(301));

    // `peers` shows the three others, reachable, at a height they reached;
    // a forwarder asks every second, so this is asked again on each block
    // (bounded by the blocks a last push makes).
    let client = nodes[0].client().await;
    let reachable = |peers: &[ledger_ws::extensions::WirePeer]| {
        peers.len() == VALIDATORS - 1 && peers.iter().all(|p| p.reachable && p.height >= 1)
    };
    let mut n = 10;
    while !reachable(&client.peers().await.expect("answers").peers) {
        assert!(
            n < 40,
            "peers never all reachable: {:?}",
            client.peers().await
        );
        let all: Vec<&Node> = nodes.iter().collect();
        push_to_one(all[0], &all, &dev_transfer(to, 1, 1, n)).await;
        n += 1;
    }

    // A validator that lost its data directory (its key kept) rejoins by
    // state sync: the chain and the state at a validator's top, checked
    // against its certificate, installed at once; then it decides on.
    let wiped = nodes.remove(2);
    let (status, _, data) = wiped.stop();
    assert!(status.success(), "{status}");
    std::fs::remove_dir_all(&data).expect("wipes");
    let top = top_of(&nodes[0]).await;
    let rejoined = start(dir, 2, &options[2]);
    // A new data directory, a new node key: its blocks pay a new coinbase.
    coinbases.push(rejoined.coinbase);
    assert!(
        rejoined
            .startup
            .iter()
            .any(|line| line.starts_with(&format!("state synced at depth {top} from ws://"))),
        "no snapshot taken at depth {top}: {:?}",
        rejoined.startup
    );
    // The snapshot served is described, fetched whole and bounded.
    let served = nodes[0].client().await;
    let info = served.state_snapshot().await.expect("a snapshot");
    assert_eq!(info.depth, top);
    match served.state_snapshot_chunk(info.depth, info.chunks).await {
        Err(ledger_ws::WsError::Api(error)) => {
            assert_eq!(error.code, ledger_ws::ErrorCode::InvalidArgs, "{error:?}")
        }
        other => panic!("a chunk past the last must be refused: {other:?}"),
    }
    until_depth(&rejoined, top).await;
    nodes.push(rejoined);
    let all: Vec<&Node> = nodes.iter().collect();
    same_chain(&all, to).await;
    push_to_one(all[3], &all, &dev_transfer(to, 1, 1, 91)).await;
    same_chain(&all, to).await;
    supply_holds(&all, to, &coinbases).await;
}

/// Four processes whose every p2p path goes through its own proxy: one
/// validator cut off by a partition (its links black-holed, not closed)
/// decides nothing while the other three go on; healed, it syncs their
/// blocks, holds the same chain, and a push to it is decided everywhere.
#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_validator_process_does_not_split_the_chain_and_catches_up() {
    let temp = tempfile::tempdir().expect("a directory");
    let dir = temp.path();
    let mut options = network_in(dir);
    let p2p: Vec<std::net::SocketAddr> = options
        .iter()
        .map(|o| {
            let at = o.iter().position(|x| x == "--p2p").expect("--p2p");
            o[at + 1].parse().expect("an address")
        })
        .collect();
    let mut links = Vec::new();
    for (from, node_options) in options.iter_mut().enumerate() {
        let mut peers = Vec::new();
        for (to, target) in p2p.iter().enumerate().filter(|(to, _)| *to != from) {
            let (link, address) = Link::new(from, to, *target).expect("a proxy");
            links.push(link);
            peers.push(address.to_string());
        }
        node_options.extend(["--peers".to_owned(), peers.join(",")]);
    }
    let nodes: Vec<Node> = (0..VALIDATORS)
        .map(|i| start(dir, i, &options[i]))
        .collect();
    let to = address(43);
    let all: Vec<&Node> = nodes.iter().collect();
    push_to_one(all[0], &all, &dev_transfer(to, 10, 1, 1)).await;

    let isolated = 3;
    let partition = |cut: bool| isolate(&links, isolated, cut);
    partition(true);
    let before = top_of(all[isolated]).await;
    let rest = &all[..isolated];
    push_to_one(rest[0], rest, &dev_transfer(to, 10, 1, 2)).await;
    push_to_one(rest[1], rest, &dev_transfer(to, 10, 1, 3)).await;
    assert_eq!(
        top_of(all[isolated]).await,
        before,
        "a quarter of the voting power decided alone"
    );

    partition(false);
    let top = top_of(all[0]).await;
    until_depth(all[isolated], top).await;
    same_chain(&all, to).await;
    push_to_one(all[isolated], &all, &dev_transfer(to, 10, 1, 4)).await;
    same_chain(&all, to).await;
    assert_eq!(balance_of(all[isolated], to).await, Balance::from(40));
    let coinbases: Vec<ledger_core::Address> = nodes.iter().map(|n| n.coinbase).collect();
    supply_holds(&all, to, &coinbases).await;
}

/// `ledger-node devnet`: a validator that dies is reported, the other
/// three keep deciding (one faulty of four is what the network tolerates),
/// and devnet starts it again on its own.
#[tokio::test(flavor = "multi_thread")]
async fn devnet_keeps_deciding_without_a_dead_validator_and_starts_it_again() {
    use std::sync::mpsc::Receiver;
    let temp = tempfile::tempdir().expect("a directory");
    let mut devnet = std::process::Command::new(support::BINARY)
        .args(["devnet", "4", "--dir"])
        .arg(temp.path().join("net"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let stdout = support::lines_of(devnet.stdout.take().expect("piped"));
    let stderr = support::lines_of(devnet.stderr.take().expect("piped"));
    let wait_for = |lines: &Receiver<String>, wanted: &dyn Fn(&str) -> bool| -> String {
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .expect("the line within a minute");
            if wanted(&line) {
                return line;
            }
        }
    };
    // The table: index, pid, API.
    let mut validators = Vec::new();
    while validators.len() < VALIDATORS {
        let line = wait_for(&stdout, &|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|first| first.parse::<usize>().is_ok())
        });
        let words: Vec<&str> = line.split_whitespace().collect();
        validators.push((words[1].to_owned(), words[2].to_owned()));
    }
    let to = address(44);
    let client = connect_when_up(&validators[0].1).await;
    support::pay(&client, to, 10, 1, 1).await;

    let (dead_pid, _) = &validators[1];
    let killed = std::process::Command::new("kill")
        .args(["-KILL", dead_pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let reported = wait_for(&stderr, &|line| line.starts_with("validator 1 exited"));
    assert!(
        reported.contains("killed by signal 9") && reported.contains("3 of 4 running"),
        "{reported}"
    );
    // Three of four decide.
    support::pay(&client, to, 10, 1, 2).await;
    let restarted = wait_for(&stderr, &|line| {
        line.starts_with("validator 1 started again")
    });
    assert!(restarted.contains("pid"), "{restarted}");
    // Back with the others: it catches up and answers.
    let back = connect_when_up(&validators[1].1).await;
    let top = client
        .last_block_info()
        .await
        .expect("tip")
        .top_block_number;
    let mut blocks = back.subscribe_blocks().await.expect("subscribes");
    while let Some(block) = blocks.next().await {
        if block.expect("a block").top_block_number >= top {
            break;
        }
    }
    support::pay(&back, to, 10, 1, 3).await;

    let stopped = std::process::Command::new("kill")
        .args(["-INT", &devnet.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let status = devnet.wait().expect("exits");
    assert!(status.success(), "devnet stops cleanly: {status:?}");
}

/// A client of the API at `url`, once it accepts connections (a validator
/// starting up, within a minute).
async fn connect_when_up(url: &str) -> ledger_ws::Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match ledger_ws::Client::connect(url).await {
            Ok(client) => return client,
            Err(error) if tokio::time::Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("{url} did not come up: {error}"),
        }
    }
}
