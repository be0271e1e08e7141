//! Alt-text providers: the services (or the image itself) that turn an image into a caption.
//!
//! Each provider sits behind [`Provider`]; the pipeline asks them in the configured order
//! and the first caption wins. A provider that cannot take an image declines it, so the
//! next one is asked; errors say whether a retry can help.

pub mod alttextlab;
pub mod embedded;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use thiserror::Error;

use crate::image::ImageFormat;
use crate::secret::PresignedUrl;
use crate::store_error::StoreError;

/// The providers that can be named in `ALT_TEXT_PROVIDER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Embedded,
    AltTextLab,
}

impl ProviderKind {
    pub fn parse(name: &str) -> Option<ProviderKind> {
        match name.to_ascii_lowercase().as_str() {
            "embedded" => Some(ProviderKind::Embedded),
            "alttextlab" => Some(ProviderKind::AltTextLab),
            _ => None,
        }
    }
}

/// Access to the image being captioned, for providers that read it or hand out its URL.
pub trait ImageSource: Send + Sync {
    /// Reads `len` bytes of the image from `start`.
    fn read_range(&self, start: u64, len: u64) -> BoxFuture<'_, Result<Bytes, StoreError>>;
    /// A fresh, short-lived presigned GET URL for the image.
    fn presigned_url(&self) -> BoxFuture<'_, Result<PresignedUrl, StoreError>>;
}

/// An image to caption.
pub struct ImageRequest<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub format: ImageFormat,
    /// Size in bytes.
    pub size: u64,
    /// The first bytes of the image, already read.
    pub head: Bytes,
    /// Language of the caption wanted.
    pub lang: &'a str,
    /// No provider call may start after this instant (the invocation's deadline, less the
    /// time needed to write the result).
    pub deadline: Instant,
    pub source: &'a dyn ImageSource,
}

/// A caption and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caption {
    pub text: String,
    pub lang: String,
    /// The provider's own id for the request, where it gives one.
    pub request_id: Option<String>,
}

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

/// A captioning service.
pub trait Provider: Send + Sync {
    /// The provider's name, as in `ALT_TEXT_PROVIDER` and the record's `provider`.
    fn name(&self) -> &'static str;
    /// Whether calling it costs nothing (no paid API behind it).
    fn is_free(&self) -> bool {
        false
    }
    /// Whether it can take this image at all (format, size), without calling anything.
    fn accepts(&self, _image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Captions one image.
    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Caption, ProviderError>>;
}
