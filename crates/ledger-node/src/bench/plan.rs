//! What a run will push, decided before anything is timed: sender keys
//! from a seed, a genesis that funds them, and every transfer signed.

use ledger_core::{Address, Balance, Genesis, Hash, RawTransaction, SecretKey, Transaction};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::token;

/// What each sender holds at genesis: far more than any run spends.
pub(crate) const SENDER_FUNDS: u64 = 1 << 50;

/// Each native transfer moves this much, for this fee.
pub(crate) const AMOUNT: u64 = 1;
pub(crate) const FEE: u64 = 1;

/// The block gas limit of the bench genesis: high enough that gas never
/// bounds a block (the dev genesis's 3·10^7 holds only 500 ERC-20
/// transfers of fee 60,000), so a run measures the node, not the setting.
pub(crate) const BLOCK_GAS_LIMIT: u64 = 1_000_000_000;

/// What each transfer of a run is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Workload {
    // These comments are `bench --help`'s text: plain words, no rustdoc
    // links (the constants are AMOUNT, FEE and token::TRANSFER_FEE).
    /// A native transfer of 1 for a fee of 1.
    #[default]
    Native,
    /// An ERC-20 `transfer(receiver, 1)` call of OpenZeppelin's token
    /// (`contracts/`), with a fee (gas limit) of 60,000; the token is
    /// deployed and shared out to the senders before timing.
    Erc20,
}

/// What a transfer carries: a native amount, or a call of a deployed token.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Payload {
    Native,
    Erc20 { token: Address },
}

impl Payload {
    /// The native amount each transfer moves.
    pub(crate) fn amount(self) -> u64 {
        match self {
            Payload::Native => AMOUNT,
            Payload::Erc20 { .. } => 0,
        }
    }

    /// The fee each transfer offers (a call's gas limit).
    pub(crate) fn fee(self) -> u64 {
        match self {
            Payload::Native => FEE,
            Payload::Erc20 { .. } => token::TRANSFER_FEE,
        }
    }

    /// `key`'s transfer of one unit to `receiver`, salted `salt`.
    pub(crate) fn transaction(self, key: &SecretKey, receiver: Address, salt: u32) -> Transaction {
        match self {
            Payload::Native => {
                Transaction::signed(key, receiver, Balance::from(AMOUNT), FEE, salt, Vec::new())
            }
            Payload::Erc20 { token } => Transaction::signed(
                key,
                token,
                Balance::ZERO,
                token::TRANSFER_FEE,
                salt,
                token::transfer_call(receiver, Balance::from(1)),
            ),
        }
    }
}

/// `count` sender keys, the same for the same `seed`: a node started with
/// [`genesis`] of the same seed funds them.
pub(crate) fn sender_keys(seed: u64, count: usize) -> Vec<SecretKey> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| SecretKey::generate_with(&mut rng))
        .collect()
}

/// A genesis funding `senders` with [`SENDER_FUNDS`] each, and the dev key
/// as the dev genesis does (so the usual client commands work on it), with
/// a block gas limit of [`BLOCK_GAS_LIMIT`].
pub(crate) fn genesis(senders: &[SecretKey]) -> Genesis {
    let mut genesis = Genesis::dev();
    let funds = Balance::from(SENDER_FUNDS);
    genesis
        .accounts
        .extend(senders.iter().map(|key| (key.address(), funds)));
    genesis.settings.block_gas_limit = BLOCK_GAS_LIMIT;
    genesis
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

/// Transfers `first..first + count` of `payload` from `keys` in turn,
/// signed on `threads` threads. `salt` is also the transactions'
/// timestamp.
pub(crate) fn sign(
    keys: &[SecretKey],
    payload: Payload,
    first: usize,
    count: usize,
    salt: u32,
    threads: usize,
    signed: &(dyn Fn() + Sync),
) -> Vec<Planned> {
    in_parallel(first..first + count, threads, |n| {
        let sender = n % keys.len();
        let to = receiver(salt, n);
        let tx = payload.transaction(&keys[sender], to, salt);
        signed();
        Planned {
            hash: tx.hash(),
            raw: tx.to_raw(),
            sender,
            to,
        }
    })
}

/// `each` of `items`, in order, on `threads` threads (for signing: tens of
/// microseconds apiece).
pub(crate) fn in_parallel<T: Send>(
    items: std::ops::Range<usize>,
    threads: usize,
    each: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let each = &each;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .clone()
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(items.end);
                scope.spawn(move || (start..end).map(each).collect::<Vec<_>>())
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
        let parsed = Genesis::from_json(&genesis.to_json()).expect("parses");
        assert_eq!(parsed, genesis);
        assert_eq!(parsed.settings.block_gas_limit, BLOCK_GAS_LIMIT);
        assert_eq!(parsed.accounts.len(), 4, "three senders and the dev key");
    }

    #[test]
    fn signed_in_parallel_as_in_order() {
        let keys = sender_keys(1, 3);
        let parallel = sign(&keys, Payload::Native, 10, 7, 99, 3, &|| {});
        let serial = sign(&keys, Payload::Native, 10, 7, 99, 1, &|| {});
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
