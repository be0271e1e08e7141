//! The captioning pipeline for one object: check the record, read the object's head, ask
//! the providers in order, then write the tag and the record.
//!
//! Generic over the object store and the record store, so it runs against S3 and DynamoDB
//! in production and against in-memory fakes in unit tests.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::event::{self, Action, ObjectEvent};
use crate::image::{self, ImageFormat};
use crate::metrics::UsageMeter;
use crate::object_store::{ObjectHead, ObjectId, ObjectStore};
use crate::provider::{Caption, ImageRequest, ImageSource, Provider, ProviderError};
use crate::quality;
use crate::record::{LangCaption, Record, State, TagStatus};
use crate::record_store::{Claim, ClaimRequest, RecordStore};
use crate::secret::PresignedUrl;
use crate::store_error::StoreError;
use crate::tags::{self, Tag};

/// Why an event older than the record's is skipped.
const SUPERSEDED: &str = "superseded: a newer event for this key was already processed";

/// Why an event whose object was replaced since is skipped.
const OVERWRITTEN_SINCE: &str =
    "the object was overwritten since this event: the new upload's event captions it";

/// A claim outlives the invocation's deadline by this much, so that it never lapses while
/// its holder still writes; a crashed holder's claim lapses soon after.
pub const CLAIM_GRACE_SECS: u64 = 10;

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
    /// Another invocation is captioning the object (a duplicate delivery): this one is
    /// retried later, when the other has finished or its claim has lapsed.
    Busy { until: u64 },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Captioned { .. } => "captioned",
            Outcome::Unchanged { .. } => "unchanged",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Removed { .. } => "removed",
            Outcome::Failed { .. } => "failed",
            Outcome::Busy { .. } => "busy",
        }
    }

    /// Whether the event should be delivered again (a passing failure, or a duplicate
    /// whose twin may not finish).
    pub fn is_retryable_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                retryable: true,
                ..
            } | Outcome::Busy { .. }
        )
    }

    /// A store failure; a write that lost to another invocation leaves that one's result.
    fn failed(err: &StoreError) -> Outcome {
        match err {
            StoreError::Conflict { .. } => Outcome::Skipped {
                reason: "another invocation took the object over; its result stands".into(),
            },
            _ => Outcome::Failed {
                error: err.to_string(),
                retryable: err.is_retryable(),
            },
        }
    }
}

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tag key of the main language's caption; other languages get `{tag_key}-{lang}`.
    pub tag_key: String,
    /// Caption languages, the main one first.
    pub langs: Vec<String>,
    /// Longest caption kept.
    pub max_chars: Option<usize>,
    pub presign_ttl: Duration,
}

impl Settings {
    /// The tag a language's caption is written to.
    pub fn tag_key_for(&self, lang: &str) -> String {
        if self.langs.first().is_none_or(|main| main == lang) {
            self.tag_key.clone()
        } else {
            format!("{}-{lang}", self.tag_key)
        }
    }
}

/// Captions objects with a chain of providers, writing to an object store and a record store.
pub struct Pipeline<S, R> {
    store: S,
    records: R,
    providers: Vec<Box<dyn Provider>>,
    settings: Settings,
    paid_calls: AtomicU64,
    usage: UsageMeter,
}

/// A caption of one language and the provider that wrote it.
#[derive(Debug, Clone)]
struct Answer {
    provider: String,
    caption: Caption,
}

/// What the provider chain produced.
#[derive(Default)]
struct ChainResult {
    /// Accepted captions, one per language.
    answers: Vec<Answer>,
    /// Why providers passed (declined, or could not write a language).
    declined: Vec<String>,
    /// Permanent failures and rejected captions.
    errors: Vec<String>,
    /// The chain stopped on a transient failure.
    transient: bool,
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
            usage: UsageMeter::default(),
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
        if event.key.ends_with('/') {
            return Outcome::Skipped {
                reason: "folder marker, not an object".into(),
            };
        }
        // The claim also reads the record. With the ETag in the event, it goes out together
        // with the head read: one round trip before the provider call.
        let token = claim_token();
        let (claim, read) = match event.etag.as_deref() {
            Some(etag) => tokio::join!(
                self.claim(event, &token, Some(etag), None, deadline),
                self.read_head(&id)
            ),
            None => {
                let read = self.read_head(&id).await;
                let head = read.as_ref().ok();
                let etag = head.and_then(|h| h.etag.as_deref());
                let version = head.and_then(|h| h.version_id.as_deref());
                (
                    self.claim(event, &token, etag, version, deadline).await,
                    read,
                )
            }
        };
        let existing = match claim {
            Ok(Claim::Claimed { previous }) => previous,
            Ok(Claim::AlreadyCaptioned { record }) => {
                // The caption is of the event's bytes: its tags go back only onto them.
                if let Ok(head) = &read
                    && id.version_id.is_none()
                    && head.etag.is_some()
                    && head.etag != record.etag
                {
                    return Outcome::Skipped {
                        reason: OVERWRITTEN_SINCE.into(),
                    };
                }
                return self.keep(&id, &record).await;
            }
            Ok(Claim::Superseded) => {
                return Outcome::Skipped {
                    reason: SUPERSEDED.into(),
                };
            }
            Ok(Claim::Busy { until }) => return Outcome::Busy { until },
            Err(err) => return Outcome::failed(&err),
        };
        // From here on, every record written holds the claim, and writing it releases it.
        let base = |head: Option<&ObjectHead>| Record {
            claim: Some(token.clone()),
            ..self.base_record(event, head, State::Skipped)
        };
        let head = match read {
            Ok(head) => head,
            Err(StoreError::NotFound { .. }) => {
                let reason = "the object no longer exists (deleted before it could be captioned)";
                return self
                    .finish(Record {
                        reason: Some(reason.into()),
                        ..base(None)
                    })
                    .await;
            }
            Err(err) => {
                // Noted in a new record only: an existing one (a caption, maybe) is worth
                // more than a note that this attempt could not read the object; it is put
                // back as it was. Best effort: the outcome is the failure to read.
                let record = match existing {
                    Some(previous) => Record {
                        claim: Some(token.clone()),
                        ..*previous
                    },
                    None => Record {
                        state: State::Failed,
                        error: Some(err.to_string()),
                        retryable: Some(err.is_retryable()),
                        ..base(None)
                    },
                };
                let _ = self.records.put(&record).await;
                return Outcome::failed(&err);
            }
        };
        // The object read may be newer than the event: it may be captioned already.
        if let Some(previous) = existing
            .as_deref()
            .filter(|r| r.is_captioned_for(head.etag.as_deref(), event.version_id.as_deref()))
        {
            let restored = Record {
                claim: Some(token.clone()),
                ..previous.clone()
            };
            if let Err(err) = self.records.put(&restored).await {
                return Outcome::failed(&err);
            }
            return self.keep(&id, previous).await;
        }
        let format = match examine(&head) {
            Ok(format) => format,
            Err(reason) => {
                return self
                    .finish(Record {
                        reason: Some(reason),
                        ..base(Some(&head))
                    })
                    .await;
            }
        };
        let record = Record {
            content_type: Some(format.mime_type().into()),
            ..base(Some(&head))
        };

        // Captions already paid for this very object (a write-back or a language failed
        // before) are reused; only the languages still missing are asked for.
        let reused = self.reusable_answers(existing.as_deref(), &head);
        let missing: Vec<String> = self
            .settings
            .langs
            .iter()
            .filter(|l| !reused.iter().any(|a| &a.caption.lang == *l))
            .cloned()
            .collect();

        let source = self.source(&id, &head);
        let request = self.request(&id, &head, format, deadline, &source);
        let mut chain = if missing.is_empty() {
            ChainResult::default()
        } else {
            self.run_chain(&request, missing).await
        };
        let mut answers = reused;
        answers.append(&mut chain.answers);
        let order = |a: &Answer| {
            self.settings
                .langs
                .iter()
                .position(|l| *l == a.caption.lang)
        };
        answers.sort_by_key(order);

        if chain.transient {
            // Keep what was paid for: the retry reuses it and asks only for the rest.
            let record = Record {
                state: State::Failed,
                error: Some(chain.errors.join("; ")),
                retryable: Some(true),
                ..self.with_captions(record, &answers, None)
            };
            return self.finish(record).await;
        }
        if answers.is_empty() {
            if chain.errors.is_empty() {
                return self
                    .finish(Record {
                        reason: Some(chain.declined.join("; ")),
                        ..record
                    })
                    .await;
            }
            let mut errors = chain.errors;
            errors.extend(chain.declined);
            let record = Record {
                state: State::Failed,
                error: Some(errors.join("; ")),
                retryable: Some(false),
                ..record
            };
            return self.finish(record).await;
        }
        let missing: Vec<&String> = self
            .settings
            .langs
            .iter()
            .filter(|l| !answers.iter().any(|a| &a.caption.lang == *l))
            .collect();
        let note = (!missing.is_empty()).then(|| {
            let mut why = chain.errors;
            why.extend(chain.declined);
            format!(
                "no caption in {}: {}",
                missing
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                why.join("; ")
            )
        });
        // The tags are read now, not before the provider call, so that a tag the user set
        // meanwhile is kept; and the object must still be the one captioned.
        let (now, existing_tags) =
            tokio::join!(self.still_there(&id, &head), self.store.get_tags(&id));
        match now {
            Ok(true) => {}
            Ok(false) => {
                let reason = "the object was overwritten while it was captioned: the new upload's event captions it";
                return self
                    .finish(Record {
                        reason: Some(reason.into()),
                        ..record
                    })
                    .await;
            }
            Err(StoreError::NotFound { .. }) => {
                let reason = "the object was deleted while it was captioned";
                return self
                    .finish(Record {
                        reason: Some(reason.into()),
                        ..record
                    })
                    .await;
            }
            Err(err) => {
                let record = self.with_captions(record, &answers, None);
                return self.write_failure(record, &err).await;
            }
        }
        self.write_back(&id, record, &answers, note, existing_tags)
            .await
    }

    /// The captions of `existing` for the object of `head` (same ETag), in language order.
    fn reusable_answers(&self, existing: Option<&Record>, head: &ObjectHead) -> Vec<Answer> {
        let Some(record) = existing.filter(|r| r.etag.is_some() && r.etag == head.etag) else {
            return Vec::new();
        };
        let mut captions = record.all_captions();
        self.settings
            .langs
            .iter()
            .filter_map(|lang| {
                let c = captions.remove(lang)?;
                Some(Answer {
                    provider: c.provider,
                    caption: Caption {
                        request_id: c.request_id,
                        ..Caption::new(c.text, lang.clone())
                    },
                })
            })
            .collect()
    }

    /// Claims the object, so that one invocation at a time calls providers for it: a
    /// duplicate delivery waits for the other's result instead of paying again.
    async fn claim(
        &self,
        event: &ObjectEvent,
        token: &str,
        etag: Option<&str>,
        version_id: Option<&str>,
        deadline: Instant,
    ) -> Result<Claim, StoreError> {
        let now = SystemTime::now();
        let left = deadline.saturating_duration_since(Instant::now());
        let request = ClaimRequest {
            bucket: &event.bucket,
            key: &event.key,
            token,
            now: epoch_secs(now),
            until: epoch_secs(now + left) + CLAIM_GRACE_SECS,
            etag,
            version_id: event.version_id.as_deref().or(version_id),
            sequencer: event.sequencer.as_deref(),
        };
        self.records.claim(&request).await
    }

    /// The first bytes of the object, counted as read.
    async fn read_head(&self, id: &ObjectId) -> Result<ObjectHead, StoreError> {
        let head = self.store.read_head(id, HEAD_BYTES).await?;
        self.usage.read(head.bytes.len());
        Ok(head)
    }

    /// Whether the object is still the one whose head was read. A version is immutable, so
    /// only an unversioned object needs a look.
    async fn still_there(&self, id: &ObjectId, head: &ObjectHead) -> Result<bool, StoreError> {
        if id.version_id.is_some() || head.etag.is_none() {
            return Ok(true);
        }
        Ok(self.store.current_etag(id).await? == head.etag)
    }

    /// Reads what a plan needs to know of an object: its record and head.
    async fn inspect(
        &self,
        event: &ObjectEvent,
        id: &ObjectId,
        existing: Option<&Record>,
    ) -> Inspection {
        if event.key.ends_with('/') {
            return Inspection::Folder;
        }
        let captioned_for = |etag: Option<&str>| {
            existing.is_some_and(|r| r.is_captioned_for(etag, event.version_id.as_deref()))
        };
        if captioned_for(event.etag.as_deref()) {
            return Inspection::Captioned;
        }
        let head = match self.read_head(id).await {
            Ok(head) => head,
            Err(StoreError::NotFound { .. }) => return Inspection::Gone,
            Err(err) => return Inspection::Unreadable(err),
        };
        // The event may not carry the ETag; the object does.
        if captioned_for(head.etag.as_deref()) {
            return Inspection::Captioned;
        }
        match examine(&head) {
            Ok(format) => Inspection::Image(head, format),
            Err(reason) => Inspection::NotImage(reason),
        }
    }

    /// What processing `event` would do, without any paid call or write: free providers
    /// (embedded alt text) are asked, paid ones only whether they take the image.
    pub async fn plan(&self, event: &ObjectEvent) -> Result<Plan, StoreError> {
        let id = object_id(event);
        let existing = self.records.get(&id.bucket, &id.key).await?;
        let (head, format) = match self.inspect(event, &id, existing.as_ref()).await {
            Inspection::Captioned => return Ok(Plan::AlreadyCaptioned),
            Inspection::Folder => return Ok(Plan::Skip("folder marker".into())),
            Inspection::Gone => return Ok(Plan::Skip("the object no longer exists".into())),
            Inspection::Unreadable(err) => return Err(err),
            Inspection::NotImage(reason) => return Ok(Plan::Skip(reason)),
            Inspection::Image(head, format) => (head, format),
        };
        let source = self.source(&id, &head);
        let deadline = Instant::now() + Duration::from_secs(60);
        let request = self.request(&id, &head, format, deadline, &source);
        let mut reasons = Vec::new();
        let mut missing = self.settings.langs.clone();
        let mut free = None;
        let mut paid: Option<(&str, u64)> = None;
        for provider in &self.providers {
            if missing.is_empty() {
                break;
            }
            if let Err(err) = provider.accepts(&request) {
                reasons.push(format!("{}: {err}", provider.name()));
                continue;
            }
            let langs: Vec<String> = missing
                .iter()
                .filter(|l| provider.supports_lang(l))
                .cloned()
                .collect();
            if provider.is_free() {
                for lang in &langs {
                    let one = [lang.clone()];
                    match provider.caption(&request.for_langs(&one)).await {
                        Ok(_) => {
                            missing.retain(|l| l != lang);
                            free.get_or_insert(provider.name());
                        }
                        Err(err) => reasons.push(format!("{}: {err}", provider.name())),
                    }
                }
            } else if !langs.is_empty() {
                let calls = langs.len().div_ceil(provider.languages_per_call().max(1)) as u64;
                let (_, total) = paid.get_or_insert((provider.name(), 0));
                *total += calls;
                missing.retain(|l| !langs.contains(l));
            }
        }
        Ok(match (paid, free) {
            (Some((provider, calls)), _) => Plan::Paid {
                provider: provider.into(),
                calls,
            },
            (None, Some(provider)) => Plan::Free(provider.into()),
            (None, None) => Plan::Skip(reasons.join("; ")),
        })
    }

    /// The object as providers read it: pinned to the ETag of its head.
    fn source<'a>(&'a self, id: &'a ObjectId, head: &ObjectHead) -> ObjectSource<'a, S> {
        ObjectSource {
            store: &self.store,
            id,
            etag: head.etag.clone(),
            ttl: self.settings.presign_ttl,
            usage: &self.usage,
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
            dimensions: image::dimensions(&head.bytes, format),
            head: head.bytes.clone(),
            langs: &self.settings.langs,
            main_lang: &self.settings.langs[0],
            max_chars: self.settings.max_chars,
            deadline,
            source,
        }
    }

    /// What processing has used since the last take (provider calls, bytes read…).
    pub fn usage(&self) -> &UsageMeter {
        &self.usage
    }

    /// Calls made so far to providers that are not free.
    pub fn paid_calls(&self) -> u64 {
        self.paid_calls.load(Ordering::Relaxed)
    }

    /// Asks each provider in turn for the languages still missing; the first caption of
    /// each language that passes the quality guard wins.
    async fn run_chain(&self, request: &ImageRequest<'_>, mut missing: Vec<String>) -> ChainResult {
        let mut result = ChainResult::default();
        for provider in &self.providers {
            if missing.is_empty() {
                break;
            }
            let name = provider.name();
            if let Err(err) = provider.accepts(request) {
                match err {
                    ProviderError::Declined(reason) => {
                        result.declined.push(format!("{name}: {reason}"))
                    }
                    other => result.errors.push(format!("{name}: {other}")),
                }
                continue;
            }
            let (langs, unsupported): (Vec<String>, Vec<String>) = missing
                .iter()
                .cloned()
                .partition(|l| provider.supports_lang(l));
            if !unsupported.is_empty() {
                result
                    .declined
                    .push(format!("{name}: does not write {}", unsupported.join(", ")));
            }
            for langs in langs.chunks(provider.languages_per_call().max(1)) {
                let call = request.for_langs(langs);
                let started = Instant::now();
                let answer = provider.caption(&call).await;
                if !provider.is_free() {
                    self.paid_calls.fetch_add(1, Ordering::Relaxed);
                    let credits = answer
                        .as_ref()
                        .ok()
                        .and_then(|c| c.iter().find_map(|c| c.credits_remaining));
                    self.usage.provider_call(started.elapsed(), credits);
                }
                match answer {
                    Ok(captions) => {
                        for caption in captions {
                            if !missing.contains(&caption.lang) || !langs.contains(&caption.lang) {
                                continue;
                            }
                            match quality::review(&caption.text, request.key, request.max_chars) {
                                Ok(text) => {
                                    missing.retain(|l| *l != caption.lang);
                                    result.answers.push(Answer {
                                        provider: name.into(),
                                        caption: Caption { text, ..caption },
                                    });
                                }
                                Err(reason) => result.errors.push(format!(
                                    "{name}: {} caption rejected: {reason}",
                                    caption.lang
                                )),
                            }
                        }
                    }
                    Err(ProviderError::Declined(reason)) => {
                        result.declined.push(format!("{name}: {reason}"))
                    }
                    Err(ProviderError::Permanent(error)) => {
                        result.errors.push(format!("{name}: {error}"))
                    }
                    Err(ProviderError::Transient { message, .. }) => {
                        // Asking the next provider now could pay for a caption this one
                        // will give on the retry.
                        result.errors.push(format!("{name}: {message}"));
                        result.transient = true;
                        return result;
                    }
                }
            }
        }
        result
    }

    /// `record` holding `answers`: the main caption at the top level, every language in
    /// `captions`. `placed` says, per answer, whether its tag was written.
    fn with_captions(&self, record: Record, answers: &[Answer], placed: Option<&[bool]>) -> Record {
        let Some(main) = answers.first() else {
            return record;
        };
        let captions = answers
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let written = placed.is_some_and(|p| p.get(i) == Some(&true));
                (
                    a.caption.lang.clone(),
                    LangCaption {
                        text: a.caption.text.clone(),
                        provider: a.provider.clone(),
                        request_id: a.caption.request_id.clone(),
                        tag_key: written.then(|| self.settings.tag_key_for(&a.caption.lang)),
                    },
                )
            })
            .collect();
        Record {
            alt_text: Some(main.caption.text.clone()),
            tag_value: Some(tags::sanitize_value(&main.caption.text)),
            provider: Some(main.provider.clone()),
            provider_request_id: main.caption.request_id.clone(),
            lang: Some(main.caption.lang.clone()),
            captions,
            ..record
        }
    }

    /// Writes the captions to the object's tags and the record, at the same time.
    async fn write_back(
        &self,
        id: &ObjectId,
        record: Record,
        answers: &[Answer],
        note: Option<String>,
        existing_tags: Result<Vec<Tag>, StoreError>,
    ) -> Outcome {
        let provider = answers[0].provider.clone();
        let record = Record {
            state: State::Captioned,
            reason: note,
            ..record
        };
        let existing_tags = match existing_tags {
            Ok(tags) => tags,
            Err(err) => {
                // Without the current tags a write could drop the user's: keep the captions
                // in the record so the retry reuses them, and touch no tag.
                let record = self.with_captions(record, answers, None);
                return self.write_failure(record, &err).await;
            }
        };
        let wanted: Vec<Tag> = answers
            .iter()
            .map(|a| {
                Tag::new(
                    self.settings.tag_key_for(&a.caption.lang),
                    tags::sanitize_value(&a.caption.text),
                )
            })
            .collect();
        let (new_tags, placed) = tags::merge_all(&existing_tags, &wanted);
        let unplaced: Vec<&str> = wanted
            .iter()
            .zip(&placed)
            .filter(|(_, placed)| !**placed)
            .map(|(t, _)| t.key.as_str())
            .collect();
        let tag = if placed[0] {
            TagStatus::Written
        } else {
            TagStatus::NoRoom
        };
        let mut record = Record {
            tag_status: Some(tag),
            ..self.with_captions(record, answers, Some(&placed))
        };
        if !unplaced.is_empty() {
            let no_room = format!(
                "not tagged {}: the object already has {} tags",
                unplaced.join(", "),
                tags::MAX_TAGS
            );
            record.reason = Some(match record.reason.take() {
                Some(note) => format!("{no_room}; {note}"),
                None => no_room,
            });
        }
        let Some(new_tags) = new_tags else {
            return match self.records.put(&record).await {
                Ok(()) => Outcome::Captioned { provider, tag },
                Err(err) => Outcome::failed(&err),
            };
        };
        let (tagged, stored) = tokio::join!(
            self.store.put_tags(id, &new_tags),
            self.records.put(&record)
        );
        match (tagged, stored) {
            (Ok(()), Ok(())) => Outcome::Captioned { provider, tag },
            (Err(err), stored) => {
                // If the record written alongside went in, it released the claim: the
                // correction is then written only while nobody has claimed the object since.
                let claim = if stored.is_ok() {
                    None
                } else {
                    record.claim.clone()
                };
                let record = Record {
                    tag_status: None,
                    claim,
                    ..self.with_captions(record, answers, None)
                };
                match err {
                    StoreError::NotFound { .. } => {
                        let reason = "the object was deleted while it was captioned";
                        self.finish(Record {
                            state: State::Skipped,
                            reason: Some(reason.into()),
                            ..record
                        })
                        .await
                    }
                    err => self.write_failure(record, &err).await,
                }
            }
            (Ok(()), Err(err)) => Outcome::failed(&err),
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

    /// An object already captioned for this version: put its tags back if they went missing
    /// (a failed write, or removed by hand), without calling any provider. A tag that is
    /// there is never overwritten: its value may be the user's edit.
    async fn keep(&self, id: &ObjectId, record: &Record) -> Outcome {
        let mut wanted: Vec<Tag> = record
            .captions
            .values()
            .filter_map(|c| {
                let key = c.tag_key.clone()?;
                Some(Tag::new(key, tags::sanitize_value(&c.text)))
            })
            .collect();
        if wanted.is_empty()
            && let (Some(TagStatus::Written), Some(value)) =
                (record.tag_status, record.tag_value.as_deref())
        {
            wanted.push(Tag::new(self.settings.tag_key.clone(), value));
        }
        if wanted.is_empty() {
            return Outcome::Unchanged {
                tag_restored: false,
            };
        }
        let existing = match self.store.get_tags(id).await {
            Ok(tags) => tags,
            Err(StoreError::NotFound { .. }) => {
                return Outcome::Skipped {
                    reason: "the object no longer exists".into(),
                };
            }
            Err(err) => return Outcome::failed(&err),
        };
        wanted.retain(|w| !existing.iter().any(|t| t.key == w.key));
        match tags::merge_all(&existing, &wanted) {
            (Some(new_tags), _) => match self.store.put_tags(id, &new_tags).await {
                Ok(()) => Outcome::Unchanged { tag_restored: true },
                Err(err) => Outcome::failed(&err),
            },
            (None, _) => Outcome::Unchanged {
                tag_restored: false,
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

/// The image format of an object by its first bytes, or why it is not captioned.
fn examine(head: &ObjectHead) -> Result<ImageFormat, String> {
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

/// What an object's record and head say, before any provider is asked.
enum Inspection {
    Folder,
    /// Already captioned for this ETag or version.
    Captioned,
    /// Deleted since the event.
    Gone,
    Unreadable(StoreError),
    /// Empty, or not an image: the reason.
    NotImage(String),
    Image(ObjectHead, ImageFormat),
}

/// What processing an object would do (`Pipeline::plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    AlreadyCaptioned,
    /// A free provider (named) captions it.
    Free(String),
    /// Paid providers would be called `calls` times; `provider` is the first of them.
    Paid {
        provider: String,
        calls: u64,
    },
    Skip(String),
}

/// A token that tells this invocation's claim from any other.
fn claim_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((n, Instant::now(), std::process::id()));
    format!("{random:016x}-{n}")
}

pub(crate) fn epoch_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    usage: &'a UsageMeter,
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

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
