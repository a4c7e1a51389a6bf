//! Transaction statuses and action types (ledger-rules.md, "Admission and execution").

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// The outcome code of a transaction, numbered as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StatusCode {
    /// Applied and succeeded.
    Success = 0,
    /// Admitted, waiting for a block.
    Pending = 1,
    /// Fields missing or malformed.
    BadQueryForm = 2,
    /// The signature does not recover to `from`.
    BadSign = 3,
    /// The sender cannot pay amount + fee.
    NotEnoughBalance = 4,
    /// The contract reverted; its state changes were undone.
    Revert = 5,
    /// The contract halted (out of gas, invalid opcode), or contracts are not enabled.
    Failed = 6,
}

impl StatusCode {
    /// The status's name in snake case, as metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            StatusCode::Success => "success",
            StatusCode::Pending => "pending",
            StatusCode::BadQueryForm => "bad_query_form",
            StatusCode::BadSign => "bad_sign",
            StatusCode::NotEnoughBalance => "not_enough_balance",
            StatusCode::Revert => "revert",
            StatusCode::Failed => "failed",
        }
    }
}

/// What a transaction does, numbered as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ActionType {
    /// Not known yet (not applied).
    None = 0,
    /// A plain transfer.
    Transfer = 1,
    /// A call of a contract.
    ContractCall = 2,
    /// A contract creation (`to` is the null address).
    ContractCreation = 3,
}

macro_rules! wire_number {
    ($ty:ident { $($variant:ident),* }) => {
        impl $ty {
            /// From the wire number.
            pub fn from_u8(value: u8) -> Option<$ty> {
                [$($ty::$variant),*].into_iter().find(|v| *v as u8 == value)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u8(*self as u8)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = u8::deserialize(deserializer)?;
                $ty::from_u8(value).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {} {value}", stringify!($ty)))
                })
            }
        }
    };
}

wire_number!(StatusCode {
    Success,
    Pending,
    BadQueryForm,
    BadSign,
    NotEnoughBalance,
    Revert,
    Failed
});
wire_number!(ActionType {
    None,
    Transfer,
    ContractCall,
    ContractCreation
});

/// The status of a transaction: the `find_transaction_status` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionStatus {
    /// The outcome.
    pub status_code: StatusCode,
    /// What the transaction does.
    pub action_type: ActionType,
    /// The part of the fee not charged.
    #[serde(with = "decimal_u64")]
    pub fee_left: u64,
    /// Success: `""` (transfer), base64 return data (call) or base58 contract
    /// address (creation). Otherwise a reason for people.
    pub message: String,
}

impl TransactionStatus {
    /// Status 1: admitted, waiting for a block.
    pub fn pending() -> TransactionStatus {
        TransactionStatus {
            status_code: StatusCode::Pending,
            action_type: ActionType::None,
            fee_left: 0,
            message: String::new(),
        }
    }

    /// A refusal at admission, with the reason as message.
    pub fn rejected(status_code: StatusCode, message: String) -> TransactionStatus {
        TransactionStatus {
            status_code,
            action_type: ActionType::None,
            fee_left: 0,
            message,
        }
    }

    /// The admission status for an error from parsing or verifying a wire
    /// transaction: `BadSign` for a bad signature, `BadQueryForm` otherwise.
    pub fn from_admission_error(error: &CoreError) -> TransactionStatus {
        let code = match error {
            CoreError::BadSignature { .. } => StatusCode::BadSign,
            _ => StatusCode::BadQueryForm,
        };
        TransactionStatus::rejected(code, error.to_string())
    }

    /// Whether this is final (anything but Pending).
    pub fn is_final(&self) -> bool {
        self.status_code != StatusCode::Pending
    }
}

mod decimal_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        crate::primitives::parse_u64(&text).map_err(serde::de::Error::custom)
    }
}
