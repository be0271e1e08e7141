//! The record store's contract (`store/records.rs`), held by both stores: DynamoDB
//! (dynalite, on the local stack) and the in-memory store of the unit tests. The same checks
//! run against each, so that the unit tests' store cannot drift from the real one: claims,
//! the conditions of a write, conflicts, deletes and paging.

use s3_alt_text::caption::{Record, State};
use s3_alt_text::store::memory::MemoryRecords;
use s3_alt_text::store::{Claim, ClaimRequest, Condition, DynamoRecords, RecordStore, StoreError};
use s3_alt_text::time::epoch_now;

use crate::support::Stack;

#[tokio::test]
async fn dynamodb_holds_the_record_store_contract() {
    let stack = Stack::new("contract").await;
    let records = DynamoRecords::new(stack.dynamodb.clone(), &stack.table);
    holds_the_contract(&records, &stack.bucket).await;
}

#[tokio::test]
async fn the_memory_store_holds_the_record_store_contract() {
    holds_the_contract(&MemoryRecords::default(), "photos").await;
}

async fn holds_the_contract(records: &impl RecordStore, bucket: &str) {
    claims_hold_until_released_or_lapsed(records, bucket).await;
    claims_never_go_over_a_caption_or_a_newer_event(records, bucket).await;
    a_write_under_a_claim_nobody_holds_is_refused(records, bucket).await;
    an_unchanged_write_goes_only_over_the_record_read(records, bucket).await;
    a_delete_goes_only_while_unchanged_and_unclaimed(records, bucket).await;
    pages_list_every_record_of_a_prefix_in_key_order(records, bucket).await;
}

/// A claim of `key` by `token` at `now`, live for a minute (or lapsed already, `until` in
/// the past: the claim of a crashed invocation).
fn claim<'a>(bucket: &'a str, key: &'a str, token: &'a str, until: u64) -> ClaimRequest<'a> {
    ClaimRequest {
        bucket,
        key,
        token,
        now: epoch_now(),
        until,
        etag: Some("etag-1"),
        version_id: None,
        sequencer: None,
    }
}

fn claimed(token: &str, keep_until: Option<u64>) -> Condition {
    Condition::Claimed {
        token: token.into(),
        keep_until,
    }
}

fn unchanged(seen: Option<&str>) -> Condition {
    Condition::Unchanged {
        seen: seen.map(String::from),
    }
}

fn record(bucket: &str, key: &str, state: State) -> Record {
    Record {
        etag: Some("etag-1".into()),
        ..Record::new(bucket, key, state)
    }
}

#[track_caller]
fn assert_conflict(result: Result<(), StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::Conflict { .. })),
        "{what}: {result:?}"
    );
}

async fn claims_hold_until_released_or_lapsed(records: &impl RecordStore, bucket: &str) {
    let key = "claims.jpg";
    let live = epoch_now() + 60;
    let first = records.claim(&claim(bucket, key, "a", live)).await.unwrap();
    assert_eq!(first, Claim::Claimed { previous: None });
    let other = records.claim(&claim(bucket, key, "b", live)).await.unwrap();
    assert_eq!(other, Claim::Taken { until: live }, "a live claim holds");
    let got = records.get(bucket, key).await.unwrap();
    assert_eq!(got, None, "an item holding only a claim is no record");

    // Nobody else writes while the claim is live, whatever the record.
    let skipped = record(bucket, key, State::Skipped);
    assert_conflict(
        records.put(&skipped, &Condition::Unclaimed).await,
        "unclaimed under a live claim",
    );
    assert_conflict(
        records.put(&skipped, &unchanged(None)).await,
        "an edit under a live claim",
    );
    assert_conflict(
        records.put(&skipped, &claimed("b", None)).await,
        "another token",
    );

    // The holder writes and keeps its claim: the record is in, the claim still holds.
    records
        .put(&skipped, &claimed("a", Some(live)))
        .await
        .unwrap();
    assert_eq!(
        records.get(bucket, key).await.unwrap(),
        Some(skipped.clone())
    );
    let other = records.claim(&claim(bucket, key, "b", live)).await.unwrap();
    assert_eq!(other, Claim::Taken { until: live }, "a kept claim holds");
    assert_conflict(
        records.put(&skipped, &Condition::Unclaimed).await,
        "unclaimed under a kept claim",
    );

    // The holder's write that releases it: the next claim reads the record.
    let failed = Record {
        error: Some("503".into()),
        ..record(bucket, key, State::Failed)
    };
    records.put(&failed, &claimed("a", None)).await.unwrap();
    assert_conflict(
        records.put(&failed, &claimed("a", None)).await,
        "a released claim",
    );
    let lapsed = epoch_now() - 1;
    let next = records
        .claim(&claim(bucket, key, "c", lapsed))
        .await
        .unwrap();
    assert_eq!(
        next,
        Claim::Claimed {
            previous: Some(Box::new(failed.clone()))
        }
    );

    // A lapsed claim (its holder crashed) holds nobody back: a write without one goes, and
    // so does a new claim.
    records.put(&failed, &Condition::Unclaimed).await.unwrap();
    records
        .claim(&claim(bucket, key, "d", lapsed))
        .await
        .unwrap();
    let taken = records.claim(&claim(bucket, key, "e", live)).await.unwrap();
    assert!(matches!(taken, Claim::Claimed { .. }), "{taken:?}");
    records.put(&failed, &claimed("e", None)).await.unwrap();
}

async fn claims_never_go_over_a_caption_or_a_newer_event(records: &impl RecordStore, bucket: &str) {
    let live = epoch_now() + 60;
    let captioned = Record {
        alt_text: Some("A red mug on a wooden table".into()),
        ..record(bucket, "captioned.jpg", State::Captioned)
    };
    records.put(&captioned, &unchanged(None)).await.unwrap();
    let same = records
        .claim(&claim(bucket, "captioned.jpg", "a", live))
        .await
        .unwrap();
    assert_eq!(
        same,
        Claim::AlreadyCaptioned {
            record: Box::new(captioned.clone())
        }
    );
    let new_bytes = ClaimRequest {
        etag: Some("etag-2"),
        ..claim(bucket, "captioned.jpg", "a", live)
    };
    assert_eq!(
        records.claim(&new_bytes).await.unwrap(),
        Claim::Claimed {
            previous: Some(Box::new(captioned))
        },
        "new bytes under the key are captioned again"
    );

    let newer = Record {
        sequencer: Some("0055AED6DCD90281E5".into()),
        ..record(bucket, "sequenced.jpg", State::Skipped)
    };
    records.put(&newer, &Condition::Unclaimed).await.unwrap();
    let older = ClaimRequest {
        sequencer: Some("0055AED6DCD90281E4"),
        ..claim(bucket, "sequenced.jpg", "a", live)
    };
    assert_eq!(records.claim(&older).await.unwrap(), Claim::Superseded);
    let later = ClaimRequest {
        sequencer: Some("0055AED6DCD90281E6"),
        ..older
    };
    assert!(matches!(
        records.claim(&later).await.unwrap(),
        Claim::Claimed { .. }
    ));
}

async fn a_write_under_a_claim_nobody_holds_is_refused(records: &impl RecordStore, bucket: &str) {
    let unclaimed = record(bucket, "never-claimed.jpg", State::Skipped);
    assert_conflict(
        records.put(&unclaimed, &claimed("a", None)).await,
        "no claim at all",
    );
    assert_eq!(
        records.get(bucket, "never-claimed.jpg").await.unwrap(),
        None
    );
}

async fn an_unchanged_write_goes_only_over_the_record_read(
    records: &impl RecordStore,
    bucket: &str,
) {
    let key = "edited.jpg";
    let read = Record {
        updated_at: "2026-12-02T10:00:00.000001Z".into(),
        ..record(bucket, key, State::Captioned)
    };
    records.put(&read, &unchanged(None)).await.unwrap();
    assert_conflict(
        records.put(&read, &unchanged(None)).await,
        "a record that did not exist when it was read, now written",
    );
    let edit = Record {
        updated_at: "2026-12-02T10:05:00.000001Z".into(),
        alt_text: Some("Our red mug".into()),
        ..read.clone()
    };
    assert_conflict(
        records
            .put(&edit, &unchanged(Some("2026-12-02T09:00:00.000001Z")))
            .await,
        "a stale read",
    );
    assert_eq!(records.get(bucket, key).await.unwrap(), Some(read.clone()));
    records
        .put(&edit, &unchanged(Some(&read.updated_at)))
        .await
        .unwrap();
    assert_eq!(records.get(bucket, key).await.unwrap(), Some(edit.clone()));

    // Not under a live claim, even over the record read.
    let live = epoch_now() + 60;
    let over = ClaimRequest {
        etag: Some("etag-2"),
        ..claim(bucket, key, "a", live)
    };
    records.claim(&over).await.unwrap();
    assert_conflict(
        records.put(&edit, &unchanged(Some(&edit.updated_at))).await,
        "an edit under a live claim",
    );
    records.put(&edit, &claimed("a", None)).await.unwrap();
    records
        .put(&edit, &unchanged(Some(&edit.updated_at)))
        .await
        .unwrap();
}

async fn a_delete_goes_only_while_unchanged_and_unclaimed(
    records: &impl RecordStore,
    bucket: &str,
) {
    let key = "deleted.jpg";
    let written = record(bucket, key, State::Captioned);
    records.put(&written, &Condition::Unclaimed).await.unwrap();
    let stale = "2026-01-01T00:00:00.000001Z";
    assert!(
        !records.delete(bucket, key, stale).await.unwrap(),
        "changed since"
    );
    let live = epoch_now() + 60;
    let new_bytes = ClaimRequest {
        etag: Some("etag-2"),
        ..claim(bucket, key, "a", live)
    };
    records.claim(&new_bytes).await.unwrap();
    let at = written.updated_at.as_str();
    assert!(!records.delete(bucket, key, at).await.unwrap(), "claimed");
    assert_eq!(
        records.get(bucket, key).await.unwrap(),
        Some(written.clone())
    );
    records.put(&written, &claimed("a", None)).await.unwrap();
    assert!(records.delete(bucket, key, at).await.unwrap());
    assert_eq!(records.get(bucket, key).await.unwrap(), None);
    assert!(
        !records.delete(bucket, key, at).await.unwrap(),
        "gone already"
    );
}

async fn pages_list_every_record_of_a_prefix_in_key_order(
    records: &impl RecordStore,
    bucket: &str,
) {
    for key in [
        "list/e.jpg",
        "list/a.jpg",
        "other/x.jpg",
        "list/c.jpg",
        "list/b.jpg",
        "list/d.jpg",
    ] {
        let written = record(bucket, key, State::Captioned);
        records.put(&written, &Condition::Unclaimed).await.unwrap();
    }
    // A claim alone is no record, and is not listed.
    let live = epoch_now() + 60;
    records
        .claim(&claim(bucket, "list/f.jpg", "a", live))
        .await
        .unwrap();
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = records
            .list(bucket, Some("list/"), after.as_deref())
            .await
            .unwrap();
        keys.extend(page.records.into_iter().map(|r| r.key));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        keys,
        [
            "list/a.jpg",
            "list/b.jpg",
            "list/c.jpg",
            "list/d.jpg",
            "list/e.jpg"
        ]
    );
}
