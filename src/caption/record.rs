//! The record kept for every processed object: what happened to it and why. Its serde form
//! is the DynamoDB item (`pk` the bucket, `sk` the key; absent fields are not written): the
//! schema lives here, once. Reading is lenient field by field, so one mistyped attribute
//! (an edit by hand, an older version) never makes a record unreadable.

use std::collections::BTreeMap;

use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::time::now_rfc3339;

/// Where an object ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
}

/// Whether the caption reached the object's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagStatus {
    Written,
    /// The object already had the maximum of 10 tags, none of them ours.
    NoRoom,
    /// The caption cannot be a faithful tag value (its letters need marks S3 refuses): it is
    /// in the record only.
    NotFaithful,
    /// S3 refused the value; the other tags were written without it.
    Refused,
    /// A person's caption whose tag is being written: the record holds the newer words,
    /// and a caption tag still on the object is an older caption's, to be replaced.
    Pending,
}

impl TagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TagStatus::Written => "written",
            TagStatus::NoRoom => "no_room",
            TagStatus::NotFaithful => "not_faithful",
            TagStatus::Refused => "refused",
            TagStatus::Pending => "pending",
        }
    }
}

/// Who wrote a caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A captioning service (or the image's embedded alt text): `provider` names it.
    #[default]
    Provider,
    /// A person: their caption was on the object as its tag, and is never overwritten.
    Person,
}

/// The caption of one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LangCaption {
    /// The caption as kept (after the quality guard, for a provider's).
    pub text: String,
    /// The provider that wrote it; `person` for a person's caption.
    pub provider: String,
    /// Who wrote it.
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub source: Source,
    /// The provider's own id for the request, where it gives one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub request_id: Option<String>,
    /// The object tag it was written to; `None` when it has no tag (see `tag_status`).
    #[serde(
        rename = "tag",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub tag_key: Option<String>,
    /// Whether its tag was written, or why not.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub tag_status: Option<TagStatus>,
    /// Why it has no tag, in words.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub tag_reason: Option<String>,
}

/// A request to a paid provider that got no usable answer (a timeout once sent, a server
/// error, an unreadable success): it may have been billed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidAttempt {
    /// RFC 3339 time of the request.
    pub at: String,
    pub provider: String,
}

/// One object's record: partition key the bucket, sort key the decoded object key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(rename = "pk")]
    pub bucket: String,
    #[serde(rename = "sk")]
    pub key: String,
    pub state: State,
    /// The caption of the main language (the first configured one that has a caption).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub alt_text: Option<String>,
    /// The value written to the tag (the caption made valid for S3).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub tag_value: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub tag_status: Option<TagStatus>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub provider: Option<String>,
    /// The provider's own id for the request, where it gives one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub provider_request_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub lang: Option<String>,
    /// Every language's caption, by language code (the main one included).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "captions"
    )]
    pub captions: BTreeMap<String, LangCaption>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub etag: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub version_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub size: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub content_type: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub sequencer: Option<String>,
    /// RFC 3339 time of the write.
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub updated_at: String,
    /// RFC 3339 time a person approved the captions, or set one (the review page, `set`).
    /// A record written for new bytes has none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub reviewed_at: Option<String>,
    /// Why the object was skipped, or a note on a captioned one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub reason: Option<String>,
    /// What failed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub error: Option<String>,
    /// Requests to paid providers for these bytes that may have been billed without giving
    /// a caption; at `ALT_TEXT_MAX_ATTEMPTS` no further request is sent.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient_or_default"
    )]
    pub attempts: Vec<PaidAttempt>,
    /// For failures: whether a later attempt may succeed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub retryable: Option<bool>,
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
            reviewed_at: None,
            reason: None,
            error: None,
            retryable: None,
            attempts: Vec::new(),
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
                    source: Source::Provider,
                    request_id: self.provider_request_id.clone(),
                    tag_key: None,
                    tag_status: None,
                    tag_reason: None,
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

/// A value read as it is, or set aside when it has another type.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Valid(T),
    Invalid(IgnoredAny),
}

impl<T> Lenient<T> {
    fn ok(self) -> Option<T> {
        match self {
            Lenient::Valid(value) => Some(value),
            Lenient::Invalid(_) => None,
        }
    }
}

/// An optional field: `None` when absent or of another type.
fn lenient<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Lenient::deserialize(d)?.ok())
}

/// A field with a default, which stands in for a value of another type.
fn lenient_or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Lenient::deserialize(d)?.ok().unwrap_or_default())
}

/// The captions map: an entry that is not a caption is left out.
fn captions<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, LangCaption>, D::Error> {
    let entries: Option<BTreeMap<String, Lenient<LangCaption>>> = lenient(d)?;
    Ok(entries
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(lang, caption)| Some((lang, caption.ok()?)))
        .collect())
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

    /// The names conditions compare (`as_str`) are the names items hold (serde).
    #[test]
    fn states_round_trip() {
        fn parse<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
            serde_json::from_value(serde_json::json!(name)).ok()
        }
        for s in [State::Captioned, State::Skipped, State::Failed] {
            assert_eq!(parse(s.as_str()), Some(s));
        }
        for t in [
            TagStatus::Written,
            TagStatus::NoRoom,
            TagStatus::NotFaithful,
            TagStatus::Refused,
            TagStatus::Pending,
        ] {
            assert_eq!(parse(t.as_str()), Some(t));
        }
    }
}
