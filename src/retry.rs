//! Whether a later try can help: the one question every failure of the function answers,
//! in the same words.

/// A failure that says whether the same work may succeed when tried again later: the event
/// delivered again (by Lambda, SQS or a replay), the command run again. Tried again at once
/// is another matter: the SDK's and the providers' own retries do that within one call.
/// What is retryable ends as `retryable: true` in the record and in the object's summary.
pub trait Retryable {
    fn is_retryable(&self) -> bool;
}
