//! What a person saw when they chose an edit: the image's ETag and version, the record's
//! time. An edit made on what was shown is refused once the object or its record changed:
//! the words were chosen for other bytes, or for a caption since replaced.

use super::EditError;
use crate::store::ObjectHead;

/// What the page (or the exported file) showed; `None` fields are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// The object's ETag, as the record had it.
    pub etag: Option<String>,
    /// The object's version.
    pub version_id: Option<String>,
    /// The record's `updated_at`.
    pub updated_at: Option<String>,
}

impl Shown {
    /// Each of `etag`, `version` and `updated_at`, when given and not empty.
    pub fn of(etag: &str, version: &str, updated_at: &str) -> Shown {
        let given = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        Shown {
            etag: given(etag).map(|e| e.trim_matches('"').to_string()),
            version_id: given(version).filter(|v| v != "null"),
            updated_at: given(updated_at),
        }
    }

    /// Refuses the edit when the object of `head`, or its record (written at `seen`), is
    /// not what was shown.
    pub(super) fn check(&self, head: &ObjectHead, seen: Option<&str>) -> Result<(), EditError> {
        let differs = |shown: &Option<String>, now: Option<&str>| {
            shown.as_deref().is_some_and(|s| Some(s) != now)
        };
        if differs(&self.etag, head.etag.as_deref())
            || differs(&self.version_id, head.version_id.as_deref())
        {
            return Err(EditError::Changed { what: "image" });
        }
        if differs(&self.updated_at, seen) {
            return Err(EditError::Changed { what: "caption" });
        }
        Ok(())
    }
}
