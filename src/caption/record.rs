//! The record kept for every processed object: what happened to it and why.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};

/// Where an object ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A provider gave a caption; it is in the record (and the tag, room permitting).
    Captioned,
    /// Deliberately not captioned: not an image, no provider could take it, no key, …
    Skipped,
    /// A provider or store failed; `error` says how and `retryable` whether it may pass.
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Captioned => "captioned",
            State::Skipped => "skipped",
            State::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<State> {
        match value {
            "captioned" => Some(State::Captioned),
            "skipped" => Some(State::Skipped),
            "failed" => Some(State::Failed),
            _ => None,
        }
    }
}

/// Whether the caption reached the object's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    Written,
    /// The object already had the maximum of 10 tags, none of them ours.
    NoRoom,
}

impl TagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TagStatus::Written => "written",
            TagStatus::NoRoom => "no_room",
        }
    }

    pub fn parse(value: &str) -> Option<TagStatus> {
        match value {
            "written" => Some(TagStatus::Written),
            "no_room" => Some(TagStatus::NoRoom),
            _ => None,
        }
    }
}

/// The caption of one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangCaption {
    /// The caption as kept (after the quality guard).
    pub text: String,
    /// The provider that wrote it.
    pub provider: String,
    /// The provider's own id for the request, where it gives one.
    pub request_id: Option<String>,
    /// The object tag it was written to; `None` when the tag set had no room.
    pub tag_key: Option<String>,
}

/// One object's record: partition key the bucket, sort key the decoded object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub bucket: String,
    pub key: String,
    pub state: State,
    /// The caption of the main language (the first configured one that has a caption).
    pub alt_text: Option<String>,
    /// The value written to the tag (the caption made valid for S3).
    pub tag_value: Option<String>,
    pub tag_status: Option<TagStatus>,
    pub provider: Option<String>,
    /// The provider's own id for the request, where it gives one.
    pub provider_request_id: Option<String>,
    pub lang: Option<String>,
    /// Every language's caption, by language code (the main one included).
    pub captions: BTreeMap<String, LangCaption>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub sequencer: Option<String>,
    /// RFC 3339 time of the write.
    pub updated_at: String,
    /// Why the object was skipped, or a note on a captioned one.
    pub reason: Option<String>,
    /// What failed.
    pub error: Option<String>,
    /// For failures: whether a later attempt may succeed.
    pub retryable: Option<bool>,
    /// The condition of the record's write, not stored: with a claim token, only while that
    /// claim is still this invocation's; without, only while nobody holds a live claim.
    pub claim: Option<String>,
}

impl Record {
    /// An empty record of `state` for an object, stamped now.
    pub fn new(bucket: &str, key: &str, state: State) -> Record {
        Record {
            bucket: bucket.to_string(),
            key: key.to_string(),
            state,
            alt_text: None,
            tag_value: None,
            tag_status: None,
            provider: None,
            provider_request_id: None,
            lang: None,
            captions: BTreeMap::new(),
            etag: None,
            version_id: None,
            size: None,
            content_type: None,
            sequencer: None,
            updated_at: now_rfc3339(),
            reason: None,
            error: None,
            retryable: None,
            claim: None,
        }
    }

    /// Every language's caption; for records written before captions were kept per
    /// language, the one top-level caption.
    pub fn all_captions(&self) -> BTreeMap<String, LangCaption> {
        if !self.captions.is_empty() {
            return self.captions.clone();
        }
        match (&self.alt_text, &self.provider) {
            (Some(text), Some(provider)) => BTreeMap::from([(
                self.lang.clone().unwrap_or_else(|| "en".into()),
                LangCaption {
                    text: text.clone(),
                    provider: provider.clone(),
                    request_id: self.provider_request_id.clone(),
                    tag_key: None,
                },
            )]),
            _ => BTreeMap::new(),
        }
    }

    /// Whether this record already holds a caption for the object version described.
    pub fn is_captioned_for(&self, etag: Option<&str>, version_id: Option<&str>) -> bool {
        if self.state != State::Captioned {
            return false;
        }
        match (version_id, self.version_id.as_deref()) {
            (Some(wanted), Some(have)) => wanted == have,
            _ => etag.is_some() && etag == self.etag.as_deref(),
        }
    }
}

/// The current time in RFC 3339 (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    DateTime::from(SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captioned(etag: &str, version: Option<&str>) -> Record {
        let mut r = Record::new("b", "k", State::Captioned);
        r.etag = Some(etag.into());
        r.version_id = version.map(String::from);
        r
    }

    #[test]
    fn captioned_for_the_same_etag_or_version() {
        assert!(captioned("e1", None).is_captioned_for(Some("e1"), None));
        assert!(!captioned("e1", None).is_captioned_for(Some("e2"), None));
        assert!(!captioned("e1", None).is_captioned_for(None, None));
        assert!(captioned("e1", Some("v1")).is_captioned_for(Some("e1"), Some("v1")));
        assert!(!captioned("e1", Some("v1")).is_captioned_for(Some("e1"), Some("v2")));
        let mut skipped = captioned("e1", None);
        skipped.state = State::Skipped;
        assert!(!skipped.is_captioned_for(Some("e1"), None));
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let now = now_rfc3339();
        let parsed = DateTime::from_str(&now, DateTimeFormat::DateTime).unwrap();
        let age = SystemTime::now()
            .duration_since(SystemTime::try_from(parsed).unwrap())
            .unwrap();
        assert!(age.as_secs() < 5, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }

    #[test]
    fn states_round_trip() {
        for s in [State::Captioned, State::Skipped, State::Failed] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for t in [TagStatus::Written, TagStatus::NoRoom] {
            assert_eq!(TagStatus::parse(t.as_str()), Some(t));
        }
    }
}
