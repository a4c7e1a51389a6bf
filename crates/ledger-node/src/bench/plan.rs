//! What a run will push, decided before anything is timed: sender keys
//! from a seed, a genesis that funds them, and every transfer signed.

use std::collections::BTreeMap;

use ledger_core::{Address, Balance, Genesis, Hash, RawTransaction, SecretKey, Transaction};
use rand::SeedableRng;

/// What each sender holds at genesis: far more than any run spends.
pub(crate) const SENDER_FUNDS: u64 = 1 << 50;

/// Each transfer moves this much, for this fee.
pub(crate) const AMOUNT: u64 = 1;
pub(crate) const FEE: u64 = 1;

/// `count` sender keys, the same for the same `seed`: a node started with
/// [`genesis`] of the same seed funds them.
pub(crate) fn sender_keys(seed: u64, count: usize) -> Vec<SecretKey> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| SecretKey::generate_with(&mut rng))
        .collect()
}

/// A genesis funding `senders` with [`SENDER_FUNDS`] each, and the dev key
/// as the dev genesis does (so the usual client commands work on it).
pub(crate) fn genesis(senders: &[SecretKey]) -> Genesis {
    let mut genesis = Genesis::dev();
    let funds = Balance::from(SENDER_FUNDS);
    genesis
        .accounts
        .extend(senders.iter().map(|key| (key.address(), funds)));
    genesis
}

/// The genesis as the JSON document `ledger-node run --genesis` reads.
pub(crate) fn genesis_json(genesis: &Genesis) -> String {
    let accounts: BTreeMap<String, String> = genesis
        .accounts
        .iter()
        .map(|(address, balance)| (address.to_string(), balance.to_string()))
        .collect();
    let document = serde_json::json!({
        "timestamp": genesis.timestamp,
        "block_reward": genesis.block_reward.to_string(),
        "accounts": accounts,
    });
    format!("{document:#}\n")
}

/// One signed transfer and what checking it needs.
pub(crate) struct Planned {
    pub(crate) raw: RawTransaction,
    pub(crate) hash: Hash,
    /// Index of its sender in the key list.
    pub(crate) sender: usize,
    pub(crate) to: Address,
}

/// The receiver of transfer `n` of a run salted `salt`: a fresh address
/// nobody has the key of, distinct for every `n` (so every transfer has
/// its own hash, and its balance shows that it was applied once).
pub(crate) fn receiver(salt: u32, n: usize) -> Address {
    let mut to = [0u8; 20];
    to[..8].copy_from_slice(&(n as u64).to_be_bytes());
    to[8..12].copy_from_slice(&salt.to_be_bytes());
    to[12..].copy_from_slice(b"benchto!");
    Address(to)
}

/// Transfers `first..first + count` from `keys` in turn, signed on
/// `threads` threads. `salt` is also the transactions' timestamp.
pub(crate) fn sign(
    keys: &[SecretKey],
    first: usize,
    count: usize,
    salt: u32,
    threads: usize,
) -> Vec<Planned> {
    let threads = threads.max(1);
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(count);
                scope.spawn(move || {
                    (first + start..first + end)
                        .map(|n| {
                            let sender = n % keys.len();
                            let to = receiver(salt, n);
                            let tx = Transaction::signed(
                                &keys[sender],
                                to,
                                Balance::from(AMOUNT),
                                FEE,
                                salt,
                                Vec::new(),
                            );
                            Planned {
                                hash: tx.hash(),
                                raw: tx.to_raw(),
                                sender,
                                to,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a signing thread does not panic"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_keys_and_a_genesis_that_parses() {
        let keys = sender_keys(7, 3);
        let again = sender_keys(7, 3);
        assert_eq!(
            keys.iter().map(SecretKey::address).collect::<Vec<_>>(),
            again.iter().map(SecretKey::address).collect::<Vec<_>>()
        );
        assert_ne!(keys[0].address(), sender_keys(8, 1)[0].address());
        let genesis = genesis(&keys);
        let parsed = Genesis::from_json(&genesis_json(&genesis)).expect("parses");
        assert_eq!(parsed, genesis);
        assert_eq!(parsed.accounts.len(), 4, "three senders and the dev key");
    }

    #[test]
    fn signed_in_parallel_as_in_order() {
        let keys = sender_keys(1, 3);
        let parallel = sign(&keys, 10, 7, 99, 3);
        let serial = sign(&keys, 10, 7, 99, 1);
        assert_eq!(parallel.len(), 7);
        for (a, b) in parallel.iter().zip(&serial) {
            assert_eq!(a.hash, b.hash);
            assert_eq!(a.sender, b.sender);
        }
        assert_eq!(parallel[0].to, receiver(99, 10));
        assert_eq!(parallel[0].sender, 10 % 3);
        let hashes: std::collections::HashSet<_> = parallel.iter().map(|p| p.hash).collect();
        assert_eq!(hashes.len(), 7, "every transfer has its own hash");
    }
}
