//! An invocation reported to Lambda as failed: the payload was not understood, or some
//! objects failed in a way a retry can fix.

use thiserror::Error;

use crate::event::UnrecognisedEvent;
use crate::report::Summary;

/// The summary of an invocation whose payload was not understood: one failure.
static UNRECOGNISED: Summary = Summary {
    captioned: 0,
    unchanged: 0,
    skipped: 0,
    removed: 0,
    failed: 1,
    busy: 0,
    objects: Vec::new(),
};

/// An invocation that must be reported as failed. Its `Debug` form is its message: the
/// runtime logs it, and each object was already logged once.
#[derive(Error)]
pub enum HandlerError {
    /// The payload is not an event this function handles. Retrying will not help.
    #[error(transparent)]
    Unrecognised(#[from] UnrecognisedEvent),
    /// Some objects failed in a way a retry can fix; the others are done.
    #[error("{failed} of {total} objects failed and can be retried: {keys}")]
    Retryable {
        failed: usize,
        total: usize,
        keys: String,
        summary: Box<Summary>,
    },
}

impl HandlerError {
    /// What the invocation did: one failure when the payload was not understood.
    pub fn summary(&self) -> &Summary {
        match self {
            HandlerError::Unrecognised(_) => &UNRECOGNISED,
            HandlerError::Retryable { summary, .. } => summary,
        }
    }
}

impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> lambda_runtime::Diagnostic {
        let error_type = match err {
            HandlerError::Unrecognised(_) => "UnrecognisedEvent",
            HandlerError::Retryable { .. } => "RetryableFailure",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}
