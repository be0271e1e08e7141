//! The embedded provider: alt text the image's author already wrote into its XMP metadata
//! (IPTC "Alt Text (Accessibility)"). Free, so it belongs first in a chain.

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::{Caption, ImageRequest, ImageSource, Provider, ProviderError, ProviderKind};
use crate::image::ImageFormat;
use crate::image::xmp::{self, Lookup, RangeReader};
use crate::store::StoreError;

/// Reads IPTC alt text from JPEG, PNG and WebP images.
#[derive(Debug, Default, Clone)]
pub struct Embedded;

impl Provider for Embedded {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Embedded
    }

    fn is_free(&self) -> bool {
        true
    }

    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
        Box::pin(async move {
            if !matches!(
                image.format,
                ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Webp
            ) {
                return Err(ProviderError::Declined(format!(
                    "embedded alt text is read from JPEG, PNG and WebP, not {}",
                    image.format.name()
                )));
            }
            let reader = SourceReader(image.source);
            let lookup = xmp::read_alt_text(
                &reader,
                image.format,
                image.head.clone(),
                image.size,
                image.lang(),
            )
            .await
            .map_err(ProviderError::from_store)?;
            match lookup {
                // The default entry's language is unknown: it stands for the main language
                // only, never for a translation.
                Lookup::Found(found)
                    if found.lang.eq_ignore_ascii_case("x-default")
                        && !image.lang().eq_ignore_ascii_case(image.main_lang) =>
                {
                    Err(ProviderError::Declined(format!(
                        "the image's embedded alt text has no {} entry",
                        image.lang()
                    )))
                }
                Lookup::Found(found) => Ok(vec![Caption::new(found.text, image.lang())]),
                Lookup::Absent => Err(ProviderError::Declined(
                    "the image has no embedded alt text".into(),
                )),
                Lookup::OtherLanguages(langs) => Err(ProviderError::Declined(format!(
                    "the image's embedded alt text is in {} only, not {}",
                    langs.join(", "),
                    image.lang()
                ))),
            }
        })
    }
}

/// Ranged reads of the image through its [`ImageSource`].
struct SourceReader<'a>(&'a dyn ImageSource);

impl RangeReader for SourceReader<'_> {
    type Error = StoreError;
    fn read_range(
        &self,
        start: u64,
        len: u64,
    ) -> impl Future<Output = Result<Bytes, StoreError>> + Send {
        self.0.read_range(start, len)
    }
}
