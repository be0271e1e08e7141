//! Settling what the provider chain gave: the record to write and its captions, or the
//! object's end (skipped, failed, retried later with what was paid for kept).

use super::Settings;
use super::answer::{Answer, missing_langs};
use super::attempt::Attempt;
use super::chain::{ChainResult, Stop};
use super::outcome::{Outcome, Step};
use super::write_back::with_captions;
use crate::caption::{PaidAttempt, Record, State};
use crate::store::RecordStore;
use crate::time::now_rfc3339;

/// What the chain gave, as the record to write and its captions. A stop before every
/// language is in keeps what was paid for (the retry reuses it and asks only for the
/// rest); no caption at all ends the object skipped (all declined) or failed.
/// Languages still missing are noted in the record.
pub(super) async fn settle<R: RecordStore>(
    attempt: &Attempt<'_, R>,
    settings: &Settings,
    record: Record,
    chain: ChainResult,
) -> Step<(Record, Vec<Answer>)> {
    let ChainResult {
        answers,
        declined,
        mut errors,
        stop,
        ..
    } = chain;
    if stop != Stop::Asked {
        let record = with_captions(settings, record, &answers, None);
        return Err(retry_later(attempt, settings, record, errors, stop).await);
    }
    if answers.is_empty() {
        if errors.is_empty() {
            return Err(attempt.skip(record, declined.join("; ")).await);
        }
        errors.extend(declined);
        let record = Record {
            state: State::Failed,
            error: Some(errors.join("; ")),
            retryable: Some(false),
            ..record
        };
        return Err(attempt.finish(record).await);
    }
    let missing = missing_langs(&settings.langs, &answers);
    errors.extend(declined);
    let note = (!missing.is_empty()).then(|| {
        format!(
            "no caption in {}: {}",
            missing.join(", "),
            errors.join("; ")
        )
    });
    Ok((
        Record {
            reason: note,
            ..record
        },
        answers,
    ))
}

/// The chain stopped before every language is in: the record keeps the captions it
/// gave and the request that may have been billed, and says whether a retry may ask
/// again (not once `ALT_TEXT_MAX_ATTEMPTS` requests may have been billed).
async fn retry_later<R: RecordStore>(
    attempt: &Attempt<'_, R>,
    settings: &Settings,
    mut record: Record,
    mut errors: Vec<String>,
    stop: Stop,
) -> Outcome {
    if let Stop::Uncertain { provider } = &stop {
        record.attempts.push(PaidAttempt {
            at: now_rfc3339(),
            provider: provider.clone(),
        });
    }
    let exhausted = stop == Stop::Exhausted;
    let spent = exhausted || record.attempts.len() >= settings.max_attempts;
    if spent && !exhausted {
        errors.push(format!(
            "no further request is sent for these bytes: {} may have been billed (ALT_TEXT_MAX_ATTEMPTS)",
            record.attempts.len()
        ));
    }
    let record = Record {
        state: State::Failed,
        error: Some(errors.join("; ")),
        retryable: Some(!spent),
        ..record
    };
    attempt.finish(record).await
}
