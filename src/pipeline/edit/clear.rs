//! A person's caption cleared: the record forgets it and its tag goes.

use super::Editor;
use super::{EditError, Edited, Shown};
use crate::caption::{Record, Source, State, Tag};
use crate::pipeline::person;
use crate::store::{ObjectId, ObjectStore, RecordStore};

impl<S: ObjectStore, R: RecordStore> Editor<'_, S, R> {
    /// Clears the caption of `lang` set by a person: the record forgets it and its tag goes,
    /// so that the next event or backfill captions that language again.
    pub async fn clear_caption(
        &self,
        id: &ObjectId,
        lang: Option<&str>,
    ) -> Result<Edited, EditError> {
        let lang = self.edited_lang(lang)?;
        let current = self.current(id, &Shown::default()).await?;
        let key = self.settings.tag_key_for(&lang);
        let people = person::answers(
            &current.tags,
            current.record.as_ref(),
            current.head.etag.as_deref(),
            self.settings,
        );
        let recorded = current.record.as_ref().is_some_and(|r| {
            r.all_captions()
                .get(&lang)
                .is_some_and(|c| c.source == Source::Person)
        });
        let tagged = people.iter().any(|a| a.caption.lang == lang);
        if !recorded && !tagged {
            return Ok(Edited::Unchanged);
        }
        let mut record = Record {
            state: State::Failed,
            retryable: Some(true),
            error: Some(format!(
                "the caption in {lang} was cleared by a person: the next event or backfill captions it"
            )),
            ..self.edited_record(id, &current)
        };
        record.captions.remove(&lang);
        if record.lang.as_deref() == Some(lang.as_str()) || record.captions.is_empty() {
            record = Record {
                alt_text: None,
                tag_value: None,
                tag_status: None,
                provider: None,
                provider_request_id: None,
                lang: None,
                ..record
            };
        }
        self.put_edited(&record, current.seen.as_deref()).await?;
        let tags: Vec<Tag> = current
            .tags
            .iter()
            .filter(|t| t.key != key)
            .cloned()
            .collect();
        if tags.len() != current.tags.len() {
            self.store
                .put_tags(id, &tags)
                .await
                .map_err(EditError::TagNotRemoved)?;
        }
        Ok(Edited::Done)
    }
}
