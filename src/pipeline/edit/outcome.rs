//! What an edit did, or why it was not made.

use thiserror::Error;

use crate::retry::Retryable;
use crate::store::StoreError;

/// What an edit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    /// The caption is set (or cleared, or approved) now.
    Done,
    /// It was so already: nothing was written.
    Unchanged,
}

/// Why an edit was not made. Nothing was written, except where it says so.
#[derive(Debug, Error)]
pub enum EditError {
    /// The edit itself is wrong (an empty caption, a language not configured, not an image).
    #[error("{0}")]
    Invalid(String),
    #[error("no object {key} in bucket {bucket}")]
    NoObject { bucket: String, key: String },
    /// The image, or its caption, is no longer what the person was shown.
    #[error("the {what} changed since this page was shown: reload")]
    Changed { what: &'static str },
    /// An invocation is captioning the object now.
    #[error(
        "{key} is being captioned or edited right now, or changed since it was read; try again"
    )]
    Conflict { key: String },
    /// The record went in, the tag write failed: the record says so, and the next event
    /// writes the tag.
    #[error("the caption is in the record, but its tag could not be written: {0}")]
    TagNotWritten(StoreError),
    /// A clear whose tag removal failed: the same command again finishes it (the tag would
    /// otherwise read as a person's caption again).
    #[error(
        "the record forgot the caption, but its tag could not be removed (run the same command again): {0}"
    )]
    TagNotRemoved(StoreError),
    #[error(transparent)]
    Store(StoreError),
}

impl Retryable for EditError {
    /// Whether the same edit may pass later.
    fn is_retryable(&self) -> bool {
        match self {
            EditError::Conflict { .. } => true,
            EditError::Store(err)
            | EditError::TagNotWritten(err)
            | EditError::TagNotRemoved(err) => err.is_retryable(),
            EditError::Invalid(_) | EditError::NoObject { .. } | EditError::Changed { .. } => false,
        }
    }
}
