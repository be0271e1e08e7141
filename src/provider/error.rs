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
    /// The provider failed for this image and will fail again (bad key, no credits, image
    /// refused): the next provider is asked, and the record says `failed` if none captions.
    #[error("{0}")]
    Permanent(String),
    /// Throttling, a server error, a timeout: the same request may succeed later.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
}

impl ProviderError {
    pub fn transient(message: impl Into<String>) -> ProviderError {
        ProviderError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A store failure while serving a provider (reading the image, presigning).
    pub fn from_store(err: StoreError) -> ProviderError {
        match err {
            StoreError::Transient { .. } => ProviderError::transient(err.to_string()),
            other => ProviderError::Permanent(other.to_string()),
        }
    }
}
