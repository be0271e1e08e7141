//! A created object, as named steps. Each step either hands its result to the next or ends
//! the object with an [`Outcome`] (`Err` below: the object is done).

use std::sync::atomic::{AtomicBool, Ordering};

use super::answer::Answer;
use super::attempt::Attempt;
use super::chain::Fresh;
use super::outcome::Step;
use super::source::{self, examine};
use super::write_back::with_captions;
use super::{Outcome, Pipeline, claim, decorative, keep, person, settle};
use crate::caption::{Record, Source, State, Tag};
use crate::event::ObjectEvent;
use crate::image::ImageFormat;
use crate::image::context::ImageContext;
use crate::retry::Retryable;
use crate::store::{ObjectHead, ObjectStore, RecordStore, StoreError};
use crate::time::Deadlines;

/// Whether `existing` holds a person's caption of these bytes (which a decorative mark
/// does not replace).
fn has_person_caption(existing: Option<&Record>, head: &ObjectHead) -> bool {
    existing
        .filter(|r| r.etag.is_some() && r.etag == head.etag)
        .is_some_and(|r| {
            r.all_captions()
                .values()
                .any(|c| c.source == Source::Person)
        })
}

/// Whether the record in the store holds the captions the tags are to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Yes: they were all in it already (reused, or a person's on the object).
    Yes,
    /// Not yet: they were just paid for, and go into it while the object is read again.
    ToStore,
    /// No: they are new and free (embedded text, the decorative mark): the record is
    /// written before the tags.
    No,
}

/// The object read again after the provider answered: whether it is still the one
/// captioned, and its tags.
type ReadAgain = (Result<bool, StoreError>, Result<Vec<Tag>, StoreError>);

/// Why an object ends retryable when its writes did not finish in time.
const NOT_IN_TIME: &str = "the tags and the record were not written before the invocation's end; captions paid for are in the record, and the next delivery writes them without a provider call";

/// The same, when the caption paid for could not be stored first.
const LOST_IN_TIME: &str = "the tags and the record were not written before the invocation's end, and the record could not take the caption first: the next delivery asks the provider again";

/// Why an object whose caption is stored ends retryable before its tags are written.
const UNWRITTEN: &str = "the caption is paid for and stored in the record; its tags are not written yet: the next delivery writes them without a provider call";

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// Captions a created object.
    pub(super) async fn caption(&self, event: &ObjectEvent, deadlines: Deadlines) -> Outcome {
        match self.caption_steps(event, deadlines).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }

    async fn caption_steps(&self, event: &ObjectEvent, deadlines: Deadlines) -> Step<Outcome> {
        if event.key.ends_with('/') {
            return Err(Outcome::skipped("folder marker, not an object"));
        }
        let attempt = Attempt::new(event, deadlines, &self.records);
        // From here on, every record goes through the attempt: under its claim, until a
        // write releases it.
        let claimed = claim::claim_and_read(&self.store, &self.settings, &self.usage, &attempt);
        let (claimed, spend) = tokio::join!(claimed, self.spend_ahead());
        let (existing, read, object_tags) = claimed?;
        let existing = existing.as_deref();
        let head = self.read_or_finish(&attempt, existing, read).await?;
        let object_tags = self
            .reuse_if_captioned(&attempt, existing, &head, object_tags)
            .await?;
        let (record, format) = self.image_record(&attempt, &head, existing).await?;
        // Unread tags might hide a person's caption: nothing is paid for without them.
        let object_tags = self.read_or_finish(&attempt, existing, object_tags).await?;
        let people = person::answers(&object_tags, existing, head.etag.as_deref(), &self.settings);
        let context = ImageContext::from_metadata(head.metadata());
        if context.decorative && people.is_empty() && !has_person_caption(existing, &head) {
            let (store, settings) = (&self.store, &self.settings);
            return Ok(
                decorative::decorative(store, settings, &attempt, record, &object_tags).await,
            );
        }
        let source = source::source(&self.store, &self.settings, &self.usage, &attempt.id, &head);
        let deadline = deadlines.providers;
        let settings = &self.settings;
        let request = source::request(
            settings,
            &attempt.id,
            &head,
            format,
            deadline,
            &source,
            &context,
        );
        let tried = record.attempts.len();
        let chain = self
            .collect_answers(existing, &head, people, &request, tried, spend)
            .await;
        let stored = match chain.fresh {
            Fresh::Paid => Stored::ToStore,
            Fresh::Free => Stored::No,
            Fresh::Nothing => Stored::Yes,
        };
        let (record, answers) = settle::settle(&attempt, &self.settings, record, chain).await?;
        self.write_in_time(&attempt, &head, record, answers, existing, stored)
            .await
    }

    /// Stores the captions just paid for (`Stored::ToStore`) while the object's ETag and
    /// tags are read again (neither waits on the other), confirms the object is unchanged
    /// and writes the tags and the record, by the writes' deadline.
    async fn write_in_time(
        &self,
        attempt: &Attempt<'_, R>,
        head: &ObjectHead,
        record: Record,
        answers: Vec<Answer>,
        existing: Option<&Record>,
        stored: Stored,
    ) -> Step<Outcome> {
        let known = AtomicBool::new(stored == Stored::Yes);
        let written = async {
            let in_record = async {
                match stored {
                    Stored::ToStore => self.store_paid(attempt, &record, &answers).await,
                    Stored::Yes => Ok(true),
                    Stored::No => Ok(false),
                }
            };
            let (in_record, read) = tokio::join!(in_record, self.read_again(attempt, head));
            let in_record = in_record?;
            known.store(in_record, Ordering::Relaxed);
            let tags = self
                .confirm_unchanged(attempt, read, &record, &answers)
                .await?;
            Ok(self
                .write_back(attempt, record, answers, tags, existing, in_record)
                .await)
        };
        let end = attempt.deadlines.writes;
        match tokio::time::timeout_at(end.into(), written).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Outcome::Failed {
                error: if known.load(Ordering::Relaxed) {
                    NOT_IN_TIME
                } else {
                    LOST_IN_TIME
                }
                .into(),
                retryable: true,
            }),
        }
    }

    /// A read that went out with the claim (the head, the tags); a failed read ends the
    /// object before any provider is paid. An existing record (a caption, maybe) is worth
    /// more than a note that this attempt could not read the object: it is put back as it
    /// was, which releases the claim.
    async fn read_or_finish<T>(
        &self,
        attempt: &Attempt<'_, R>,
        existing: Option<&Record>,
        read: Result<T, StoreError>,
    ) -> Step<T> {
        let err = match read {
            Ok(value) => return Ok(value),
            Err(StoreError::NotFound { .. }) => {
                let reason = "the object no longer exists (deleted before it could be captioned)";
                return Err(attempt.skip(attempt.record(None), reason).await);
            }
            Err(err) => err,
        };
        let record = match existing {
            Some(previous) => previous.clone(),
            None => Record {
                state: State::Failed,
                error: Some(err.to_string()),
                retryable: Some(err.is_retryable()),
                ..attempt.record(None)
            },
        };
        // Best effort: the outcome is the failure to read.
        let _ = attempt.write(&record).await;
        Err(Outcome::failed(&err))
    }

    /// The object read may be newer than the event, and captioned already: its record is
    /// put back (releasing the claim) and its tags kept. Otherwise the tags go on.
    async fn reuse_if_captioned(
        &self,
        attempt: &Attempt<'_, R>,
        existing: Option<&Record>,
        head: &ObjectHead,
        object_tags: Result<Vec<Tag>, StoreError>,
    ) -> Step<Result<Vec<Tag>, StoreError>> {
        let version = attempt.event.version_id.as_deref();
        let Some(previous) = existing.filter(|r| r.is_captioned_for(head.etag.as_deref(), version))
        else {
            return Ok(object_tags);
        };
        // A person's tag the record does not hold, or one to write over an older caption's
        // tag: the object goes the whole way (no provider is asked for a person's language).
        let people_differ = object_tags
            .as_deref()
            .is_ok_and(|tags| person::needs_writing(tags, previous, &self.settings));
        if people_differ || decorative::marks_differ(previous, head) {
            return Ok(object_tags);
        }
        let restored = person::confirmed(previous, object_tags.as_deref().ok(), &self.settings);
        if let Err(err) = attempt.write(&restored).await {
            return Err(Outcome::failed(&err));
        }
        let kept = keep::keep(
            &self.store,
            &self.settings,
            &attempt.id,
            previous,
            object_tags,
        );
        Err(kept.await)
    }

    /// The record of an image, with the requests for these bytes that may have been billed
    /// already; an empty object or one that is not an image is skipped.
    async fn image_record(
        &self,
        attempt: &Attempt<'_, R>,
        head: &ObjectHead,
        existing: Option<&Record>,
    ) -> Step<(Record, ImageFormat)> {
        match examine(head) {
            Ok(format) => {
                let attempts = existing
                    .filter(|r| r.etag.is_some() && r.etag == head.etag)
                    .map(|r| r.attempts.clone())
                    .unwrap_or_default();
                let record = Record {
                    content_type: Some(format.mime_type().into()),
                    attempts,
                    ..attempt.record(Some(head))
                };
                Ok((record, format))
            }
            Err(reason) => Err(attempt.skip(attempt.record(Some(head)), reason).await),
        }
    }

    /// Stores the captions just paid for in the record, keeping the claim, before any tag is
    /// touched: if the invocation ends before its tags are written, the next delivery finds
    /// the captions and writes them without paying again. A failed write is no reason to
    /// stop (the write-back stores them too), except when the claim was lost; `Ok` says
    /// whether they are stored.
    async fn store_paid(
        &self,
        attempt: &Attempt<'_, R>,
        record: &Record,
        answers: &[Answer],
    ) -> Step<bool> {
        let stored = Record {
            state: State::Failed,
            error: Some(UNWRITTEN.into()),
            retryable: Some(true),
            ..with_captions(&self.settings, record.clone(), answers, None)
        };
        match attempt.write_keeping(&stored).await {
            Ok(()) => Ok(true),
            Err(err @ StoreError::Conflict { .. }) => Err(Outcome::failed(&err)),
            Err(_) => Ok(false),
        }
    }

    /// The object's ETag (is it still the one captioned?) and its tags, read again now, not
    /// before the provider call, so that a tag the user set meanwhile is kept.
    async fn read_again(&self, attempt: &Attempt<'_, R>, head: &ObjectHead) -> ReadAgain {
        tokio::join!(
            self.still_there(attempt, head),
            self.store.get_tags(&attempt.id)
        )
    }

    /// The object must still be the one captioned: its tags, read again, go on; otherwise
    /// the record says why it is not captioned.
    async fn confirm_unchanged(
        &self,
        attempt: &Attempt<'_, R>,
        (now, existing_tags): ReadAgain,
        record: &Record,
        answers: &[Answer],
    ) -> Step<Result<Vec<Tag>, StoreError>> {
        // Without the chain's note: an object that is not captioned says why not.
        let bare = Record {
            reason: None,
            ..record.clone()
        };
        let reason = match now {
            Ok(true) => return Ok(existing_tags),
            Ok(false) => {
                "the object was overwritten while it was captioned: the new upload's event captions it"
            }
            Err(StoreError::NotFound { .. }) => "the object was deleted while it was captioned",
            Err(err) => {
                let bare = with_captions(&self.settings, bare, answers, None);
                return Err(attempt.write_failure(bare, &err).await);
            }
        };
        Err(attempt.skip(bare, reason).await)
    }

    /// Whether the object is still the one whose head was read. A version is immutable, so
    /// only an unversioned object needs a look.
    async fn still_there(
        &self,
        attempt: &Attempt<'_, R>,
        head: &ObjectHead,
    ) -> Result<bool, StoreError> {
        if attempt.id.version_id.is_some() || head.etag.is_none() {
            return Ok(true);
        }
        Ok(self.store.current_etag(&attempt.id).await? == head.etag)
    }
}
