//! A person's edits, from the terminal or the review page: a caption set by hand, which no
//! provider ever replaces for that language of that object version; the lock cleared, so
//! that the next event or backfill captions it; captions approved as they are.
//!
//! Each edit writes the record first, only while no invocation holds a claim on the object
//! (so an edit never races a caption being written), then the tags, merged with the
//! object's other tags.

mod clear;
mod commands;
mod import;
mod outcome;
mod rules;
mod shown;

pub use outcome::{EditError, Edited};
pub use rules::MAX_PERSON_CHARS;
use rules::{as_ours, is_set_already, person_text};
pub use shown::Shown;

use super::answer::{Answer, missing_langs};
use super::chain::reusable_answers;
use super::source::examine;
use super::tagging::{self, TagPlan};
use super::write_back::tagged;
use super::{HEAD_BYTES, Settings, person};
use crate::caption::{Record, State, Tag};
use crate::image::ImageFormat;
use crate::image::context::ImageContext;
use crate::store::{Condition, ObjectHead, ObjectId, ObjectStore, RecordStore, StoreError};
use crate::time::now_rfc3339;

/// A person's edits, over the pipeline's stores and settings (no provider is asked).
pub(super) struct Editor<'a, S, R> {
    store: &'a S,
    records: &'a R,
    settings: &'a Settings,
}

/// What an edit reads first: the object's head, its record (if it describes these bytes)
/// and its tags.
struct Current {
    head: ObjectHead,
    format: ImageFormat,
    /// When the record read was written (`None`: there was none), for the write's
    /// condition.
    seen: Option<String>,
    record: Option<Record>,
    tags: Vec<Tag>,
}

impl<S: ObjectStore, R: RecordStore> Editor<'_, S, R> {
    /// [`Pipeline::set_caption`], refused when the object or its record is no longer what
    /// the person was `shown` (the review page).
    pub async fn set_shown(
        &self,
        id: &ObjectId,
        lang: Option<&str>,
        text: &str,
        shown: &Shown,
    ) -> Result<Edited, EditError> {
        let lang = self.edited_lang(lang)?;
        let text = person_text(text)?;
        let current = self.current(id, shown).await?;
        self.set_current(id, &lang, &text, current, true).await
    }

    async fn set_current(
        &self,
        id: &ObjectId,
        lang: &str,
        text: &str,
        current: Current,
        write: bool,
    ) -> Result<Edited, EditError> {
        let (lang, text) = (lang.to_string(), text.to_string());
        if is_set_already(
            current.record.as_ref(),
            &current.tags,
            &lang,
            &text,
            self.settings,
        ) {
            return Ok(Edited::Unchanged);
        }
        if !write {
            return Ok(Edited::Done);
        }
        let answers = self.answers_with(&current, &lang, &text);
        let base_tags = self.without_stale_tag(&current.tags, &lang);
        let mut plan = tagging::plan(&base_tags, &as_ours(&answers, &lang), self.settings);
        if plan.new_tags.is_none() && base_tags.len() != current.tags.len() {
            plan.new_tags = Some(base_tags.clone());
        }
        let base = Record {
            reviewed_at: Some(now_rfc3339()),
            ..self.awaiting_languages(self.edited_record(id, &current), &current, &answers)
        };
        let seen = current.seen.as_deref();
        self.write_edit(id, seen, base, &answers, &base_tags, plan)
            .await
    }

    /// The edited record, captioned; unless the bytes were not captioned yet and a language
    /// still has no caption: then the next event or backfill asks for it (a record that
    /// said captioned would be taken as done).
    fn awaiting_languages(&self, record: Record, current: &Current, answers: &[Answer]) -> Record {
        let captioned = current
            .record
            .as_ref()
            .is_some_and(|r| r.state == State::Captioned);
        let missing = missing_langs(&self.settings.langs, answers);
        if missing.is_empty() || captioned {
            return Record {
                state: State::Captioned,
                ..record
            };
        }
        Record {
            state: State::Failed,
            retryable: Some(true),
            error: Some(format!(
                "no caption in {} yet: the next event or backfill captions it",
                missing.join(", ")
            )),
            ..record
        }
    }

    /// [`Pipeline::approve`], refused when the object or its record is no longer what the
    /// person was `shown`: no caption nobody saw is stamped reviewed.
    pub async fn approve_shown(&self, id: &ObjectId, shown: &Shown) -> Result<Edited, EditError> {
        let current = self.current(id, shown).await?;
        let Some(record) = current.record.filter(|r| r.state == State::Captioned) else {
            return Err(EditError::Invalid(format!(
                "{} has no caption to approve",
                id.key
            )));
        };
        if record.reviewed_at.is_some() {
            return Ok(Edited::Unchanged);
        }
        let now = now_rfc3339();
        let record = Record {
            reviewed_at: Some(now.clone()),
            updated_at: now,
            ..record
        };
        self.put_edited(&record, current.seen.as_deref()).await?;
        Ok(Edited::Done)
    }

    /// The language edited: one of `ALT_TEXT_LANGS`.
    fn edited_lang(&self, lang: Option<&str>) -> Result<String, EditError> {
        let langs = &self.settings.langs;
        match lang {
            None => Ok(self.settings.main_lang().to_string()),
            Some(lang) if langs.iter().any(|l| l == lang) => Ok(lang.to_string()),
            Some(lang) => Err(EditError::Invalid(format!(
                "{lang:?} is not one of the caption languages (ALT_TEXT_LANGS: {})",
                langs.join(", ")
            ))),
        }
    }

    /// The object's head, its record if it describes these bytes, and its tags; refused
    /// when they are not what was `shown`.
    async fn current(&self, id: &ObjectId, shown: &Shown) -> Result<Current, EditError> {
        let (head, record, tags) = tokio::join!(
            self.store.read_head(id, HEAD_BYTES),
            self.records.get(&id.bucket, &id.key),
            self.store.get_tags(id)
        );
        let missing = |err: StoreError| match err {
            StoreError::NotFound { .. } => EditError::NoObject {
                bucket: id.bucket.clone(),
                key: id.key.clone(),
            },
            err => EditError::Store(err),
        };
        let head = head.map_err(missing)?;
        let format =
            examine(&head).map_err(|why| EditError::Invalid(format!("{}: {why}", id.key)))?;
        self.refuse_older_version(id).await?;
        let read = record.map_err(EditError::Store)?;
        let seen = read.as_ref().map(|r| r.updated_at.clone());
        shown.check(&head, seen.as_deref())?;
        let record = read.filter(|r| r.etag.is_some() && r.etag == head.etag);
        let tags = tags.map_err(missing)?;
        Ok(Current {
            head,
            format,
            record,
            seen,
            tags,
        })
    }

    /// An older version of an object is not edited: its one record describes the current
    /// version, whose captions the edit would lose.
    async fn refuse_older_version(&self, id: &ObjectId) -> Result<(), EditError> {
        if id.version_id.is_none() {
            return Ok(());
        }
        let latest = ObjectId {
            version_id: None,
            ..id.clone()
        };
        let current = self
            .store
            .read_head(&latest, 1)
            .await
            .map_err(EditError::Store)?;
        if current.version_id.as_deref() != id.version_id.as_deref() {
            return Err(EditError::Invalid(format!(
                "version {} is not the current version of {}: only the current one has a record",
                id.version_id.as_deref().unwrap_or_default(),
                id.key
            )));
        }
        Ok(())
    }

    /// Every language's caption: the record's, a person's tag where there is one, and
    /// `text` for `lang` (none when empty); in language order.
    fn answers_with(&self, current: &Current, lang: &str, text: &str) -> Vec<Answer> {
        let people = person::answers(
            &current.tags,
            current.record.as_ref(),
            current.head.etag.as_deref(),
            self.settings,
        );
        let mut answers: Vec<Answer> =
            reusable_answers(self.settings, current.record.as_ref(), &current.head)
                .into_iter()
                .filter(|a| a.caption.lang != lang)
                .map(|a| {
                    people
                        .iter()
                        .find(|p| p.caption.lang == a.caption.lang)
                        .cloned()
                        .unwrap_or(a)
                })
                .collect();
        for p in people {
            if p.caption.lang != lang && !answers.iter().any(|a| a.caption.lang == p.caption.lang) {
                answers.push(p);
            }
        }
        if !text.is_empty() {
            answers.push(Answer::person(text, lang, false));
        }
        // On an image marked decorative, every other language stays the empty caption, as
        // the function writes it: the record then says so, should the mark go.
        if ImageContext::from_metadata(current.head.metadata()).decorative {
            for l in &self.settings.langs {
                if !answers.iter().any(|a| &a.caption.lang == l) && (l != lang || text.is_empty()) {
                    answers.push(Answer::decorative(l));
                }
            }
        }
        let langs = &self.settings.langs;
        answers.sort_by_key(|a| langs.iter().position(|l| *l == a.caption.lang));
        answers
    }

    /// The object's tags an edit starts from: the tag its language had (an earlier
    /// caption) goes, as it no longer says what the record says; the new caption's tag
    /// takes its place where S3 takes it.
    fn without_stale_tag(&self, existing: &[Tag], lang: &str) -> Vec<Tag> {
        let key = self.settings.tag_key_for(lang);
        existing.iter().filter(|t| t.key != key).cloned().collect()
    }

    /// The record an edit starts from: the one describing these bytes, or a new one.
    fn edited_record(&self, id: &ObjectId, current: &Current) -> Record {
        let head = &current.head;
        let fresh = || {
            let mut record = Record::new(&id.bucket, &id.key, State::Captioned);
            record.etag = head.etag.clone();
            record.version_id = id.version_id.clone().or_else(|| head.version_id.clone());
            record.size = Some(head.size);
            record
        };
        let record = current.record.clone().unwrap_or_else(fresh);
        Record {
            // As the function records it: the format read from the bytes.
            content_type: Some(current.format.mime_type().into()),
            updated_at: now_rfc3339(),
            error: None,
            retryable: None,
            reason: None,
            ..record
        }
    }

    /// Writes the record, then the tags, then the record again; S3 refusing a tag value
    /// leaves it out, as for any caption, and the record says so. Until its tag is
    /// written, a person's caption is `pending` in the record: a caption tag still on the
    /// object is then an older one, which the next event or backfill writes over. A failed
    /// tag write and a process ended between the writes leave the same record. The first
    /// write goes only while the stored record is the one read (`seen`), each later one
    /// only while it is the one written before.
    async fn write_edit(
        &self,
        id: &ObjectId,
        seen: Option<&str>,
        base: Record,
        answers: &[Answer],
        existing: &[Tag],
        plan: TagPlan,
    ) -> Result<Edited, EditError> {
        let record = tagged(self.settings, base.clone(), answers, &plan);
        let Some(new_tags) = &plan.new_tags else {
            self.put_edited(&record, seen).await?;
            return Ok(Edited::Done);
        };
        let pending = person::pending(record.clone(), answers);
        self.put_edited(&pending, seen).await?;
        let written = Some(pending.updated_at.as_str());
        match self.store.put_tags(id, new_tags).await {
            Ok(()) => {
                // Best effort: the tag in place confirms a pending caption anyway.
                let _ = self.put_edited(&restamped(record), written).await;
                Ok(Edited::Done)
            }
            Err(StoreError::InvalidTag { .. }) => {
                match tagging::without_refused_tags(self.store, id, existing, plan).await {
                    Ok(plan) => {
                        let again = tagged(self.settings, restamped(base), answers, &plan);
                        self.put_edited(&again, written).await?;
                        Ok(Edited::Done)
                    }
                    Err(err) => Err(self.tag_failure(&pending, err).await),
                }
            }
            Err(err) => Err(self.tag_failure(&pending, err).await),
        }
    }

    /// The tag write failed after the record (`written`) went in: the record says so, and
    /// the next event or backfill writes the tag from it.
    async fn tag_failure(&self, written: &Record, err: StoreError) -> EditError {
        let record = Record {
            state: State::Failed,
            retryable: Some(true),
            error: Some(format!("caption not written to the tag: {err}")),
            tag_status: None,
            ..restamped(written.clone())
        };
        let _ = self.put_edited(&record, Some(&written.updated_at)).await;
        EditError::TagNotWritten(err)
    }

    /// Writes an edited record, only while no invocation holds a claim on the object and
    /// the stored record is still the one written at `seen` (`None`: while there is none).
    async fn put_edited(&self, record: &Record, seen: Option<&str>) -> Result<(), EditError> {
        let condition = Condition::Unchanged {
            seen: seen.map(String::from),
        };
        match self.records.put(record, &condition).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict { .. }) => Err(EditError::Conflict {
                key: record.key.clone(),
            }),
            Err(err) => Err(EditError::Store(err)),
        }
    }
}

/// `record` stamped now, to be written again.
fn restamped(record: Record) -> Record {
    Record {
        updated_at: now_rfc3339(),
        ..record
    }
}
