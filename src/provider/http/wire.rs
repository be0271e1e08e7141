//! What one HTTP alt-text service says of itself: its wire format. [`super::HttpProvider`]
//! does everything else (the key and its re-read, retries, the deadline, sending, the reply
//! cap, credits, the memory budget, the image's URL or bytes).

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use bytes::Bytes;

use super::{HttpProvider, Reply};
use crate::env::{ConfigError, Env};
use crate::provider::access::{Access, ImageInput};
use crate::provider::keys::KeyStore;
use crate::provider::{
    Caption, ImageBytes, ImageRequest, Limits, Provider, ProviderError, ProviderKind,
};
use crate::secret::PresignedUrl;

/// How a service is given the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// In a header of its own (`x-api-key`).
    Header(&'static str),
    /// `Authorization: Bearer KEY`.
    Bearer,
}

/// The image as one request carries it.
pub enum Sent<'a> {
    /// A fresh presigned URL the service fetches.
    Url(&'a PresignedUrl),
    /// Its bytes (or those prepared for the service), to go base64 in the body.
    Bytes(&'a ImageBytes),
}

impl Sent<'_> {
    /// Why `service`, which does not take the image this way, declines it.
    pub fn not_taken(&self, service: &str) -> ProviderError {
        let how = match self {
            Sent::Url(_) => "its URL",
            Sent::Bytes(_) => "its bytes",
        };
        ProviderError::Declined(format!("{service} is not given an image by {how}"))
    }
}

/// One HTTP alt-text service: the requests it takes and the answers it gives.
pub trait Wire: Debug + Send + Sync + 'static {
    /// Which provider of the registry it is.
    const KIND: ProviderKind;
    /// Its name in messages.
    const SERVICE: &'static str;
    /// How the key goes with a request.
    const AUTH: Auth;
    /// What it takes.
    const LIMITS: Limits;

    /// Where captions are asked for (`POST`, a JSON body), after the base URL.
    const PATH: &'static str;
    /// Where the credits left are read (`GET`), where the service tells.
    const CREDITS_PATH: Option<&'static str> = None;

    /// The base URL of the requests, from the one configured.
    fn base(url: &str) -> &str {
        url
    }
    /// How `image` goes, given the configured `<P>_IMAGE_INPUT`.
    fn input(&self, _image: &ImageRequest<'_>, configured: ImageInput) -> ImageInput {
        configured
    }
    /// What it takes when the image goes as `input`.
    fn limits(&self, _input: ImageInput) -> Limits {
        Self::LIMITS
    }
    /// A reason to decline the image beyond its limits.
    fn declines(&self, _image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Whether it writes captions in `lang`.
    fn supports_lang(&self, _lang: &str) -> bool {
        true
    }
    /// How many languages one request can caption.
    fn languages_per_call(&self) -> usize {
        1
    }
    /// The body of a request for `image`, sent as [`Wire::input`] says (a service that
    /// does not take the other way declines it).
    fn body(&self, image: &ImageRequest<'_>, sent: Sent<'_>) -> Result<Bytes, ProviderError>;
    /// The captions of a success body.
    fn parse(&self, body: &str, image: &ImageRequest<'_>) -> Result<Vec<Caption>, ProviderError>;
    /// What an answer other than a success means.
    fn classify(&self, reply: &Reply) -> ProviderError {
        super::generic_error(Self::SERVICE, reply)
    }
    /// Whether `reply` taught the service's requests something (a parameter this server
    /// refuses, now left out): a request refused for it is built and sent once more.
    fn learn(&self, _reply: &Reply) -> bool {
        false
    }
    /// Whether the credits left would tell what `err`, classified from `reply`, means.
    fn ask_credits(&self, _reply: &Reply, _err: &ProviderError) -> bool {
        false
    }
    /// What `err` means with `left` credits on the account.
    fn with_credits(&self, err: ProviderError, _left: f64) -> ProviderError {
        err
    }
}

/// A service's own settings, read at start: with its [`Access`], they make its wire.
pub trait ServiceSettings: Debug + Send + Sync + Sized + 'static {
    /// The wire format they configure.
    type Wire: Wire;
    /// Reads them from the environment.
    fn from_env(env: &Env) -> Result<Self, ConfigError>;
    /// The wire format, for the service at `access`.
    fn wire(&self, access: &Access) -> Self::Wire;
}

/// A service's settings as the registry holds them: whatever the service, they build its
/// provider.
pub trait BuildProvider: Debug + Send + Sync + Any {
    /// The provider they configure.
    fn provider(
        &self,
        http: reqwest::Client,
        access: &Access,
        keys: Option<Arc<dyn KeyStore>>,
    ) -> Box<dyn Provider>;
}

impl<S: ServiceSettings> BuildProvider for S {
    fn provider(
        &self,
        http: reqwest::Client,
        access: &Access,
        keys: Option<Arc<dyn KeyStore>>,
    ) -> Box<dyn Provider> {
        Box::new(HttpProvider::new(self.wire(access), http, access, keys))
    }
}

/// Reads `S` as the settings of a service (a registry row names it).
pub fn read<S: ServiceSettings>(env: &Env) -> Result<Arc<dyn BuildProvider>, ConfigError> {
    Ok(Arc::new(S::from_env(env)?))
}
