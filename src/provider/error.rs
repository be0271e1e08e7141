//! Why a provider gave no caption, and whether a retry or the next provider can help.

use std::time::Duration;

use thiserror::Error;

use crate::store::StoreError;

/// Why a provider gave no caption.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The provider cannot take this image (format, size, language, no key, no embedded
    /// text): the next provider is asked.
    #[error("{0}")]
    Declined(String),
    /// The provider failed for this image and will fail again (image refused, caption cut
    /// off): the next provider is asked, and the record says `failed` if none captions.
    #[error("{0}")]
    Permanent(String),
    /// The service refused the API key, and no other key could be read (see
    /// [`super::keys::ServiceKey`]): like [`ProviderError::OutOfCredits`], the provider is
    /// paused and the object ends retryable, for when the key is fixed.
    #[error("{0}")]
    KeyRejected(String),
    /// The account has no credits left: every image would fail the same way until it is
    /// topped up, so the provider is paused for every container (see
    /// the pipeline's spend step) and the object ends retryable.
    #[error("{0}")]
    OutOfCredits(String),
    /// The service did not take the request (throttling, a connection that never opened):
    /// the same request may succeed later, and sending it again costs nothing.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request reached the service, or may have, and no usable answer came back: a
    /// timeout once it was sent, a server error, a success body that cannot be read. It may
    /// have been billed, so it is not sent again in this delivery; the object ends
    /// retryable, and the attempt counts towards `ALT_TEXT_MAX_ATTEMPTS`.
    #[error("{0}")]
    Uncertain(String),
}

impl ProviderError {
    pub fn transient(message: impl Into<String>) -> ProviderError {
        ProviderError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// Whether the account itself refuses work (no credits, a key refused after a re-read):
    /// nothing sent to the service can succeed until someone acts.
    pub fn pauses_provider(&self) -> bool {
        matches!(
            self,
            ProviderError::OutOfCredits(_) | ProviderError::KeyRejected(_)
        )
    }

    /// A store failure while serving a provider (reading the image, presigning).
    pub fn from_store(err: StoreError) -> ProviderError {
        match err {
            StoreError::Transient { .. } => ProviderError::transient(err.to_string()),
            other => ProviderError::Permanent(other.to_string()),
        }
    }
}
