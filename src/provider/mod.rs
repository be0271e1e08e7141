//! Alt-text providers: the services (or the image itself) that turn an image into a caption.
//!
//! Each provider sits behind [`Provider`]; the pipeline asks them in the configured order
//! and the first caption wins. A provider that cannot take an image declines it, so the
//! next one is asked; errors say whether a retry can help.
//!
//! - [`registry`]: the one place that maps a name in `ALT_TEXT_PROVIDER` to a provider, its
//!   settings and how it is built;
//! - [`request`] and [`error`]: what a provider is given and how it fails;
//! - [`access`]: each service's key, key store, URL and image input; [`keys`] reads a key
//!   from SSM or Secrets Manager;
//! - [`http`], [`retry`], [`prompt`]: shared by the services;
//! - one file per service.

pub mod access;
pub mod alttextai;
pub mod alttextlab;
pub mod autoalt;
pub mod bedrock;
pub mod embedded;
pub mod error;
pub mod http;
pub mod keys;
pub mod openai;
pub mod prompt;
pub mod registry;
pub mod request;
pub mod retry;
#[cfg(test)]
pub(crate) mod scripted;

use std::sync::Arc;

use futures_util::future::BoxFuture;

pub use access::{Access, ImageInput, KeySource};
pub use error::ProviderError;
pub use registry::{ProviderConfig, ProviderKind, Services};
pub use request::{ANY_SIDE, Calls, Caption, ImageBytes, ImageRequest, ImageSource, Limits};

/// A captioning service.
pub trait Provider: Send + Sync {
    /// Which provider of the registry it is.
    fn kind(&self) -> ProviderKind;
    /// The provider's name, as in `ALT_TEXT_PROVIDER` and the record's `provider`.
    fn name(&self) -> &'static str {
        self.kind().name()
    }
    /// Whether calling it costs nothing (no paid API behind it).
    fn is_free(&self) -> bool {
        false
    }
    /// Whether it can take this image at all (format, size, key), without calling anything.
    fn accepts(&self, _image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Whether it writes captions in `lang`.
    fn supports_lang(&self, _lang: &str) -> bool {
        true
    }
    /// The most memory one call holds for this image: its bytes and their encoding in the
    /// request, for services sent the bytes; nothing for those given a URL. Calls wait
    /// until the pipeline's memory budget has room for it.
    fn memory_needed(&self, _image: &ImageRequest<'_>) -> u64 {
        0
    }
    /// How many languages one call can caption; the chain asks for more in one call only
    /// from services that take them together.
    fn languages_per_call(&self) -> usize {
        1
    }
    /// The credits left on the account, where the service tells (`None` where it does not);
    /// a backfill weighs them against the calls it needs.
    fn credits(&self) -> BoxFuture<'_, Result<Option<f64>, ProviderError>> {
        Box::pin(async { Ok(None) })
    }
    /// Captions one image in `image.langs`: one caption per language it could write.
    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>>;
}

/// A shared provider is a provider (tests keep a handle on one to count its calls).
impl<P: Provider + ?Sized> Provider for Arc<P> {
    fn kind(&self) -> ProviderKind {
        (**self).kind()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn is_free(&self) -> bool {
        (**self).is_free()
    }
    fn accepts(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        (**self).accepts(image)
    }
    fn supports_lang(&self, lang: &str) -> bool {
        (**self).supports_lang(lang)
    }
    fn languages_per_call(&self) -> usize {
        (**self).languages_per_call()
    }
    fn memory_needed(&self, image: &ImageRequest<'_>) -> u64 {
        (**self).memory_needed(image)
    }
    fn credits(&self) -> BoxFuture<'_, Result<Option<f64>, ProviderError>> {
        (**self).credits()
    }
    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
        (**self).caption(image)
    }
}
