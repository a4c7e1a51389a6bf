//! revm's mainnet handler with one change: a top-level creation deploys at
//! the address the ledger's rule gives (ledger-rules.md, execution rule 6),
//! not at Ethereum's keccak of the sender and its nonce. Contracts created
//! by contracts (CREATE, CREATE2) keep Ethereum's addresses.

use std::marker::PhantomData;

use revm::context::result::{EVMError, HaltReason, InvalidTransaction};
use revm::context_interface::{ContextTr, CreateScheme, Database, JournalTr};
use revm::handler::{EthFrame, EvmTr, Handler, MainnetHandler};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_action::{FrameInit, FrameInput};
use revm::interpreter::GasTracker;
use revm::primitives::Address;
use revm::state::EvmState;

/// The error of a run on `EVM`.
pub(crate) type RunError<EVM> =
    EVMError<<<<EVM as EvmTr>::Context as ContextTr>::Db as Database>::Error, InvalidTransaction>;

/// Mainnet execution, creating a top-level contract at `create_at`.
pub(crate) struct LedgerHandler<EVM> {
    create_at: Option<Address>,
    _evm: PhantomData<EVM>,
}

impl<EVM> LedgerHandler<EVM> {
    /// A handler that deploys a top-level creation at `create_at` (ignored
    /// for a call).
    pub(crate) fn new(create_at: Option<Address>) -> Self {
        LedgerHandler {
            create_at,
            _evm: PhantomData,
        }
    }
}

impl<EVM> Handler for LedgerHandler<EVM>
where
    EVM: EvmTr<
        Context: ContextTr<Journal: JournalTr<State = EvmState>>,
        Frame = EthFrame<EthInterpreter>,
    >,
{
    type Evm = EVM;
    type Error = RunError<EVM>;
    type HaltReason = HaltReason;

    fn first_frame_input(
        &mut self,
        evm: &mut EVM,
        gas: &mut GasTracker,
    ) -> Result<Option<FrameInit>, Self::Error> {
        let mut init = MainnetHandler::<EVM, Self::Error, EthFrame<EthInterpreter>>::default()
            .first_frame_input(evm, gas)?;
        if let (
            Some(address),
            Some(FrameInit {
                frame_input: FrameInput::Create(inputs),
                ..
            }),
        ) = (self.create_at, init.as_mut())
        {
            inputs.set_scheme(CreateScheme::Custom { address });
        }
        Ok(init)
    }
}
