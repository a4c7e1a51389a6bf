//! Checking a block from elsewhere (a proposal or a synced block) before
//! voting, and serving decided blocks to validators that fell behind.

use bytes::Bytes;
use ledger_chain::{Chain, ChainError};
use ledger_core::StateRead;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, Round, Validity, Value as _,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::ProposedValue;

use super::{App, AppError, Assembled, Candidate};
use crate::codec::{decode_block_value, encode_block_value, LedgerCodec};
use crate::context::{Height, LedgerContext, LedgerValue, ValidatorAddress};

/// Most decided blocks served for one sync request.
pub const MAX_DECIDED_VALUES: u64 = 64;

impl<S> App<S>
where
    S: StateRead + Clone + Send + Sync + 'static,
{
    /// Checks a complete proposal for the next height.
    pub(super) async fn receive(
        &mut self,
        assembled: Assembled,
    ) -> Result<Option<ProposedValue<LedgerContext>>, AppError> {
        let Assembled {
            height,
            round,
            pol_round,
            proposer,
            bytes,
        } = assembled;
        let value = self
            .execute(height, round, pol_round, proposer, &bytes)
            .await?;
        if let Some(value) = &value {
            self.proposed.entry(height).or_default().push(value.clone());
        }
        Ok(value)
    }

    /// Decodes a block value, executes the block on the tip and compares
    /// the state it leaves with the one claimed: `Valid` only if they
    /// agree. `None` if the bytes are no block value.
    pub(super) async fn execute(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        proposer: ValidatorAddress,
        bytes: &[u8],
    ) -> Result<Option<ProposedValue<LedgerContext>>, AppError> {
        let (block, claimed) = match decode_block_value(bytes) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%proposer, %height, %error, "undecodable proposal");
                return Ok(None);
            }
        };
        let value = LedgerValue::new(ledger_core::Sealable::seal(block.clone()).hash(), claimed);
        let validity = if block.depth != height.0 {
            Validity::Invalid
        } else {
            match self.chain.check_block(block).await {
                Ok(changes) => {
                    let after = self.tip.after(self.chain.state(), &changes)?;
                    if after.state == claimed {
                        self.candidates
                            .insert(value.id(), Candidate { changes, after });
                        Validity::Valid
                    } else {
                        tracing::warn!(%proposer, %height, "proposal claims a state its block does not leave");
                        Validity::Invalid
                    }
                }
                Err(ChainError::Core(error)) => {
                    tracing::warn!(%proposer, %height, %error, "invalid block proposed");
                    Validity::Invalid
                }
                Err(error) => return Err(error.into()),
            }
        };
        Ok(Some(ProposedValue {
            height,
            round,
            valid_round,
            proposer,
            value,
            validity,
        }))
    }

    /// The decided blocks from `start` to `end` that are stored, in order,
    /// at most [`MAX_DECIDED_VALUES`].
    pub(super) fn decided_values(
        &self,
        start: Height,
        end: Height,
    ) -> Result<Vec<RawDecidedValue<LedgerContext>>, AppError> {
        let state = self.chain.state();
        let mut values = Vec::new();
        // A peer asks for a few at a time; one that asks for the whole
        // chain gets the first MAX_DECIDED_VALUES, not all of it in memory.
        let end = end
            .0
            .min(self.tip.depth)
            .min(start.0.saturating_add(MAX_DECIDED_VALUES - 1));
        for depth in start.0..=end {
            let (Some(block), Some(decision)) = (state.block_at(depth)?, state.decision(depth)?)
            else {
                break;
            };
            let Ok(certificate) = Codec::<CommitCertificate<LedgerContext>>::decode(
                &LedgerCodec,
                Bytes::from(decision.certificate),
            ) else {
                tracing::error!(depth, "stored commit certificate does not decode");
                break;
            };
            values.push(RawDecidedValue::new(
                encode_block_value(&block, &decision.state),
                ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                    certificate,
                    Default::default(),
                ),
            ));
        }
        Ok(values)
    }
}
