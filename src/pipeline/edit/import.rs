//! A caption imported from a file: set as a person's, unless the row says what the record
//! says already (an export imported back with a few cells edited changes only those).

use super::rules::person_text;
use super::{EditError, Edited, Editor, Shown};
use crate::store::{ObjectId, ObjectStore, RecordStore};

impl<S: ObjectStore, R: RecordStore> Editor<'_, S, R> {
    /// A caption imported from a file (`import`): set as [`Pipeline::set_shown`] does,
    /// except that a text equal to the recorded caption, whoever wrote it, and an empty
    /// text where there is none, leave the object unchanged. With `write` false, only
    /// what it would do.
    pub async fn import_caption(
        &self,
        id: &ObjectId,
        lang: Option<&str>,
        text: &str,
        shown: &Shown,
        write: bool,
    ) -> Result<Edited, EditError> {
        let lang = self.edited_lang(lang)?;
        if text.trim().is_empty() {
            // A row of a record without a caption (skipped, failed), exported as it is.
            let record = self
                .records
                .get(&id.bucket, &id.key)
                .await
                .map_err(EditError::Store)?;
            if record.is_none_or(|r| !r.all_captions().contains_key(&lang)) {
                return Ok(Edited::Unchanged);
            }
            return Err(EditError::Invalid(
                "the caption is empty (`set --clear` removes a person's caption)".into(),
            ));
        }
        let current = self.current(id, shown).await?;
        let recorded = current
            .record
            .as_ref()
            .and_then(|r| r.all_captions().remove(&lang));
        if recorded.is_some_and(|c| c.text == text.trim()) {
            return Ok(Edited::Unchanged);
        }
        let text = person_text(text)?;
        self.set_current(id, &lang, &text, current, write).await
    }
}
