//! The in-memory record store and spend ledger of the unit tests: the claim semantics of the
//! DynamoDB store (the contract test `tests/it/record_store.rs` holds both to the same
//! checks), injectable write failures.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{
    Claim, ClaimRequest, Condition, Ledger, Pause, Period, RecordPage, RecordStore, StoreError,
};
use crate::caption::{Record, State};
use crate::event::sequencer_order;
use crate::time::epoch_now;

/// Picks the records whose put is to fail.
pub type PickRecord = fn(&Record) -> bool;

/// Records in memory.
#[derive(Default)]
pub struct MemoryRecords {
    pub records: Mutex<HashMap<(String, String), Record>>,
    /// Claims held: token and expiry (seconds since the epoch), by object.
    pub claims: Mutex<HashMap<(String, String), (String, u64)>>,
    pub puts: AtomicUsize,
    pub fail_puts: Mutex<VecDeque<StoreError>>,
    /// The next put of a record this picks fails with the error (once).
    pub fail_put_of: Mutex<Option<(PickRecord, StoreError)>>,
    /// The spend ledger: pauses by provider, calls used by period.
    pub pauses: Mutex<HashMap<String, Pause>>,
    pub used: Mutex<HashMap<String, u64>>,
}

impl MemoryRecords {
    pub fn record(&self, bucket: &str, key: &str) -> Option<Record> {
        self.records
            .lock()
            .unwrap()
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
    }
}

impl RecordStore for MemoryRecords {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.record(bucket, key))
    }

    /// Pages of two records, so that tests see the paging.
    async fn list(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        after: Option<&str>,
    ) -> Result<RecordPage, StoreError> {
        let mut records: Vec<Record> = self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.bucket == bucket && r.key.starts_with(prefix.unwrap_or_default()))
            .filter(|r| after.is_none_or(|a| r.key.as_str() > a))
            .cloned()
            .collect();
        records.sort_by(|a, b| a.key.cmp(&b.key));
        let next = (records.len() > 2).then(|| records[1].key.clone());
        records.truncate(2);
        Ok(RecordPage { records, next })
    }

    async fn delete(&self, bucket: &str, key: &str, updated_at: &str) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap();
        let id = (bucket.to_string(), key.to_string());
        let claimed = self
            .claims
            .lock()
            .unwrap()
            .get(&id)
            .is_some_and(|(_, until)| *until >= epoch_now());
        if claimed {
            return Ok(false);
        }
        if records.get(&id).is_some_and(|r| r.updated_at == updated_at) {
            records.remove(&id);
            return Ok(true);
        }
        Ok(false)
    }

    async fn put(&self, record: &Record, condition: &Condition) -> Result<(), StoreError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        if let Some(err) = self.fail_puts.lock().unwrap().pop_front() {
            return Err(err);
        }
        let mut picked = self.fail_put_of.lock().unwrap();
        if picked.as_ref().is_some_and(|(pick, _)| pick(record))
            && let Some((_, err)) = picked.take()
        {
            return Err(err);
        }
        drop(picked);
        let id = (record.bucket.clone(), record.key.clone());
        let mut claims = self.claims.lock().unwrap();
        let live = claims.get(&id).filter(|(_, until)| *until >= epoch_now());
        let stored_at = || {
            self.record(&record.bucket, &record.key)
                .map(|r| r.updated_at)
        };
        let allowed = match condition {
            Condition::Claimed { token, .. } => {
                claims.get(&id).is_some_and(|(held, _)| held == token)
            }
            Condition::Unclaimed => live.is_none(),
            Condition::Unchanged { seen } => live.is_none() && *seen == stored_at(),
        };
        if !allowed {
            return Err(StoreError::Conflict { op: "put" });
        }
        match condition {
            Condition::Claimed {
                token,
                keep_until: Some(until),
            } => {
                claims.insert(id.clone(), (token.clone(), *until));
            }
            _ => {
                claims.remove(&id);
            }
        }
        self.records.lock().unwrap().insert(id, record.clone());
        Ok(())
    }

    async fn claim(&self, req: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        let id = (req.bucket.to_string(), req.key.to_string());
        let mut claims = self.claims.lock().unwrap();
        let record = self.record(req.bucket, req.key);
        if let Some(r) = &record {
            if let (Some(seq), Some(mine)) = (&r.sequencer, req.sequencer)
                && sequencer_order(seq, mine).is_gt()
            {
                return Ok(Claim::Superseded);
            }
            if r.state == State::Captioned
                && req.etag.is_some()
                && r.etag.as_deref() == req.etag
                && r.is_captioned_for(req.etag, req.version_id)
            {
                return Ok(Claim::AlreadyCaptioned {
                    record: Box::new(r.clone()),
                });
            }
        }
        if let Some((_, until)) = claims.get(&id)
            && *until >= req.now
        {
            return Ok(Claim::Taken { until: *until });
        }
        claims.insert(id, (req.token.to_string(), req.until));
        Ok(Claim::Claimed {
            previous: record.map(Box::new),
        })
    }
}

impl Ledger for MemoryRecords {
    async fn pauses(&self, now: u64) -> Result<Vec<Pause>, StoreError> {
        let mut pauses: Vec<Pause> = self
            .pauses
            .lock()
            .unwrap()
            .values()
            .filter(|p| p.until > now)
            .cloned()
            .collect();
        pauses.sort_by(|a, b| a.provider.cmp(&b.provider));
        Ok(pauses)
    }

    async fn pause(&self, pause: &Pause, now: u64) -> Result<bool, StoreError> {
        let mut pauses = self.pauses.lock().unwrap();
        if pauses.get(&pause.provider).is_some_and(|p| p.until > now) {
            return Ok(false);
        }
        pauses.insert(pause.provider.clone(), pause.clone());
        Ok(true)
    }

    async fn take(&self, period: &Period) -> Result<Option<u64>, StoreError> {
        let mut used = self.used.lock().unwrap();
        let count = used.entry(period.name.clone()).or_default();
        if *count >= period.limit {
            return Ok(None);
        }
        *count += 1;
        Ok(Some(period.limit - *count))
    }

    async fn give_back(&self, period: &Period) -> Result<(), StoreError> {
        if let Some(count) = self.used.lock().unwrap().get_mut(&period.name) {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn used(&self, period: &Period) -> Result<u64, StoreError> {
        Ok(self
            .used
            .lock()
            .unwrap()
            .get(&period.name)
            .copied()
            .unwrap_or(0))
    }
}
