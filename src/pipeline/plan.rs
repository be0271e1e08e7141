//! What processing an object would do, without any paid call or write: the dry run of a
//! backfill. Free providers (embedded alt text) are asked; paid ones only whether they take
//! the image.

use std::time::{Duration, Instant};

use super::source::{self, examine};
use super::{Pipeline, object_id};
use crate::caption::Record;
use crate::event::ObjectEvent;
use crate::image::ImageFormat;
use crate::image::context::ImageContext;
use crate::provider::ImageRequest;
use crate::store::{ObjectHead, ObjectId, ObjectStore, RecordStore, StoreError};

/// What processing an object would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    AlreadyCaptioned,
    /// A free provider (named) captions it.
    Free(String),
    /// Paid providers would be called `calls` times; `provider` is the first of them, and
    /// `by_provider` the calls each would be asked (a later one for the languages an earlier
    /// one does not write).
    Paid {
        provider: String,
        calls: u64,
        by_provider: Vec<(String, u64)>,
    },
    Skip(String),
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

/// What the providers of a chain would do for one image.
#[derive(Default)]
struct Tally<'p> {
    reasons: Vec<String>,
    free: Option<&'p str>,
    paid: Vec<(&'p str, u64)>,
}

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// What processing `event` would do.
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
        let context = ImageContext::from_metadata(head.metadata());
        if context.decorative {
            return Ok(Plan::Free(super::answer::DECORATIVE.into()));
        }
        let source = source::source(&self.store, &self.settings, &self.usage, &id, &head);
        let deadline = Instant::now() + Duration::from_secs(60);
        let request = source::request(
            &self.settings,
            &id,
            &head,
            format,
            deadline,
            &source,
            &context,
        );
        let tally = self.tally(&request).await;
        Ok(match (tally.paid.first(), tally.free) {
            (Some((provider, _)), _) => Plan::Paid {
                provider: provider.to_string(),
                calls: tally.paid.iter().map(|(_, c)| c).sum(),
                by_provider: tally
                    .paid
                    .iter()
                    .map(|(p, c)| (p.to_string(), *c))
                    .collect(),
            },
            (None, Some(provider)) => Plan::Free(provider.into()),
            (None, None) => Plan::Skip(tally.reasons.join("; ")),
        })
    }

    /// Runs the chain as far as it can without paying: free providers caption, paid ones
    /// are counted.
    async fn tally(&self, request: &ImageRequest<'_>) -> Tally<'_> {
        let mut tally = Tally::default();
        let mut missing = self.settings.langs.clone();
        for provider in &self.providers {
            if missing.is_empty() {
                break;
            }
            if let Err(err) = provider.accepts(request) {
                tally.reasons.push(format!("{}: {err}", provider.name()));
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
                            tally.free.get_or_insert(provider.name());
                        }
                        Err(err) => tally.reasons.push(format!("{}: {err}", provider.name())),
                    }
                }
            } else if !langs.is_empty() {
                let calls = langs.len().div_ceil(provider.languages_per_call().max(1)) as u64;
                tally.paid.push((provider.name(), calls));
                missing.retain(|l| !langs.contains(l));
            }
        }
        tally
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
        let head = match super::claim::read_head(&self.store, &self.usage, id).await {
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
}
