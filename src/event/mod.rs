//! Object events: what S3 says happened to one object, however the event arrived — a direct
//! S3 notification, SNS, SQS (also around SNS), EventBridge, or an S3 Batch Operations job.
//!
//! Pure parsing, no I/O. Each record is parsed on its own so that one malformed record
//! never hides the others; object keys are form-URL-decoded as S3 sends them.
//!
//! - [`envelope`]: recognises the invocation's shape and unwraps SNS and SQS envelopes;
//! - [`s3`] and [`eventbridge`]: one object event from a notification record or an
//!   EventBridge event; [`batch_job`]: the tasks of a Batch Operations job;
//! - [`key`]: key decoding and field clean-up; [`sequencer`]: ordering events of one key.

pub mod batch_job;
pub mod envelope;
pub mod eventbridge;
pub mod key;
pub mod s3;
pub mod sequencer;

use thiserror::Error;

pub use batch_job::{BatchJob, BatchTask};
pub use envelope::{Invocation, SqsMessage, message, parse};
pub use key::decode_key;
pub use sequencer::{sequencer_key, sequencer_order};

/// One object event, or why its record cannot be used.
pub type Item = Result<ObjectEvent, RecordError>;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Removed,
}

/// One S3 object named by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub action: Action,
    pub bucket: String,
    /// The decoded object key.
    pub key: String,
    pub version_id: Option<String>,
    /// ETag as the event reports it, without quotes.
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub sequencer: Option<String>,
    pub event_name: String,
}

/// A payload of no shape this function handles. Retrying will not help.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "unrecognised event: expected an S3 notification (direct, via SNS or SQS), an EventBridge event from aws.s3 or an S3 Batch Operations job, got {0}"
)]
pub struct UnrecognisedEvent(pub String);

/// A record that cannot be processed. Permanent: the same record will never parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record {index} is malformed: {reason}")]
    Malformed { index: usize, reason: String },
    #[error("record {index} has an undecodable key {raw:?}: {reason}")]
    BadKey {
        index: usize,
        raw: String,
        reason: String,
    },
    #[error("record {index} is a {event_name} event, neither a creation nor a removal")]
    Ignored { index: usize, event_name: String },
}

impl RecordError {
    /// Whether the record is simply of no interest (as opposed to broken).
    pub fn is_ignored(&self) -> bool {
        matches!(self, RecordError::Ignored { .. })
    }
}
