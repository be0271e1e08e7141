//! Writing the result: the captions into the object's tags (merged with the user's) and the
//! record; or a final skipped or failed record.

use super::answer::Answer;
use super::attempt::Attempt;
use super::tagging::{self, Placement, TagPlan};
use super::{Outcome, Pipeline, Settings, person};
use crate::caption::{LangCaption, Record, State, Tag, TagStatus, tags};
use crate::store::{ObjectStore, RecordStore, StoreError};

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// Writes the record and the captions to the object's tags: together when the record
    /// holds the captions already (`stored`), else the record first. A caption tag a person
    /// set meanwhile wins over the provider's caption of its language. A person's caption
    /// whose tag is still to be written goes in pending (the claim kept), and is marked
    /// written once its tag is: a process ended between the writes leaves it pending, so
    /// that the older tag still on the object is never taken for a person's newer words.
    pub(super) async fn write_back(
        &self,
        attempt: &Attempt<'_, R>,
        record: Record,
        answers: Vec<Answer>,
        existing_tags: Result<Vec<Tag>, StoreError>,
        previous: Option<&Record>,
        stored: bool,
    ) -> Outcome {
        let answers = match &existing_tags {
            Ok(tags) => {
                let people =
                    person::answers(tags, previous, record.etag.as_deref(), &self.settings);
                with_people(answers, people)
            }
            Err(_) => answers,
        };
        let answers = answers.as_slice();
        let provider = answers[0].author.name().to_string();
        let record = Record {
            state: State::Captioned,
            ..record
        };
        let existing_tags = match existing_tags {
            Ok(tags) => tags,
            Err(err) => {
                // Without the current tags a write could drop the user's: keep the captions
                // in the record so the retry reuses them, and touch no tag.
                let record = with_captions(&self.settings, record, answers, None);
                return attempt.write_failure(record, &err).await;
            }
        };
        let plan = tagging::plan(&existing_tags, answers, &self.settings);
        let base = record.clone();
        let record = tagged(&self.settings, record, answers, &plan);
        let tag = record.tag_status.unwrap_or(TagStatus::NoRoom);
        let Some(new_tags) = &plan.new_tags else {
            return match attempt.write(&record).await {
                Ok(()) => Outcome::Captioned { provider, tag },
                Err(err) => Outcome::failed(&err),
            };
        };
        // A tag the function writes must be one its record knows, or the next delivery
        // would take it for a person's. With the captions stored already (`stored`), the
        // record and the tags go together; otherwise the record goes first.
        let first = person::pending(record.clone(), answers);
        let confirm = first != record;
        let together = stored && !confirm;
        let written = self.record_and_tags(attempt, &first, new_tags, together, confirm);
        let tags_written = match written.await {
            Ok(tags_written) => tags_written,
            Err(err) => return Outcome::failed(&err),
        };
        match tags_written {
            Ok(()) => {
                if confirm {
                    // Best effort: the tag in place confirms a pending caption anyway.
                    let _ = attempt.write(&record).await;
                }
                Outcome::Captioned { provider, tag }
            }
            Err(StoreError::InvalidTag { .. }) => {
                let refused =
                    tagging::without_refused_tags(&self.store, &attempt.id, &existing_tags, plan);
                match refused.await {
                    Ok(plan) => self.retagged(attempt, base, answers, &plan).await,
                    Err(err) => self.tags_not_written(attempt, record, answers, err).await,
                }
            }
            Err(err) => self.tags_not_written(attempt, record, answers, err).await,
        }
    }

    /// Writes `record` and `tags`: `together`, or the record first (no tag is written if it
    /// fails); the record keeps the claim when `keep` (a pending caption still to be
    /// confirmed). `Err` is the record's failure; `Ok`, how the tag write went. When they go
    /// together and the record fails, the record stored before holds the captions: the
    /// next delivery writes them.
    async fn record_and_tags(
        &self,
        attempt: &Attempt<'_, R>,
        record: &Record,
        tags: &[Tag],
        together: bool,
        keep: bool,
    ) -> Result<Result<(), StoreError>, StoreError> {
        let put = async {
            match keep {
                true => attempt.write_keeping(record).await,
                false => attempt.write(record).await,
            }
        };
        if together {
            let (put, tagged) = tokio::join!(put, self.store.put_tags(&attempt.id, tags));
            return put.map(|()| tagged);
        }
        put.await?;
        Ok(self.store.put_tags(&attempt.id, tags).await)
    }

    /// The record again (from `base`, before any tag), after the tags were written without
    /// those S3 refused. If the first record released the claim, this one is written only
    /// while nobody has claimed the object since.
    async fn retagged(
        &self,
        attempt: &Attempt<'_, R>,
        base: Record,
        answers: &[Answer],
        plan: &TagPlan,
    ) -> Outcome {
        let provider = answers[0].author.name().to_string();
        let record = tagged(&self.settings, base, answers, plan);
        let tag = record.tag_status.unwrap_or(TagStatus::Refused);
        match attempt.write(&record).await {
            Ok(()) => Outcome::Captioned { provider, tag },
            Err(err) => Outcome::failed(&err),
        }
    }

    /// The tag write failed: the record says so and keeps the captions for the retry. If
    /// the record written alongside released the claim, the correction is written only
    /// while nobody has claimed the object since.
    async fn tags_not_written(
        &self,
        attempt: &Attempt<'_, R>,
        record: Record,
        answers: &[Answer],
        err: StoreError,
    ) -> Outcome {
        let record = Record {
            tag_status: None,
            ..with_captions(&self.settings, record, answers, None)
        };
        match err {
            StoreError::NotFound { .. } => {
                let reason = "the object was deleted while it was captioned";
                attempt
                    .finish(Record {
                        state: State::Skipped,
                        reason: Some(reason.into()),
                        ..record
                    })
                    .await
            }
            err => attempt.write_failure(record, &err).await,
        }
    }
}

/// `answers` with each language a person has captioned taken from `people`.
fn with_people(answers: Vec<Answer>, people: Vec<Answer>) -> Vec<Answer> {
    answers
        .into_iter()
        .map(|answer| {
            people
                .iter()
                .find(|p| p.caption.lang == answer.caption.lang)
                .cloned()
                .unwrap_or(answer)
        })
        .collect()
}

/// The record with its captions and where their tags went. A caption without a tag is
/// noted in the record, with the reason.
pub(super) fn tagged(
    settings: &Settings,
    record: Record,
    answers: &[Answer],
    plan: &TagPlan,
) -> Record {
    let mut record = Record {
        tag_status: plan.placements.first().map(|p| p.status),
        ..with_captions(settings, record, answers, Some(&plan.placements))
    };
    let untagged: Vec<String> = answers
        .iter()
        .zip(&plan.placements)
        .filter(|(_, p)| p.status != TagStatus::Written)
        .map(|(a, p)| {
            let key = settings.tag_key_for(&a.caption.lang);
            format!(
                "not tagged {key}: {}",
                p.reason.as_deref().unwrap_or_default()
            )
        })
        .collect();
    if !untagged.is_empty() {
        let untagged = untagged.join("; ");
        record.reason = Some(match record.reason.take() {
            Some(note) => format!("{untagged}; {note}"),
            None => untagged,
        });
    }
    record
}

/// `record` holding `answers`: the main caption at the top level, every language in
/// `captions`. `placements` says, per answer, where its tag stands (`None`: not written).
pub(super) fn with_captions(
    settings: &Settings,
    record: Record,
    answers: &[Answer],
    placements: Option<&[Placement]>,
) -> Record {
    let Some(main) = answers.first() else {
        return record;
    };
    let captions = answers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let placement = placements.and_then(|p| p.get(i));
            let written = placement
                .is_some_and(|p| matches!(p.status, TagStatus::Written | TagStatus::Pending));
            (
                a.caption.lang.clone(),
                LangCaption {
                    text: a.caption.text.clone(),
                    provider: a.author.name().to_string(),
                    source: a.author.source(),
                    request_id: a.caption.request_id.clone(),
                    tag_key: written.then(|| settings.tag_key_for(&a.caption.lang)),
                    tag_status: placement.map(|p| p.status),
                    tag_reason: placement.and_then(|p| p.reason.clone()),
                },
            )
        })
        .collect();
    Record {
        alt_text: Some(main.caption.text.clone()),
        tag_value: tags::tag_value(&main.caption.text).ok(),
        provider: Some(main.author.name().to_string()),
        provider_request_id: main.caption.request_id.clone(),
        lang: Some(main.caption.lang.clone()),
        captions,
        ..record
    }
}
