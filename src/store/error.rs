//! Errors of the object and record stores (S3, DynamoDB), classified by whether a retry
//! can help.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thiserror::Error;

use crate::retry::Retryable;

/// A failed store operation.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The object (or the version asked for) does not exist.
    #[error("{op}: the object does not exist")]
    NotFound { op: &'static str },
    /// The object changed since it was first read (If-Match failed).
    #[error("{op}: the object changed while it was being read")]
    Changed { op: &'static str },
    /// A conditional write lost to a concurrent writer (another invocation took the
    /// object over).
    #[error("{op}: another invocation has taken over the object")]
    Conflict { op: &'static str },
    /// Throttling, a 5xx, a timeout or a connection failure: a later retry can succeed.
    #[error("{op} failed (retryable): {message}")]
    Transient { op: &'static str, message: String },
    /// S3 refused a tag set (`InvalidTag`).
    #[error("{op}: S3 refused the tag set: {message}")]
    InvalidTag { op: &'static str, message: String },
    /// Access denied, a missing table or bucket, a bad request: retrying will not help.
    #[error("{op} failed: {message}")]
    Permanent { op: &'static str, message: String },
}

impl Retryable for StoreError {
    fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Transient { .. })
    }
}

/// Error codes S3 and DynamoDB use for throttling and passing faults.
const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Classifies an SDK error of operation `op`.
pub fn classify<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let message = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return StoreError::Transient { op, message };
        }
        SdkError::ConstructionFailure(_) => return StoreError::Permanent { op, message },
        _ => {}
    }
    match (code.as_deref(), status) {
        (Some("NoSuchKey" | "NoSuchVersion" | "NotFound"), _) | (None, Some(404)) => {
            StoreError::NotFound { op }
        }
        (Some("PreconditionFailed"), _) | (_, Some(412)) => StoreError::Changed { op },
        (Some("InvalidTag"), _) => StoreError::InvalidTag { op, message },
        (Some(code), _) if TRANSIENT_CODES.contains(&code) => StoreError::Transient { op, message },
        (_, Some(429 | 500..=599)) => StoreError::Transient { op, message },
        _ => StoreError::Permanent { op, message },
    }
}
