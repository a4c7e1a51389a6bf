//! Property tests: fast paths against reference paths, round trips of every
//! wire text, and the ledger's invariants under random workloads.

use std::collections::{BTreeMap, HashSet};

use ledger_core::{
    Address, Balance, Block, ChainConfig, Genesis, Hash, Ledger, MemoryStore, RawTransaction,
    Sealable, SecretKey, Signature, StateRead, StatusCode, Transaction, VerifiedTransaction, U256,
};
use proptest::prelude::*;
use rand::SeedableRng;

fn any_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        1 => Just(Address::NULL),
        1 => any::<[u8; 4]>().prop_map(|tail| {
            let mut bytes = [0u8; 20];
            bytes[16..].copy_from_slice(&tail);
            Address(bytes)
        }),
        8 => any::<[u8; 20]>().prop_map(Address),
    ]
}

fn any_balance() -> impl Strategy<Value = Balance> {
    prop_oneof![
        any::<u64>().prop_map(Balance::from),
        any::<[u64; 4]>().prop_map(|limbs| Balance::from(U256(limbs))),
        Just(Balance::MAX),
        Just(Balance::ZERO),
    ]
}

fn any_key() -> impl Strategy<Value = SecretKey> {
    any::<u64>()
        .prop_map(|seed| SecretKey::generate_with(&mut rand::rngs::StdRng::seed_from_u64(seed)))
}

fn any_transaction() -> impl Strategy<Value = Transaction> {
    (
        any_address(),
        any_address(),
        any_balance(),
        any::<u64>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..80),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        0u8..4,
    )
        .prop_map(|(from, to, amount, fee, timestamp, data, r, s, id)| {
            let mut sign = [0u8; 65];
            sign[..32].copy_from_slice(&r);
            sign[32..64].copy_from_slice(&s);
            sign[64] = id;
            Transaction {
                from,
                to,
                amount,
                fee,
                timestamp,
                data,
                sign: Signature(sign),
            }
        })
}

proptest! {
    #[test]
    fn address_text_round_trips(address in any_address()) {
        let text = address.to_string();
        prop_assert_eq!(text.parse::<Address>().ok(), Some(address));
        prop_assert_eq!(bs58::encode(address.0).into_string(), text);
    }

    #[test]
    fn hash_text_round_trips(bytes in any::<[u8; 32]>()) {
        let hash = Hash(bytes);
        prop_assert_eq!(hash.to_string().parse::<Hash>().ok(), Some(hash));
    }

    #[test]
    fn balance_text_round_trips(balance in any_balance()) {
        prop_assert_eq!(balance.to_string().parse::<Balance>().ok(), Some(balance));
    }

    #[test]
    fn balance_parsing_matches_the_reference(digits in "[1-9][0-9]{0,80}") {
        let reference = U256::from_dec_str(&digits).ok().map(Balance::from);
        prop_assert_eq!(digits.parse::<Balance>().ok(), reference);
    }

    #[test]
    fn fee_parsing_matches_the_reference(digits in "[1-9][0-9]{0,21}") {
        prop_assert_eq!(ledger_core::parse_u64(&digits).ok(), digits.parse::<u64>().ok());
    }

    #[test]
    fn wire_transaction_round_trips_and_fast_hash_matches(tx in any_transaction()) {
        let raw = tx.to_raw();
        let parsed = Transaction::from_raw(&raw).expect("its own wire form parses");
        prop_assert_eq!(parsed.inner(), &tx);
        prop_assert_eq!(parsed.to_raw(), raw);
        // The fast path (wire texts) equals the reference path (re-encoded fields).
        prop_assert_eq!(parsed.hash(), tx.compute_hash());
        prop_assert_eq!(parsed.hash(), ledger_core::sha256(tx.hash_preimage().as_bytes()));
    }

    #[test]
    fn blocks_round_trip_and_hash_stably(
        depth in any::<u64>(),
        nonce in any::<u64>(),
        timestamp in any::<u32>(),
        previous in any::<[u8; 32]>(),
        coinbase in any_address(),
        transactions in proptest::collection::vec(any_transaction(), 0..6),
    ) {
        let block = Block {
            depth,
            nonce,
            timestamp,
            previous_block_hash: Hash(previous),
            coinbase,
            transactions: transactions.into_iter().map(Sealable::seal).collect(),
        };
        let encoded = block.encode();
        let decoded = Block::decode(&encoded).expect("decodes");
        prop_assert_eq!(&decoded, &block);
        prop_assert_eq!(decoded.compute_hash(), block.clone().seal().hash());
        prop_assert_eq!(block.compute_hash(), ledger_core::sha256(&encoded));
        for cut in [0, encoded.len() / 2, encoded.len().saturating_sub(1)] {
            if cut < encoded.len() {
                prop_assert!(Block::decode(&encoded[..cut]).is_err());
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_block_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Block::decode(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn signing_then_recovering_gives_the_signer(
        key in any_key(),
        to in any_address(),
        amount in any_balance(),
        fee in any::<u64>(),
        timestamp in any::<u32>(),
        data in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let tx = Transaction::signed(&key, to, amount, fee, timestamp, data);
        let verified = VerifiedTransaction::from_raw(&tx.to_raw()).expect("verifies");
        prop_assert_eq!(verified.from, key.address());
        let mut tampered = tx.clone();
        tampered.fee = fee.wrapping_add(1);
        prop_assert!(tampered.seal().verify().is_err());
    }

    /// A batch verifies on any number of threads as each transaction
    /// alone, in order.
    #[test]
    fn a_batch_verifies_as_each_alone(
        key in any_key(),
        fees in proptest::collection::vec(any::<u64>(), 0..24),
        forged in proptest::collection::vec(any::<bool>(), 24),
        threads in 0usize..6,
    ) {
        let raws: Vec<RawTransaction> = fees
            .iter()
            .zip(&forged)
            .map(|(&fee, &forged)| {
                let mut raw = Transaction::signed(&key, Address([1; 20]), Balance::from(1), fee, 7, Vec::new()).to_raw();
                if forged {
                    raw.fee = fee.wrapping_add(1).to_string();
                }
                raw
            })
            .collect();
        let batch = VerifiedTransaction::from_raws(&raws, threads);
        prop_assert_eq!(batch.len(), raws.len());
        for (raw, verified) in raws.iter().zip(batch) {
            // The same transaction, or the same refusal.
            match (verified, VerifiedTransaction::from_raw(raw)) {
                (Ok(batch), Ok(alone)) => prop_assert_eq!(batch, alone),
                (Err(batch), Err(alone)) => prop_assert_eq!(batch.to_string(), alone.to_string()),
                (batch, alone) => prop_assert!(false, "batch {:?}, alone {:?}", batch, alone),
            }
        }
    }
}

/// One step of a random workload.
#[derive(Clone, Debug)]
enum Step {
    /// A signed transfer between two of the accounts, possibly unaffordable.
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
        fee: u64,
    },
    /// The same transfer with its amount changed after signing.
    Forged { from: usize, to: usize, amount: u64 },
    /// A transfer whose amount text is malformed.
    Malformed { from: usize },
    /// A contract creation, which fails on this core.
    Create { from: usize, fee: u64 },
    /// Push a transaction pushed before again.
    Repeat { which: usize },
    /// Produce a block.
    Produce { miner: usize, advance: u32 },
}

fn any_step(accounts: usize) -> impl Strategy<Value = Step> {
    let who = 0..accounts;
    prop_oneof![
        8 => (who.clone(), who.clone(), 0u64..400_000, 0u64..1_000)
            .prop_map(|(from, to, amount, fee)| Step::Transfer { from, to, amount, fee }),
        1 => (who.clone(), who.clone(), 0u64..1_000).prop_map(|(from, to, amount)| Step::Forged { from, to, amount }),
        1 => who.clone().prop_map(|from| Step::Malformed { from }),
        1 => (who.clone(), 0u64..10_000).prop_map(|(from, fee)| Step::Create { from, fee }),
        2 => any::<usize>().prop_map(|which| Step::Repeat { which }),
        3 => (who, 0u32..3).prop_map(|(miner, advance)| Step::Produce { miner, advance }),
    ]
}

const ACCOUNTS: usize = 5;
const T0: u32 = 1_700_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Value is never created or lost, whatever mix of valid and invalid
    /// transactions arrives, and no transaction is ever applied twice.
    #[test]
    fn supply_is_conserved_and_nothing_applies_twice(
        seed in any::<u64>(),
        steps in proptest::collection::vec(any_step(ACCOUNTS), 1..60),
    ) {
        let keys = ledger_core::testing::keys(ACCOUNTS, seed);
        let addresses: Vec<Address> = keys.iter().map(SecretKey::address).collect();
        let reward = Balance::from(1000);
        let genesis = Genesis {
            timestamp: T0,
            block_reward: reward,
            accounts: addresses.iter().take(3).map(|a| (*a, Balance::from(1_000_000))).collect::<BTreeMap<_, _>>(),
            settings: Default::default(),
            validators: Vec::new(),
        };
        let allocations = genesis.total_supply().expect("fits");
        let config = ChainConfig { max_block_transactions: 7, max_pending: 1_000, ..ChainConfig::default() };
        let mut ledger = Ledger::open(MemoryStore::new(), genesis, config).expect("opens");
        // What was pushed, and whether it was well formed and signed.
        let mut pushed: Vec<(RawTransaction, Option<StatusCode>)> = Vec::new();
        let mut time = T0;
        for (n, step) in steps.into_iter().enumerate() {
            let stamp = T0 + n as u32;
            // The raw transaction, and the refusal it earns whatever the state.
            let (raw, refusal) = match step {
                Step::Transfer { from, to, amount, fee } => (Transaction::signed(
                    &keys[from], addresses[to], Balance::from(amount), fee, stamp, vec![],
                ).to_raw(), None),
                Step::Forged { from, to, amount } => {
                    let mut raw = Transaction::signed(
                        &keys[from], addresses[to], Balance::from(amount), 1, stamp, vec![],
                    ).to_raw();
                    raw.amount = (amount + 1).to_string();
                    (raw, Some(StatusCode::BadSign))
                }
                Step::Malformed { from } => (RawTransaction {
                    amount: "01".into(),
                    ..Transaction::signed(&keys[from], addresses[0], Balance::from(1), 1, stamp, vec![]).to_raw()
                }, Some(StatusCode::BadQueryForm)),
                Step::Create { from, fee } => (Transaction::signed(
                    &keys[from], Address::NULL, Balance::ZERO, fee, stamp, vec![0x00],
                ).to_raw(), None),
                Step::Repeat { which } => match pushed.get(which % pushed.len().max(1)) {
                    Some(earlier) => earlier.clone(),
                    None => continue,
                },
                Step::Produce { miner, advance } => {
                    time += advance;
                    ledger.produce_block(time, addresses[miner]).expect("produces");
                    continue;
                }
            };
            // The reference: the admission table of ledger-rules.md, in order.
            let expected = match refusal {
                Some(code) => code,
                None => {
                    let tx = VerifiedTransaction::from_raw(&raw).expect("well formed and signed");
                    let spend = tx.amount.checked_add(Balance::from(tx.fee)).expect("fits");
                    let balance = ledger.store().account_or_default(&tx.from).expect("reads").balance;
                    let available = balance.checked_sub(ledger.mempool().pending_spend(&tx.from));
                    match ledger.store().transaction(&tx.hash()).expect("reads") {
                        Some(record) => record.status.status_code,
                        None if ledger.mempool().contains(&tx.hash()) => StatusCode::Pending,
                        None if available.is_some_and(|available| spend <= available) => StatusCode::Pending,
                        None => StatusCode::NotEnoughBalance,
                    }
                }
            };
            let status = ledger.push(&raw).expect("push never fails below the mempool bound");
            prop_assert_eq!(status.status_code, expected, "{:?}", status);
            pushed.push((raw, refusal));
        }
        while ledger.produce_block(time, addresses[0]).expect("produces").is_some() {}

        let store = ledger.store();
        let tip = store.tip().expect("reads").expect("tip");
        let mut total = Balance::ZERO;
        for address in &addresses {
            total = total.checked_add(store.account_or_default(address).expect("reads").balance).expect("fits");
        }
        let minted = reward.checked_mul_u64(tip.depth).expect("fits");
        prop_assert_eq!(total, allocations.checked_add(minted).expect("fits"));

        let mut applied = HashSet::new();
        let mut sent = vec![0u64; ACCOUNTS];
        for depth in 1..=tip.depth {
            let block = store.block_at(depth).expect("reads").expect("stored");
            prop_assert!(!block.transactions.is_empty(), "no empty blocks");
            for tx in &block.transactions {
                prop_assert!(applied.insert(tx.hash()), "{} applied twice", tx.hash());
                let record = store.transaction(&tx.hash()).expect("reads").expect("recorded");
                prop_assert_eq!(record.block_depth, depth);
                let sender = addresses.iter().position(|a| *a == tx.from).expect("one of ours");
                sent[sender] += 1;
            }
        }
        for (address, count) in addresses.iter().zip(sent) {
            prop_assert_eq!(store.account_or_default(address).expect("reads").nonce, count);
        }
        prop_assert!(ledger.mempool().is_empty());
    }
}
