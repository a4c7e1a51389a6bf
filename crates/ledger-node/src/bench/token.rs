//! The ERC-20 workload's token: OpenZeppelin's ERC-20 from `contracts/`
//! (built into this binary), deployed by the dev key and shared out to
//! the senders before timing starts, and read back through view calls
//! when the run is checked.

use alloy_primitives::U256;
use alloy_sol_types::{SolCall, SolValue};
use anyhow::{bail, Context};
use ledger_core::{decode_base64, Address, Balance, SecretKey, StatusCode, Transaction, ViewCall};
use ledger_vm::artifact::Artifact;
use ledger_ws::Client;

use super::load::{self, Shape};
use super::plan::{self, Planned};

/// The fee of one `transfer` call: its gas limit (a transfer to a fresh
/// holder uses about 51,000).
pub(crate) const TRANSFER_FEE: u64 = 60_000;

/// What the token mints to the dev key on deployment.
const SUPPLY: u64 = u64::MAX;

/// The compiled token, as `scripts/compile-contracts.sh` wrote it.
const ARTIFACT: &str = include_str!("../../../../contracts/artifacts/Token.json");

alloy_sol_types::sol! {
    function transfer(address to, uint256 value) external returns (bool);
    function balanceOf(address owner) external view returns (uint256);
}

fn evm_address(address: Address) -> alloy_primitives::Address {
    alloy_primitives::Address::from(address.0)
}

/// `transfer(to, value)` call data.
pub(crate) fn transfer_call(to: Address, value: Balance) -> Vec<u8> {
    transferCall {
        to: evm_address(to),
        value: U256::from_be_bytes(value.to_be_bytes()),
    }
    .abi_encode()
}

/// Deploys the token from `dev` and gives each of `senders` a share far
/// larger than any run spends; returns the token's address.
pub(crate) async fn deploy(
    url: &str,
    dev: &SecretKey,
    senders: &[SecretKey],
    salt: u32,
    threads: usize,
) -> anyhow::Result<Address> {
    let artifact =
        Artifact::parse("Token.json".as_ref(), ARTIFACT).context("the built-in token artifact")?;
    let mut code = artifact.init_code();
    code.extend(U256::from(SUPPLY).abi_encode());
    let client = Client::connect(url).await?;
    let deploy = Transaction::signed(dev, Address::NULL, Balance::ZERO, 3_000_000, salt, code);
    let status = client.push_and_wait(&deploy.to_raw()).await?;
    if status.status_code != StatusCode::Success {
        bail!("deploying the token failed: {status:?}");
    }
    let token: Address = status
        .message
        .parse()
        .with_context(|| format!("the deployment answered {:?}", status.message))?;

    let share = Balance::from(SUPPLY / 2 / senders.len().max(1) as u64);
    let handouts = plan::in_parallel(0..senders.len(), threads, |n| {
        let to = senders[n].address();
        let tx = Transaction::signed(
            dev,
            token,
            Balance::ZERO,
            2 * TRANSFER_FEE,
            salt,
            transfer_call(to, share),
        );
        Planned {
            hash: tx.hash(),
            raw: tx.to_raw(),
            sender: n,
            to,
        }
    });
    let shape = Shape {
        connections: 4,
        window: 1000,
        rate: None,
    };
    let (outcomes, _) = load::push_all(url, &handouts, shape, &|| ()).await?;
    if let Some(failed) = outcomes.iter().find(|outcome| !outcome.succeeded()) {
        bail!("sharing out the token failed: {:?}", failed.status);
    }
    Ok(token)
}

/// The token balances of `owners`, read by view calls signed by `caller`
/// (signed on `threads` threads).
pub(crate) async fn balances(
    url: &str,
    token: Address,
    owners: &[Address],
    caller: &SecretKey,
    timestamp: u32,
    threads: usize,
) -> anyhow::Result<Vec<Balance>> {
    let calls = plan::in_parallel(0..owners.len(), threads, |n| {
        let data = balanceOfCall {
            owner: evm_address(owners[n]),
        }
        .abi_encode();
        ViewCall::sign_raw(caller, token, timestamp, &data)
    });
    super::read_each(url, &calls, |client, call| {
        Box::pin(async move {
            let output = decode_base64(&client.call_contract_view(call).await?)?;
            let balance = balanceOfCall::abi_decode_returns(&output)
                .with_context(|| format!("balanceOf answered {} bytes", output.len()))?;
            Ok(Balance::from_be_bytes(balance.to_be_bytes()))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_token_parses_and_calls_encode_as_solidity_does() {
        let artifact = Artifact::parse("Token.json".as_ref(), ARTIFACT).expect("parses");
        assert!(!artifact.init_code().is_empty());
        let to = Address([0x11; 20]);
        let data = transfer_call(to, Balance::from(258));
        // transfer(address,uint256): a9059cbb, the address left-padded, the value.
        assert_eq!(hex::encode(&data[..4]), "a9059cbb");
        assert_eq!(&data[4..16], &[0; 12]);
        assert_eq!(&data[16..36], &[0x11; 20]);
        assert_eq!(&data[36..66], &[0; 30]);
        assert_eq!(&data[66..], &[1, 2]);
    }
}
