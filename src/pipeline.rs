//! The captioning pipeline for one object: check the record, read the object's head, ask
//! the providers in order, then write the tag and the record.
//!
//! Generic over the object store and the record store, so it runs against S3 and DynamoDB
//! in production and against in-memory fakes in unit tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::event::{self, Action, ObjectEvent};
use crate::image::{self, ImageFormat};
use crate::object_store::{ObjectHead, ObjectId, ObjectStore};
use crate::provider::{Caption, ImageRequest, ImageSource, Provider, ProviderError};
use crate::record::{Record, State, TagStatus};
use crate::record_store::RecordStore;
use crate::secret::PresignedUrl;
use crate::store_error::StoreError;
use crate::tags::{self, Merge, Tag};

/// Bytes read at the start of every object: enough to recognise any image format and,
/// for most JPEGs and PNGs, to hold the XMP packet too.
pub const HEAD_BYTES: u64 = 64 * 1024;

/// Where one object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new caption was written.
    Captioned { provider: String, tag: TagStatus },
    /// The object was already captioned for this ETag or version: no provider call.
    /// `tag_restored` says whether a missing caption tag was put back from the record.
    Unchanged { tag_restored: bool },
    /// Not captioned on purpose (not an image, no provider could take it, …).
    Skipped { reason: String },
    /// The object was deleted; `record_deleted` says whether its record was removed.
    Removed { record_deleted: bool },
    /// Something failed; `retryable` says whether a later attempt can succeed.
    Failed { error: String, retryable: bool },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Captioned { .. } => "captioned",
            Outcome::Unchanged { .. } => "unchanged",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Removed { .. } => "removed",
            Outcome::Failed { .. } => "failed",
        }
    }

    pub fn is_retryable_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                retryable: true,
                ..
            }
        )
    }

    fn failed(err: &StoreError) -> Outcome {
        Outcome::Failed {
            error: err.to_string(),
            retryable: err.is_retryable(),
        }
    }
}

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tag_key: String,
    pub lang: String,
    pub presign_ttl: Duration,
}

/// Captions objects with a chain of providers, writing to an object store and a record store.
pub struct Pipeline<S, R> {
    store: S,
    records: R,
    providers: Vec<Box<dyn Provider>>,
    settings: Settings,
    paid_calls: AtomicU64,
}

/// What the provider chain produced.
enum ChainResult {
    Captioned {
        provider: String,
        caption: Caption,
    },
    Declined {
        reasons: Vec<String>,
    },
    Failed {
        errors: Vec<String>,
        retryable: bool,
    },
}

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    pub fn new(
        store: S,
        records: R,
        providers: Vec<Box<dyn Provider>>,
        settings: Settings,
    ) -> Pipeline<S, R> {
        Pipeline {
            store,
            records,
            providers,
            settings,
            paid_calls: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn records(&self) -> &R {
        &self.records
    }

    /// Processes one object event. No provider call starts after `deadline`.
    pub async fn process(&self, event: &ObjectEvent, deadline: Instant) -> Outcome {
        match event.action {
            Action::Created => self.caption(event, deadline).await,
            Action::Removed => self.forget(event).await,
        }
    }

    /// A deleted object: its record goes too, unless it describes a newer upload or
    /// another version than the one deleted.
    async fn forget(&self, event: &ObjectEvent) -> Outcome {
        let record = match self.records.get(&event.bucket, &event.key).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Outcome::Removed {
                    record_deleted: false,
                };
            }
            Err(err) => return Outcome::failed(&err),
        };
        let newer_upload = match (&record.sequencer, &event.sequencer) {
            (Some(recorded), Some(deleted)) => event::sequencer_order(recorded, deleted).is_gt(),
            _ => false,
        };
        let marker =
            event.event_name.contains("DeleteMarker") || event.event_name.contains("Delete Marker");
        let other_version = !marker
            && matches!((&event.version_id, &record.version_id), (Some(a), Some(b)) if a != b);
        if newer_upload || other_version {
            return Outcome::Removed {
                record_deleted: false,
            };
        }
        match self
            .records
            .delete(&event.bucket, &event.key, &record.updated_at)
            .await
        {
            Ok(deleted) => Outcome::Removed {
                record_deleted: deleted,
            },
            Err(err) => Outcome::failed(&err),
        }
    }

    /// Captions a created object.
    async fn caption(&self, event: &ObjectEvent, deadline: Instant) -> Outcome {
        let id = object_id(event);
        let existing = match self.records.get(&id.bucket, &id.key).await {
            Ok(existing) => existing,
            Err(err) => return Outcome::failed(&err),
        };
        let (head, format) = match self.inspect(event, &id, existing.as_ref()).await {
            Inspection::Folder => {
                return Outcome::Skipped {
                    reason: "folder marker, not an object".into(),
                };
            }
            Inspection::Captioned(record) => return self.keep(&id, record).await,
            Inspection::Gone => {
                let record = self.base_record(event, None, State::Skipped);
                let reason = "the object no longer exists (deleted before it could be captioned)";
                return self
                    .finish(Record {
                        reason: Some(reason.into()),
                        ..record
                    })
                    .await;
            }
            Inspection::Unreadable(err) => {
                let record = self.base_record(event, None, State::Failed);
                let outcome = Outcome::failed(&err);
                let record = Record {
                    error: Some(err.to_string()),
                    retryable: Some(err.is_retryable()),
                    ..record
                };
                // The record is best effort: the outcome is the failure to read.
                let _ = self.records.put(&record).await;
                return outcome;
            }
            Inspection::NotImage(head, reason) => {
                let record = self.base_record(event, Some(&head), State::Skipped);
                return self
                    .finish(Record {
                        reason: Some(reason),
                        ..record
                    })
                    .await;
            }
            Inspection::Image(head, format) => (head, format),
        };
        let record = self.base_record(event, Some(&head), State::Skipped);
        let record = Record {
            content_type: Some(format.mime_type().into()),
            ..record
        };

        // A caption already paid for this very object, whose write-back failed: reuse it.
        let paid = existing.filter(|r| {
            r.alt_text.is_some() && r.provider.is_some() && r.etag.is_some() && r.etag == head.etag
        });

        let source = self.source(&id, &head);
        let request = self.request(&id, &head, format, deadline, &source);
        let chain = async {
            match paid {
                Some(r) => ChainResult::Captioned {
                    provider: r.provider.unwrap_or_default(),
                    caption: Caption {
                        text: r.alt_text.unwrap_or_default(),
                        lang: r.lang.unwrap_or_else(|| self.settings.lang.clone()),
                        request_id: r.provider_request_id,
                    },
                },
                None => self.run_chain(&request).await,
            }
        };
        // Read the existing tags while the provider works.
        let (chain, existing_tags) = tokio::join!(chain, self.store.get_tags(&id));

        match chain {
            ChainResult::Captioned { provider, caption } => {
                self.write_back(&id, record, provider, caption, existing_tags)
                    .await
            }
            ChainResult::Declined { reasons } => {
                self.finish(Record {
                    reason: Some(reasons.join("; ")),
                    ..record
                })
                .await
            }
            ChainResult::Failed { errors, retryable } => {
                let record = Record {
                    state: State::Failed,
                    error: Some(errors.join("; ")),
                    retryable: Some(retryable),
                    ..record
                };
                self.finish(record).await
            }
        }
    }

    /// Reads what is needed to decide what to do with an object: its record and head.
    async fn inspect<'r>(
        &self,
        event: &ObjectEvent,
        id: &ObjectId,
        existing: Option<&'r Record>,
    ) -> Inspection<'r> {
        if event.key.ends_with('/') {
            return Inspection::Folder;
        }
        let captioned_for = |etag: Option<&str>| {
            existing.filter(|r| r.is_captioned_for(etag, event.version_id.as_deref()))
        };
        if let Some(record) = captioned_for(event.etag.as_deref()) {
            return Inspection::Captioned(record);
        }
        let head = match self.store.read_head(id, HEAD_BYTES).await {
            Ok(head) => head,
            Err(StoreError::NotFound { .. }) => return Inspection::Gone,
            Err(err) => return Inspection::Unreadable(err),
        };
        // The event may not carry the ETag; the object does.
        if let Some(record) = captioned_for(head.etag.as_deref()) {
            return Inspection::Captioned(record);
        }
        if head.size == 0 {
            return Inspection::NotImage(head, "empty object".into());
        }
        match image::detect(&head.bytes, head.content_type.as_deref()) {
            Some(format) => Inspection::Image(head, format),
            None => {
                let reason = format!(
                    "not an image (content type {})",
                    head.content_type.as_deref().unwrap_or("unknown")
                );
                Inspection::NotImage(head, reason)
            }
        }
    }

    /// What processing `event` would do, without any paid call or write: free providers
    /// (embedded alt text) are asked, paid ones only whether they take the image.
    pub async fn plan(&self, event: &ObjectEvent) -> Result<Plan, StoreError> {
        let id = object_id(event);
        let existing = self.records.get(&id.bucket, &id.key).await?;
        let (head, format) = match self.inspect(event, &id, existing.as_ref()).await {
            Inspection::Captioned(_) => return Ok(Plan::AlreadyCaptioned),
            Inspection::Folder => return Ok(Plan::Skip("folder marker".into())),
            Inspection::Gone => return Ok(Plan::Skip("the object no longer exists".into())),
            Inspection::Unreadable(err) => return Err(err),
            Inspection::NotImage(_, reason) => return Ok(Plan::Skip(reason)),
            Inspection::Image(head, format) => (head, format),
        };
        let source = self.source(&id, &head);
        let deadline = Instant::now() + Duration::from_secs(60);
        let request = self.request(&id, &head, format, deadline, &source);
        let mut reasons = Vec::new();
        for provider in &self.providers {
            let answer = if provider.is_free() {
                provider.caption(&request).await.map(|_| ())
            } else {
                provider.accepts(&request)
            };
            match (answer, provider.is_free()) {
                (Ok(()), true) => return Ok(Plan::Free(provider.name().into())),
                (Ok(()), false) => return Ok(Plan::Paid(provider.name().into())),
                (Err(err), _) => reasons.push(format!("{}: {err}", provider.name())),
            }
        }
        Ok(Plan::Skip(reasons.join("; ")))
    }

    /// The object as providers read it: pinned to the ETag of its head.
    fn source<'a>(&'a self, id: &'a ObjectId, head: &ObjectHead) -> ObjectSource<'a, S> {
        ObjectSource {
            store: &self.store,
            id,
            etag: head.etag.clone(),
            ttl: self.settings.presign_ttl,
        }
    }

    /// The request the providers get for an image.
    fn request<'a>(
        &'a self,
        id: &'a ObjectId,
        head: &ObjectHead,
        format: ImageFormat,
        deadline: Instant,
        source: &'a dyn ImageSource,
    ) -> ImageRequest<'a> {
        ImageRequest {
            bucket: &id.bucket,
            key: &id.key,
            format,
            size: head.size,
            head: head.bytes.clone(),
            lang: &self.settings.lang,
            deadline,
            source,
        }
    }

    /// Calls made so far to providers that are not free.
    pub fn paid_calls(&self) -> u64 {
        self.paid_calls.load(Ordering::Relaxed)
    }

    /// Asks each provider in turn; the first caption wins.
    async fn run_chain(&self, request: &ImageRequest<'_>) -> ChainResult {
        let mut declined = Vec::new();
        let mut errors = Vec::new();
        for provider in &self.providers {
            if !provider.is_free() {
                self.paid_calls.fetch_add(1, Ordering::Relaxed);
            }
            match provider.caption(request).await {
                Ok(caption) => {
                    return ChainResult::Captioned {
                        provider: provider.name().into(),
                        caption,
                    };
                }
                Err(ProviderError::Declined(reason)) => {
                    declined.push(format!("{}: {reason}", provider.name()))
                }
                Err(ProviderError::Permanent(error)) => {
                    errors.push(format!("{}: {error}", provider.name()))
                }
                Err(ProviderError::Transient { message, .. }) => {
                    // Asking the next provider now could pay for a caption this one will
                    // give on the retry.
                    errors.push(format!("{}: {message}", provider.name()));
                    return ChainResult::Failed {
                        errors,
                        retryable: true,
                    };
                }
            }
        }
        if errors.is_empty() {
            ChainResult::Declined { reasons: declined }
        } else {
            errors.extend(declined);
            ChainResult::Failed {
                errors,
                retryable: false,
            }
        }
    }

    /// Writes the caption to the object's tags and the record, at the same time.
    async fn write_back(
        &self,
        id: &ObjectId,
        record: Record,
        provider: String,
        caption: Caption,
        existing_tags: Result<Vec<Tag>, StoreError>,
    ) -> Outcome {
        let tag_value = tags::sanitize_value(&caption.text);
        let record = Record {
            state: State::Captioned,
            alt_text: Some(caption.text),
            tag_value: Some(tag_value.clone()),
            provider: Some(provider.clone()),
            provider_request_id: caption.request_id,
            lang: Some(caption.lang),
            ..record
        };
        let existing_tags = match existing_tags {
            Ok(tags) => tags,
            Err(err) => {
                // Without the current tags a write could drop the user's: keep the caption in
                // the record so the retry reuses it, and touch no tag.
                return self.write_failure(record, &err).await;
            }
        };
        match tags::merge(&existing_tags, &self.settings.tag_key, &tag_value) {
            Merge::NoRoom => {
                let reason = format!(
                    "caption not tagged: the object already has {} tags and none is {}",
                    tags::MAX_TAGS,
                    self.settings.tag_key
                );
                let record = Record {
                    tag_status: Some(TagStatus::NoRoom),
                    reason: Some(reason),
                    ..record
                };
                match self.records.put(&record).await {
                    Ok(()) => Outcome::Captioned {
                        provider,
                        tag: TagStatus::NoRoom,
                    },
                    Err(err) => Outcome::failed(&err),
                }
            }
            Merge::Tags(new_tags) => {
                let record = Record {
                    tag_status: Some(TagStatus::Written),
                    ..record
                };
                let (tagged, stored) = tokio::join!(
                    self.store.put_tags(id, &new_tags),
                    self.records.put(&record)
                );
                match (tagged, stored) {
                    (Ok(()), Ok(())) => Outcome::Captioned {
                        provider,
                        tag: TagStatus::Written,
                    },
                    (Err(err), _) => {
                        self.write_failure(
                            Record {
                                tag_status: None,
                                ..record
                            },
                            &err,
                        )
                        .await
                    }
                    (Ok(()), Err(err)) => Outcome::failed(&err),
                }
            }
        }
    }

    /// Records a failed write-back, keeping the caption so that no retry pays for it again.
    async fn write_failure(&self, record: Record, err: &StoreError) -> Outcome {
        let record = Record {
            state: State::Failed,
            error: Some(format!("caption not written: {err}")),
            retryable: Some(err.is_retryable()),
            ..record
        };
        let _ = self.records.put(&record).await;
        Outcome::failed(err)
    }

    /// An object already captioned for this version: put the tag back if it went missing
    /// (a failed write, or removed by hand), without calling any provider.
    async fn keep(&self, id: &ObjectId, record: &Record) -> Outcome {
        let (Some(TagStatus::Written), Some(value)) =
            (record.tag_status, record.tag_value.as_deref())
        else {
            return Outcome::Unchanged {
                tag_restored: false,
            };
        };
        let existing = match self.store.get_tags(id).await {
            Ok(tags) => tags,
            Err(StoreError::NotFound { .. }) => {
                return Outcome::Skipped {
                    reason: "the object no longer exists".into(),
                };
            }
            Err(err) => return Outcome::failed(&err),
        };
        if existing.iter().any(|t| t.key == self.settings.tag_key) {
            return Outcome::Unchanged {
                tag_restored: false,
            };
        }
        match tags::merge(&existing, &self.settings.tag_key, value) {
            Merge::NoRoom => Outcome::Unchanged {
                tag_restored: false,
            },
            Merge::Tags(new_tags) => match self.store.put_tags(id, &new_tags).await {
                Ok(()) => Outcome::Unchanged { tag_restored: true },
                Err(err) => Outcome::failed(&err),
            },
        }
    }

    /// Writes a final skipped or failed record and turns it into the outcome.
    async fn finish(&self, record: Record) -> Outcome {
        let outcome = match record.state {
            State::Failed => Outcome::Failed {
                error: record.error.clone().unwrap_or_default(),
                retryable: record.retryable.unwrap_or(false),
            },
            _ => Outcome::Skipped {
                reason: record.reason.clone().unwrap_or_default(),
            },
        };
        match self.records.put(&record).await {
            Ok(()) => outcome,
            Err(err) => Outcome::failed(&err),
        }
    }

    /// The record of an object before anything is known of its fate.
    fn base_record(&self, event: &ObjectEvent, head: Option<&ObjectHead>, state: State) -> Record {
        let mut record = Record::new(&event.bucket, &event.key, state);
        record.etag = head
            .and_then(|h| h.etag.clone())
            .or_else(|| event.etag.clone());
        record.version_id = event
            .version_id
            .clone()
            .or_else(|| head.and_then(|h| h.version_id.clone()));
        record.size = head.map(|h| h.size).or(event.size);
        record.content_type = head.and_then(|h| h.content_type.clone());
        record.sequencer = event.sequencer.clone();
        record
    }
}

/// What an object's record and head say, before any provider is asked.
enum Inspection<'r> {
    Folder,
    /// Already captioned for this ETag or version: the record that says so.
    Captioned(&'r Record),
    /// Deleted since the event.
    Gone,
    Unreadable(StoreError),
    /// Empty, or not an image: the reason.
    NotImage(ObjectHead, String),
    Image(ObjectHead, ImageFormat),
}

/// What processing an object would do (`Pipeline::plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    AlreadyCaptioned,
    /// A free provider (named) captions it.
    Free(String),
    /// A paid provider (named) would be called.
    Paid(String),
    Skip(String),
}

fn object_id(event: &ObjectEvent) -> ObjectId {
    ObjectId {
        bucket: event.bucket.clone(),
        key: event.key.clone(),
        version_id: event.version_id.clone(),
    }
}

/// The object being captioned, as providers see it: ranged reads pinned to the ETag first
/// read, and fresh presigned URLs.
struct ObjectSource<'a, S> {
    store: &'a S,
    id: &'a ObjectId,
    etag: Option<String>,
    ttl: Duration,
}

impl<S: ObjectStore> ImageSource for ObjectSource<'_, S> {
    fn read_range(&self, start: u64, len: u64) -> BoxFuture<'_, Result<Bytes, StoreError>> {
        Box::pin(
            self.store
                .read_range(self.id, self.etag.as_deref(), start, len),
        )
    }

    fn presigned_url(&self) -> BoxFuture<'_, Result<PresignedUrl, StoreError>> {
        Box::pin(self.store.presign_get(self.id, self.ttl))
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
