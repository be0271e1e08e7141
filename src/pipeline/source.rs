//! The object as providers see it: its format, the request they are given, and an
//! [`ImageSource`] for ranged reads pinned to the ETag first read and fresh presigned URLs.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::Settings;
use crate::image::context::ImageContext;
use crate::image::{self, ImageFormat};
use crate::metrics::UsageMeter;
use crate::provider::{Calls, ImageRequest, ImageSource};
use crate::secret::PresignedUrl;
use crate::store::{ObjectHead, ObjectId, ObjectStore, StoreError};

/// The image format of an object by its first bytes, or why it is not captioned.
pub(super) fn examine(head: &ObjectHead) -> Result<ImageFormat, String> {
    if head.size == 0 {
        return Err("empty object".into());
    }
    image::detect(&head.bytes, head.content_type.as_deref()).ok_or_else(|| {
        format!(
            "not an image (content type {})",
            head.content_type.as_deref().unwrap_or("unknown")
        )
    })
}

/// The object being captioned, pinned to the ETag of its head; it also counts the requests
/// providers send about it.
pub(super) struct ObjectSource<'a, S> {
    store: &'a S,
    id: &'a ObjectId,
    etag: Option<String>,
    ttl: Duration,
    usage: &'a UsageMeter,
}

impl<S: ObjectStore> Calls for ObjectSource<'_, S> {
    fn sent(&self, answered: bool) {
        self.usage.request(answered);
    }

    fn image(&self, bytes: u64, prepared: bool) {
        self.usage.image_sent(bytes, prepared);
    }
}

impl<S: ObjectStore> ImageSource for ObjectSource<'_, S> {
    fn read_range(&self, start: u64, len: u64) -> BoxFuture<'_, Result<Bytes, StoreError>> {
        Box::pin(async move {
            let bytes = self
                .store
                .read_range(self.id, self.etag.as_deref(), start, len)
                .await?;
            self.usage.read(bytes.len());
            Ok(bytes)
        })
    }

    fn presigned_url(&self) -> BoxFuture<'_, Result<PresignedUrl, StoreError>> {
        Box::pin(self.store.presign_get(self.id, self.ttl))
    }
}

/// The object as providers read it: pinned to the ETag of its head.
pub(super) fn source<'a, S: ObjectStore>(
    store: &'a S,
    settings: &Settings,
    usage: &'a UsageMeter,
    id: &'a ObjectId,
    head: &ObjectHead,
) -> ObjectSource<'a, S> {
    ObjectSource {
        store,
        id,
        etag: head.etag.clone(),
        ttl: settings.presign_ttl,
        usage,
    }
}

/// The request the providers get for an image.
pub(super) fn request<'a, S: ObjectStore>(
    settings: &'a Settings,
    id: &'a ObjectId,
    head: &ObjectHead,
    format: ImageFormat,
    deadline: Instant,
    source: &'a ObjectSource<'a, S>,
    context: &'a ImageContext,
) -> ImageRequest<'a> {
    ImageRequest {
        bucket: &id.bucket,
        key: &id.key,
        etag: source.etag.as_deref(),
        format,
        size: head.size,
        dimensions: image::dimensions(&head.bytes, format),
        head: head.bytes.clone(),
        langs: &settings.langs,
        main_lang: settings.main_lang(),
        max_chars: settings.max_chars,
        deadline,
        source,
        calls: source,
        context,
        preparation: settings.preparation(),
    }
}
