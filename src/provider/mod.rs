//! Alt-text providers: the services (or the image itself) that turn an image into a caption.
//!
//! Each provider sits behind [`Provider`]; the pipeline asks them in the configured order
//! and the first caption wins. A provider that cannot take an image declines it, so the
//! next one is asked; errors say whether a retry can help.

pub mod alttextai;
pub mod alttextlab;
pub mod autoalt;
pub mod bedrock;
pub mod embedded;
pub mod http;
pub mod openai;
pub mod prompt;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use thiserror::Error;

use crate::image::ImageFormat;
use crate::secret::{ApiKey, PresignedUrl};
use crate::store_error::StoreError;

/// The providers that can be named in `ALT_TEXT_PROVIDER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    Embedded,
    AltTextLab,
    AutoAlt,
    AltTextAi,
    Bedrock,
    OpenAi,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Embedded,
        ProviderKind::AltTextLab,
        ProviderKind::AutoAlt,
        ProviderKind::AltTextAi,
        ProviderKind::Bedrock,
        ProviderKind::OpenAi,
    ];

    pub fn parse(name: &str) -> Option<ProviderKind> {
        let name = name.to_ascii_lowercase();
        ProviderKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name used in `ALT_TEXT_PROVIDER` and in records.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Embedded => "embedded",
            ProviderKind::AltTextLab => "alttextlab",
            ProviderKind::AutoAlt => "autoalt",
            ProviderKind::AltTextAi => "alttextai",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::OpenAi => "openai",
        }
    }

    /// Prefix of the provider's own variables (`ALTTEXTLAB_API_KEY`, `OPENAI_MODEL`, …).
    pub fn env_prefix(self) -> &'static str {
        match self {
            ProviderKind::Embedded => "EMBEDDED",
            ProviderKind::AltTextLab => "ALTTEXTLAB",
            ProviderKind::AutoAlt => "AUTOALT",
            ProviderKind::AltTextAi => "ALTTEXTAI",
            ProviderKind::Bedrock => "BEDROCK",
            ProviderKind::OpenAi => "OPENAI",
        }
    }

    /// Whether the service takes an API key (Bedrock uses the function's role instead).
    pub fn takes_api_key(self) -> bool {
        matches!(
            self,
            ProviderKind::AltTextLab
                | ProviderKind::AutoAlt
                | ProviderKind::AltTextAi
                | ProviderKind::OpenAi
        )
    }

    /// The service's base URL when none is configured; `None` for providers without one.
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::AltTextLab => Some("https://app.alttextlab.com"),
            ProviderKind::AutoAlt => Some("https://autoalt.app"),
            ProviderKind::AltTextAi => Some("https://alttext.ai"),
            ProviderKind::OpenAi => Some("https://api.openai.com"),
            ProviderKind::Embedded | ProviderKind::Bedrock => None,
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
    /// Width and height in pixels, where the image's header tells them.
    pub dimensions: Option<(u32, u32)>,
    /// The first bytes of the image, already read.
    pub head: Bytes,
    /// Languages of the captions wanted from this call: one, unless the provider
    /// [captions several languages in one call](Provider::languages_per_call).
    pub langs: &'a [String],
    /// The first configured language: the one embedded `x-default` text is taken for.
    pub main_lang: &'a str,
    /// Longest caption wanted (`ALT_TEXT_MAX_CHARS`), for services that take a limit.
    pub max_chars: Option<usize>,
    /// No provider call may start after this instant (the invocation's deadline, less the
    /// time needed to write the result).
    pub deadline: Instant,
    pub source: &'a dyn ImageSource,
}

impl<'a> ImageRequest<'a> {
    /// The same request, for `langs`.
    pub fn for_langs<'b>(&'b self, langs: &'b [String]) -> ImageRequest<'b> {
        ImageRequest {
            bucket: self.bucket,
            key: self.key,
            format: self.format,
            size: self.size,
            dimensions: self.dimensions,
            head: self.head.clone(),
            langs,
            main_lang: self.main_lang,
            max_chars: self.max_chars,
            deadline: self.deadline,
            source: self.source,
        }
    }

    /// The language of a one-language call.
    pub fn lang(&self) -> &str {
        self.langs.first().map_or(self.main_lang, String::as_str)
    }

    /// A fresh presigned URL of the image, for one attempt: an earlier one may have expired
    /// while a retry waited.
    pub async fn fresh_url(&self) -> Result<PresignedUrl, ProviderError> {
        self.source
            .presigned_url()
            .await
            .map_err(ProviderError::from_store)
    }

    /// Reads the whole image (for services that take its bytes), which must be at most
    /// `max` bytes.
    pub async fn read_all(&self, max: u64) -> Result<Bytes, ProviderError> {
        if self.size > max {
            return Err(ProviderError::Declined(format!(
                "the image has {} bytes, more than the {max} this service takes",
                self.size
            )));
        }
        if self.head.len() as u64 >= self.size {
            return Ok(self.head.slice(..self.size as usize));
        }
        self.source
            .read_range(0, self.size)
            .await
            .map_err(ProviderError::from_store)
    }
}

/// What a service takes: its name in messages, image formats and a size limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub service: &'static str,
    pub formats: &'static [ImageFormat],
    pub max_bytes: u64,
}

impl Limits {
    /// Declines an image of another format, or larger than the limit.
    pub fn check(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        if !self.formats.contains(&image.format) {
            let names: Vec<&str> = self.formats.iter().map(|f| f.label()).collect();
            let list = match names.split_last() {
                Some((last, [])) => last.to_string(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            return Err(ProviderError::Declined(format!(
                "{} takes {list}, not {}",
                self.service,
                image.format.label()
            )));
        }
        if image.size > self.max_bytes {
            let mb = self.max_bytes as f64 / (1024.0 * 1024.0);
            return Err(ProviderError::Declined(format!(
                "{} takes images up to {mb} MB; this one has {} bytes",
                self.service, image.size
            )));
        }
        Ok(())
    }
}

/// The key of a service that needs one, or why it declines without.
pub fn require_key<'k>(
    key: Option<&'k ApiKey>,
    service: &str,
    kind: ProviderKind,
) -> Result<&'k ApiKey, ProviderError> {
    key.ok_or_else(|| {
        ProviderError::Declined(format!(
            "{service} needs an API key: set ALT_TEXT_API_KEY or {}_API_KEY",
            kind.env_prefix()
        ))
    })
}

/// A caption and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    pub text: String,
    pub lang: String,
    /// The provider's own id for the request, where it gives one.
    pub request_id: Option<String>,
    /// Credits left on the account, where the service reports them.
    pub credits_remaining: Option<f64>,
}

impl Caption {
    pub fn new(text: impl Into<String>, lang: impl Into<String>) -> Caption {
        Caption {
            text: text.into(),
            lang: lang.into(),
            request_id: None,
            credits_remaining: None,
        }
    }
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
    /// Whether it can take this image at all (format, size, key), without calling anything.
    fn accepts(&self, _image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Whether it writes captions in `lang`.
    fn supports_lang(&self, _lang: &str) -> bool {
        true
    }
    /// How many languages one call can caption; the chain asks for more in one call only
    /// from services that take them together.
    fn languages_per_call(&self) -> usize {
        1
    }
    /// Captions one image in `image.langs`: one caption per language it could write.
    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_error::StoreError;

    struct NoSource;

    impl ImageSource for NoSource {
        fn read_range(&self, _: u64, _: u64) -> BoxFuture<'_, Result<Bytes, StoreError>> {
            unreachable!("limits are checked without reading")
        }
        fn presigned_url(&self) -> BoxFuture<'_, Result<PresignedUrl, StoreError>> {
            unreachable!("limits are checked without presigning")
        }
    }

    #[test]
    fn limits_name_what_the_service_takes() {
        let langs = ["en".to_string()];
        let image = |format, size| ImageRequest {
            bucket: "b",
            key: "k",
            format,
            size,
            dimensions: None,
            head: Bytes::new(),
            langs: &langs,
            main_lang: "en",
            max_chars: None,
            deadline: Instant::now(),
            source: &NoSource,
        };
        let limits = Limits {
            service: "Bedrock",
            formats: &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp],
            max_bytes: 3_932_160,
        };
        assert_eq!(limits.check(&image(ImageFormat::Png, 3_932_160)), Ok(()));
        assert_eq!(
            limits.check(&image(ImageFormat::Heic, 10)),
            Err(ProviderError::Declined(
                "Bedrock takes JPEG, PNG and WebP, not HEIC".into()
            ))
        );
        assert_eq!(
            limits.check(&image(ImageFormat::Jpeg, 3_932_161)),
            Err(ProviderError::Declined(
                "Bedrock takes images up to 3.75 MB; this one has 3932161 bytes".into()
            ))
        );
        assert_eq!(
            require_key(None, "AutoAlt", ProviderKind::AutoAlt),
            Err(ProviderError::Declined(
                "AutoAlt needs an API key: set ALT_TEXT_API_KEY or AUTOALT_API_KEY".into()
            ))
        );
    }
}
