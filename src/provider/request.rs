//! What a provider is given: the image (its first bytes, its format and size, a way to read
//! the rest or presign it), the languages wanted, the deadline; what each service takes
//! ([`Limits`]); and what it gives back ([`Caption`]).

use std::time::Instant;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::ProviderError;
use crate::image::context::ImageContext;
use crate::image::prepare::{self, Plan, Preparation, Target, Unpreparable};
use crate::image::{self as images, ImageFormat};
use crate::secret::PresignedUrl;
use crate::store::StoreError;

/// Access to the image being captioned, for providers that read it or hand out its URL.
pub trait ImageSource: Send + Sync {
    /// Reads `len` bytes of the image from `start`.
    fn read_range(&self, start: u64, len: u64) -> BoxFuture<'_, Result<Bytes, StoreError>>;
    /// A fresh, short-lived presigned GET URL for the image.
    fn presigned_url(&self) -> BoxFuture<'_, Result<PresignedUrl, StoreError>>;
}

/// Where a provider counts the requests it sends to its service: the `ProviderCalls` and
/// `ProviderAttemptsUnknown` metrics, and a backfill's count of paid calls.
pub trait Calls: Send + Sync {
    /// A request went out; `answered` is false when no usable answer came back (it may have
    /// been billed).
    fn sent(&self, answered: bool);
    /// An image of `bytes` is to be sent in the requests of one call; `prepared` when it was
    /// converted for the service.
    fn image(&self, bytes: u64, prepared: bool);
}

/// An image to caption.
pub struct ImageRequest<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// The ETag of the bytes captioned, where the store has one.
    pub etag: Option<&'a str>,
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
    /// Where each request sent is counted.
    pub calls: &'a dyn Calls,
    /// What the image's owner said it is for (its metadata).
    pub context: &'a ImageContext,
    /// How an image is prepared for the services sent its bytes.
    pub preparation: Preparation,
}

/// The image bytes a call sends: the object's own, or those prepared for the service.
#[derive(Debug, Clone)]
pub struct ImageBytes {
    pub bytes: Bytes,
    pub format: ImageFormat,
    pub prepared: bool,
}

impl<'a> ImageRequest<'a> {
    /// The same request, for `langs`.
    pub fn for_langs<'b>(&'b self, langs: &'b [String]) -> ImageRequest<'b> {
        ImageRequest {
            bucket: self.bucket,
            key: self.key,
            etag: self.etag,
            format: self.format,
            size: self.size,
            dimensions: self.dimensions,
            head: self.head.clone(),
            langs,
            main_lang: self.main_lang,
            max_chars: self.max_chars,
            deadline: self.deadline,
            source: self.source,
            calls: self.calls,
            context: self.context,
            preparation: self.preparation,
        }
    }

    /// The service's own keywords, then the image's, each once.
    pub fn keywords(&self, configured: &[String]) -> Vec<String> {
        let mut keywords = configured.to_vec();
        for k in &self.context.keywords {
            if !keywords.iter().any(|c| c.eq_ignore_ascii_case(k)) {
                keywords.push(k.clone());
            }
        }
        keywords
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

    /// Reads the whole image (for services that take its bytes).
    async fn read_whole(&self) -> Result<Bytes, ProviderError> {
        if self.head.len() as u64 >= self.size {
            return Ok(self.head.slice(..self.size as usize));
        }
        self.source
            .read_range(0, self.size)
            .await
            .map_err(ProviderError::from_store)
    }

    /// What is done with the image before it is sent to a service that takes `limits`.
    pub fn plan(&self, limits: &Limits) -> Result<Plan, ProviderError> {
        prepare::plan(
            self.format,
            self.size,
            self.dimensions,
            &self.head,
            &limits.target(),
            &self.preparation,
        )
        .map_err(|Unpreparable(reason)| ProviderError::Declined(reason))
    }

    /// The most memory a call to a service that takes `limits` holds for the image: its
    /// preparation, or the request built of what is sent (`request` of its size in bytes).
    pub fn memory_for(&self, limits: &Limits, request: impl Fn(u64) -> u64) -> u64 {
        match self.plan(limits) {
            // Without dimensions in its header, an image sent as it is may yet be converted
            // once read: it runs alone.
            Ok(Plan::AsIs) if self.dimensions.is_none() && prepare::can_decode(self.format) => {
                request(self.size).max(self.preparation.max_memory)
            }
            Ok(Plan::AsIs) => request(self.size),
            Ok(plan @ Plan::Convert { .. }) => plan.memory().max(request(plan.sent_at_most())),
            Err(_) => 0,
        }
    }

    /// The image's bytes for a service that takes `limits`: the object's own when they do,
    /// else prepared for it (on a blocking thread), counted in [`Calls::image`].
    pub async fn bytes_for(&self, limits: &Limits) -> Result<ImageBytes, ProviderError> {
        let mut plan = self.plan(limits)?;
        let bytes = self.read_whole().await?;
        if plan == Plan::AsIs && self.dimensions.is_none() {
            // The header read first did not hold the dimensions; the whole image does.
            let dims = images::dimensions(&bytes, self.format);
            plan = prepare::plan(
                self.format,
                self.size,
                dims,
                &bytes,
                &limits.target(),
                &self.preparation,
            )
            .map_err(|Unpreparable(reason)| ProviderError::Declined(reason))?;
        }
        let image = match plan {
            Plan::AsIs => ImageBytes {
                bytes,
                format: self.format,
                prepared: false,
            },
            Plan::Convert { edge, memory, .. } => {
                let (format, target) = (self.format, limits.target());
                let prepared = tokio::task::spawn_blocking(move || {
                    prepare::prepare(&bytes, format, &target, edge, memory)
                })
                .await
                .map_err(|e| ProviderError::Permanent(format!("preparing the image failed: {e}")))?
                .map_err(|Unpreparable(reason)| ProviderError::Declined(reason))?;
                ImageBytes {
                    bytes: Bytes::from(prepared.bytes),
                    format: prepared.format,
                    prepared: true,
                }
            }
        };
        self.calls.image(image.bytes.len() as u64, image.prepared);
        Ok(image)
    }
}

/// `max_side` of a service that states no limit on an image's sides.
pub const ANY_SIDE: u32 = u32::MAX;

/// What a service takes: its name in messages, image formats, a size limit and the longest
/// side it takes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub service: &'static str,
    pub formats: &'static [ImageFormat],
    pub max_bytes: u64,
    pub max_side: u32,
}

impl Limits {
    /// What it takes, as the image preparation sees it.
    pub fn target(&self) -> Target {
        Target {
            formats: self.formats,
            max_bytes: self.max_bytes,
            max_side: self.max_side,
        }
    }

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
            let mb = self.max_bytes as f64 / 1_000_000.0;
            return Err(ProviderError::Declined(format!(
                "{} takes images up to {mb} MB; this one has {} bytes",
                self.service, image.size
            )));
        }
        if let Some((w, h)) = image.dimensions
            && w.max(h) > self.max_side
        {
            return Err(ProviderError::Declined(format!(
                "{} takes images up to {} pixels a side; this one is {w}×{h}",
                self.service, self.max_side
            )));
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    struct NoSource;

    impl Calls for NoSource {
        fn sent(&self, _: bool) {
            unreachable!("limits are checked without calling")
        }
        fn image(&self, _: u64, _: bool) {
            unreachable!("limits are checked without sending")
        }
    }

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
        let context = ImageContext::default();
        let image = |format, size| ImageRequest {
            bucket: "b",
            key: "k",
            etag: None,
            format,
            size,
            dimensions: None,
            head: Bytes::new(),
            langs: &langs,
            main_lang: "en",
            max_chars: None,
            deadline: Instant::now(),
            source: &NoSource,
            calls: &NoSource,
            context: &context,
            preparation: Preparation::default(),
        };
        let limits = Limits {
            service: "Bedrock",
            formats: &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp],
            max_bytes: 3_750_000,
            max_side: 8000,
        };
        assert_eq!(limits.check(&image(ImageFormat::Png, 3_750_000)), Ok(()));
        assert_eq!(
            limits.check(&image(ImageFormat::Heic, 10)),
            Err(ProviderError::Declined(
                "Bedrock takes JPEG, PNG and WebP, not HEIC".into()
            ))
        );
        assert_eq!(
            limits.check(&image(ImageFormat::Jpeg, 3_750_001)),
            Err(ProviderError::Declined(
                "Bedrock takes images up to 3.75 MB; this one has 3750001 bytes".into()
            ))
        );
    }
}
