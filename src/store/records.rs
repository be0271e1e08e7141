//! The record store: one record per object, behind a small trait so the pipeline runs
//! against DynamoDB and against an in-memory fake. The claim that keeps two invocations
//! from paying twice for one object is part of the trait.

use std::future::Future;

use super::{Ledger, StoreError};
use crate::caption::Record;

/// A request to claim an object for captioning.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// This invocation's token; the final write is conditional on it.
    pub token: &'a str,
    /// Now and the claim's expiry, in seconds since the Unix epoch. A claim left by a
    /// crashed invocation lapses at its expiry.
    pub now: u64,
    pub until: u64,
    /// The ETag and version of the object to caption.
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    /// The event's sequencer: no claim over a record of a newer event.
    pub sequencer: Option<&'a str>,
}

/// What a claim attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The object is this invocation's until the claim's expiry. `previous` is the record
    /// it had: the claim doubles as the record read.
    Claimed { previous: Option<Box<Record>> },
    /// This very object is captioned already: its record.
    AlreadyCaptioned { record: Box<Record> },
    /// The record describes a newer event for the key.
    Superseded,
    /// Another invocation holds a claim until this time (seconds since the epoch).
    Taken { until: u64 },
}
/// The rule a record's write is checked against, apart from the record (which is data
/// only). Every write is refused (`Conflict`) when its condition does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Only while this invocation's claim (its token) holds. The write releases the claim,
    /// or with `keep_until` keeps holding it until then (seconds since the epoch): for a
    /// write still on the way, such as the caption stored before its tags.
    Claimed {
        token: String,
        keep_until: Option<u64>,
    },
    /// Only while nobody holds a live claim: an invocation holding one captions newer bytes.
    Unclaimed,
    /// Only while nobody holds a live claim and the stored record is still the one read: the
    /// one written at `seen` (its `updated_at`), or none (`None`). A person's edit never
    /// overwrites what changed since it read the record.
    Unchanged { seen: Option<String> },
}

/// One page of a bucket's records, in key order, and the key the next page starts after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub next: Option<String>,
}

/// Reads and writes object records; the same table keeps the spend [`Ledger`].
pub trait RecordStore: Ledger + Send + Sync {
    /// Claims the object for captioning: at most one invocation at a time holds a claim,
    /// none over a record of a newer event or a finished caption of the same ETag. One
    /// round trip, which also reads the record.
    fn claim(
        &self,
        request: &ClaimRequest<'_>,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;
    /// One page of the records of `bucket` whose keys start with `prefix`, in key order,
    /// after the key `after` (the `next` of the page before). A page is at most 1 MB of
    /// items, so that any number of records can be read in bounded memory.
    fn list(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        after: Option<&str>,
    ) -> impl Future<Output = Result<RecordPage, StoreError>> + Send;
    /// Writes the record, replacing the item, if `condition` holds (`Conflict` otherwise).
    /// The write releases any claim, unless the condition keeps it.
    fn put(
        &self,
        record: &Record,
        condition: &Condition,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes the record if it is still the one written at `updated_at` and nobody holds a
    /// live claim on it; `false` if it changed (or went) in the meantime, or is claimed.
    fn delete(
        &self,
        bucket: &str,
        key: &str,
        updated_at: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
