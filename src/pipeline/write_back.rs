//! Writing the result: the captions into the object's tags (merged with the user's) and the
//! record, at the same time; or a final skipped or failed record.

use super::chain::Answer;
use super::{Outcome, Pipeline};
use crate::caption::{LangCaption, Record, State, Tag, TagStatus, tags};
use crate::store::{ObjectId, ObjectStore, RecordStore, StoreError};

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// Writes the captions to the object's tags and the record, at the same time.
    pub(super) async fn write_back(
        &self,
        id: &ObjectId,
        record: Record,
        answers: &[Answer],
        existing_tags: Result<Vec<Tag>, StoreError>,
    ) -> Outcome {
        let provider = answers[0].provider.clone();
        let record = Record {
            state: State::Captioned,
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
        let (record, new_tags) = self.tagged(record, answers, &existing_tags);
        let tag = record.tag_status.unwrap_or(TagStatus::NoRoom);
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
                self.tags_not_written(record, answers, err, stored.is_ok())
                    .await
            }
            (Ok(()), Err(err)) => Outcome::failed(&err),
        }
    }

    /// The record with its captions and where their tags go, and the new tag set (`None`
    /// when nothing changes). The user's tags come first; a caption with no room left is
    /// noted in the record.
    fn tagged(
        &self,
        record: Record,
        answers: &[Answer],
        existing_tags: &[Tag],
    ) -> (Record, Option<Vec<Tag>>) {
        let wanted: Vec<Tag> = answers
            .iter()
            .map(|a| {
                Tag::new(
                    self.settings.tag_key_for(&a.caption.lang),
                    tags::sanitize_value(&a.caption.text),
                )
            })
            .collect();
        let (new_tags, placed) = tags::merge_all(existing_tags, &wanted);
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
        (record, new_tags)
    }

    /// The tag write failed: the record says so and keeps the captions for the retry. If
    /// the record written alongside went in (`stored`), it released the claim: the
    /// correction is then written only while nobody has claimed the object since.
    async fn tags_not_written(
        &self,
        record: Record,
        answers: &[Answer],
        err: StoreError,
        stored: bool,
    ) -> Outcome {
        let claim = if stored { None } else { record.claim.clone() };
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

    /// `record` holding `answers`: the main caption at the top level, every language in
    /// `captions`. `placed` says, per answer, whether its tag was written.
    pub(super) fn with_captions(
        &self,
        record: Record,
        answers: &[Answer],
        placed: Option<&[bool]>,
    ) -> Record {
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

    /// Records a failed write-back, keeping the caption so that no retry pays for it again.
    pub(super) async fn write_failure(&self, record: Record, err: &StoreError) -> Outcome {
        let record = Record {
            state: State::Failed,
            error: Some(format!("caption not written: {err}")),
            retryable: Some(err.is_retryable()),
            ..record
        };
        let _ = self.records.put(&record).await;
        Outcome::failed(err)
    }

    /// Writes a final skipped or failed record and turns it into the outcome.
    pub(super) async fn finish(&self, record: Record) -> Outcome {
        let outcome = match record.state {
            State::Failed => Outcome::Failed {
                error: record.error.clone().unwrap_or_default(),
                retryable: record.retryable.unwrap_or(false),
            },
            _ => Outcome::skipped(record.reason.clone().unwrap_or_default()),
        };
        match self.records.put(&record).await {
            Ok(()) => outcome,
            Err(err) => Outcome::failed(&err),
        }
    }

    /// A final skipped record, with its reason.
    pub(super) async fn skip(&self, record: Record, reason: impl Into<String>) -> Outcome {
        self.finish(Record {
            reason: Some(reason.into()),
            ..record
        })
        .await
    }
}
