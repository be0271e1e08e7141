//! The answer each caller expects: the summary for asynchronous deliveries (or a failed
//! invocation when a retry can help, so Lambda's retries take over), the messages to
//! deliver again for SQS, a result per task for S3 Batch Operations.

use aws_lambda_events::s3::batch_job::{S3BatchJobResponse, S3BatchJobResult};
use aws_lambda_events::sqs::SqsBatchResponse;
use serde::Serialize;

use super::HandlerError;
use crate::report::{ObjectSummary, OutcomeKind, Summary};

/// Longest `resultString` returned to Batch Operations.
const RESULT_STRING_CHARS: usize = 200;

/// The answer the invocation's caller expects.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Response {
    /// Asynchronous deliveries: the summary (Lambda keeps it only for logs and destinations).
    Summary(Summary),
    /// SQS with `ReportBatchItemFailures`: the messages to deliver again.
    Sqs(SqsBatchResponse),
    /// S3 Batch Operations: a result per task.
    BatchJob(S3BatchJobResponse),
}

/// A handled invocation: the response, and the summary of every object.
#[derive(Debug, Clone)]
pub struct Handled {
    pub response: Response,
    pub summary: Summary,
}

/// Asynchronous deliveries: the summary, or a failed invocation naming the objects a retry
/// can help.
pub fn async_answer(summary: Summary) -> Result<Handled, HandlerError> {
    let retryable: Vec<&ObjectSummary> = summary.objects.iter().filter(|o| o.retryable).collect();
    if retryable.is_empty() {
        return Ok(Handled {
            response: Response::Summary(summary.clone()),
            summary,
        });
    }
    let keys = retryable
        .iter()
        .filter_map(|o| o.key.as_deref())
        .collect::<Vec<_>>()
        .join(", ");
    Err(HandlerError::Retryable {
        failed: retryable.len(),
        total: summary.objects.len(),
        keys,
        summary: Box::new(summary),
    })
}

/// SQS: the ids of the messages to deliver again (`retry`, one flag per message).
pub fn sqs_answer(ids: Vec<String>, retry: Vec<bool>, summary: Summary) -> Handled {
    let mut response = SqsBatchResponse::default();
    for (id, retry) in ids.into_iter().zip(retry) {
        if retry {
            response.add_failure(id);
        }
    }
    Handled {
        response: Response::Sqs(response),
        summary,
    }
}

/// S3 Batch Operations: a result per task, in task order.
pub fn batch_answer(
    schema_version: String,
    invocation_id: String,
    task_ids: Vec<String>,
    summary: Summary,
) -> Handled {
    let mut response = S3BatchJobResponse::default();
    response.invocation_schema_version = Some(schema_version);
    response.invocation_id = Some(invocation_id);
    response.treat_missing_keys_as = Some("PermanentFailure".into());
    response.results = task_ids
        .into_iter()
        .zip(&summary.objects)
        .map(|(task_id, object)| {
            let mut result = S3BatchJobResult::default();
            result.task_id = Some(task_id);
            result.result_code = Some(batch_result_code(object).into());
            result.result_string = Some(batch_result_string(object));
            result
        })
        .collect();
    Handled {
        response: Response::BatchJob(response),
        summary,
    }
}

fn batch_result_code(object: &ObjectSummary) -> &'static str {
    match (object.outcome, object.retryable) {
        (OutcomeKind::Failed, true) | (OutcomeKind::Busy, _) => "TemporaryFailure",
        (OutcomeKind::Failed, false) => "PermanentFailure",
        _ => "Succeeded",
    }
}

fn batch_result_string(object: &ObjectSummary) -> String {
    let text = match (&object.provider, &object.detail) {
        (Some(provider), _) => format!("{} by {provider}", object.outcome),
        (None, Some(detail)) => format!("{}: {detail}", object.outcome),
        (None, None) => object.outcome.to_string(),
    };
    text.chars().take(RESULT_STRING_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(outcome: OutcomeKind, retryable: bool) -> ObjectSummary {
        ObjectSummary {
            bucket: Some("b".into()),
            key: Some("k".into()),
            outcome,
            provider: (outcome == OutcomeKind::Captioned).then(|| "embedded".into()),
            detail: (outcome != OutcomeKind::Captioned).then(|| "x".repeat(500)),
            retryable,
        }
    }

    #[test]
    fn batch_results_follow_the_outcome() {
        assert_eq!(
            batch_result_code(&object(OutcomeKind::Captioned, false)),
            "Succeeded"
        );
        assert_eq!(
            batch_result_code(&object(OutcomeKind::Skipped, false)),
            "Succeeded"
        );
        assert_eq!(
            batch_result_code(&object(OutcomeKind::Failed, true)),
            "TemporaryFailure"
        );
        assert_eq!(
            batch_result_code(&object(OutcomeKind::Failed, false)),
            "PermanentFailure"
        );
        assert_eq!(
            batch_result_string(&object(OutcomeKind::Captioned, false)),
            "captioned by embedded"
        );
        assert_eq!(
            batch_result_string(&object(OutcomeKind::Failed, false))
                .chars()
                .count(),
            RESULT_STRING_CHARS
        );
    }
}
