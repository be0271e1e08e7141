//! A person's edits as the commands and the review page make them: the pipeline's entry
//! points, each handed to the editor over the pipeline's stores and settings.

use super::{EditError, Edited, Editor, Shown};
use crate::pipeline::Pipeline;
use crate::store::{ObjectId, ObjectStore, RecordStore};

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    pub(super) fn editor(&self) -> Editor<'_, S, R> {
        Editor {
            store: &self.store,
            records: &self.records,
            settings: &self.settings,
        }
    }

    /// Sets a person's caption for `lang` (the main language by default): the record says
    /// `source: person`, the tag holds it (if it can be a faithful tag value), and no
    /// provider is asked for that language of this object version again.
    pub async fn set_caption(
        &self,
        id: &ObjectId,
        lang: Option<&str>,
        text: &str,
    ) -> Result<Edited, EditError> {
        self.editor()
            .set_shown(id, lang, text, &Shown::default())
            .await
    }

    /// [`Pipeline::set_caption`], refused when the object or its record is no longer what
    /// the person was `shown` (the review page).
    pub async fn set_shown(
        &self,
        id: &ObjectId,
        lang: Option<&str>,
        text: &str,
        shown: &Shown,
    ) -> Result<Edited, EditError> {
        self.editor().set_shown(id, lang, text, shown).await
    }

    /// Approves the object's captions as they are: the record says when.
    pub async fn approve(&self, id: &ObjectId) -> Result<Edited, EditError> {
        self.editor().approve_shown(id, &Shown::default()).await
    }

    /// [`Pipeline::approve`], refused when the object or its record is no longer what the
    /// person was `shown`: no caption nobody saw is stamped reviewed.
    pub async fn approve_shown(&self, id: &ObjectId, shown: &Shown) -> Result<Edited, EditError> {
        self.editor().approve_shown(id, shown).await
    }

    /// Clears the caption of `lang` set by a person: the record forgets it and its tag goes,
    /// so that the next event or backfill captions that language again.
    pub async fn clear_caption(
        &self,
        id: &ObjectId,
        lang: Option<&str>,
    ) -> Result<Edited, EditError> {
        self.editor().clear_caption(id, lang).await
    }

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
        self.editor()
            .import_caption(id, lang, text, shown, write)
            .await
    }
}
