//! In-memory fakes of the object store and the record store, for unit tests: call counts,
//! injectable failures, and the claim semantics of the DynamoDB store.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use super::{
    Claim, ClaimRequest, Ledger, Listed, ObjectHead, ObjectId, ObjectStore, Page, Pause, Period,
    RecordPage, RecordStore, StoreError, epoch_now,
};
use crate::caption::{Record, State, Tag};
use crate::event::sequencer_order;
use crate::secret::PresignedUrl;

#[derive(Debug, Clone)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub etag: String,
    pub content_type: Option<String>,
    pub tags: Vec<Tag>,
    pub metadata: Vec<(String, String)>,
}

/// Objects in memory, with per-operation call counts and injectable failures.
#[derive(Default)]
pub struct MemoryStore {
    pub objects: Mutex<HashMap<(String, String), StoredObject>>,
    pub calls: Mutex<HashMap<&'static str, usize>>,
    /// Errors returned by the next calls of an operation.
    pub failures: Mutex<HashMap<&'static str, VecDeque<StoreError>>>,
    /// Operations whose next call never ends: the process stops there.
    pub hangs: Mutex<Vec<&'static str>>,
}

impl MemoryStore {
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: &[u8],
        content_type: Option<&str>,
        tags: Vec<Tag>,
    ) {
        let etag = format!(
            "etag-{}-{}",
            bytes.len(),
            bytes.iter().map(|&b| b as usize).sum::<usize>()
        );
        self.objects.lock().unwrap().insert(
            (bucket.into(), key.into()),
            StoredObject {
                bytes: Bytes::copy_from_slice(bytes),
                etag,
                content_type: content_type.map(String::from),
                tags,
                metadata: Vec::new(),
            },
        );
    }

    /// Sets the user metadata of a stored object.
    pub fn set_metadata(&self, bucket: &str, key: &str, metadata: &[(&str, &str)]) {
        let mut objects = self.objects.lock().unwrap();
        let object = objects
            .get_mut(&(bucket.to_string(), key.to_string()))
            .expect("a stored object");
        object.metadata = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    pub fn object(&self, bucket: &str, key: &str) -> StoredObject {
        self.objects.lock().unwrap()[&(bucket.to_string(), key.to_string())].clone()
    }

    pub fn calls(&self, op: &'static str) -> usize {
        self.calls.lock().unwrap().get(op).copied().unwrap_or(0)
    }

    pub fn fail_next(&self, op: &'static str, err: StoreError) {
        self.failures
            .lock()
            .unwrap()
            .entry(op)
            .or_default()
            .push_back(err);
    }

    /// The next call of `op` never returns, as if the process ended there.
    pub fn hang_next(&self, op: &'static str) {
        self.hangs.lock().unwrap().push(op);
    }

    /// Waits forever if the next call of `op` was to hang.
    async fn maybe_hang(&self, op: &'static str) {
        let hang = {
            let mut hangs = self.hangs.lock().unwrap();
            let at = hangs.iter().position(|h| *h == op);
            at.map(|i| hangs.remove(i)).is_some()
        };
        if hang {
            std::future::pending::<()>().await;
        }
    }

    fn enter(&self, op: &'static str, id: &ObjectId) -> Result<StoredObject, StoreError> {
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
        if let Some(err) = self
            .failures
            .lock()
            .unwrap()
            .get_mut(op)
            .and_then(VecDeque::pop_front)
        {
            return Err(err);
        }
        self.objects
            .lock()
            .unwrap()
            .get(&(id.bucket.clone(), id.key.clone()))
            .cloned()
            .ok_or(StoreError::NotFound { op })
    }
}

impl ObjectStore for MemoryStore {
    async fn read_head(&self, id: &ObjectId, len: u64) -> Result<ObjectHead, StoreError> {
        let o = self.enter("read_head", id)?;
        let end = (len as usize).min(o.bytes.len());
        Ok(ObjectHead {
            bytes: o.bytes.slice(..end),
            size: o.bytes.len() as u64,
            etag: Some(o.etag),
            version_id: None,
            content_type: o.content_type,
            metadata: o.metadata,
        })
    }

    async fn read_range(
        &self,
        id: &ObjectId,
        etag: Option<&str>,
        start: u64,
        len: u64,
    ) -> Result<Bytes, StoreError> {
        let o = self.enter("read_range", id)?;
        if etag.is_some_and(|e| e != o.etag) {
            return Err(StoreError::Changed { op: "read_range" });
        }
        let start = (start as usize).min(o.bytes.len());
        let end = (start + len as usize).min(o.bytes.len());
        Ok(o.bytes.slice(start..end))
    }

    async fn presign_get(&self, id: &ObjectId, ttl: Duration) -> Result<PresignedUrl, StoreError> {
        self.enter("presign_get", id)?;
        Ok(PresignedUrl::new(format!(
            "http://s3.local/{}/{}?X-Amz-Expires={}&X-Amz-Signature=fake",
            id.bucket,
            id.key,
            ttl.as_secs()
        )))
    }

    async fn presign_download(
        &self,
        id: &ObjectId,
        ttl: Duration,
        content_type: &str,
    ) -> Result<PresignedUrl, StoreError> {
        let url = self.presign_get(id, ttl).await?.expose().to_string();
        let ct = content_type.replace('/', "%2F");
        let overrides = "response-content-disposition=attachment&response-content-type=";
        Ok(PresignedUrl::new(format!("{url}&{overrides}{ct}")))
    }

    async fn current_etag(&self, id: &ObjectId) -> Result<Option<String>, StoreError> {
        Ok(Some(self.enter("current_etag", id)?.etag))
    }

    async fn get_tags(&self, id: &ObjectId) -> Result<Vec<Tag>, StoreError> {
        Ok(self.enter("get_tags", id)?.tags)
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        start: Option<String>,
    ) -> Result<Page, StoreError> {
        let mut keys: Vec<Listed> = self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix.unwrap_or_default()))
            .map(|((_, k), o)| Listed {
                key: k.clone(),
                etag: Some(o.etag.clone()),
                size: o.bytes.len() as u64,
            })
            .collect();
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        // Pages of two, so tests see more than one.
        let from = start.map_or(0, |s| s.parse().unwrap());
        let next = (from + 2 < keys.len()).then(|| (from + 2).to_string());
        Ok(Page {
            objects: keys.into_iter().skip(from).take(2).collect(),
            next,
        })
    }

    async fn put_tags(&self, id: &ObjectId, tags: &[Tag]) -> Result<(), StoreError> {
        self.maybe_hang("put_tags").await;
        self.enter("put_tags", id)?;
        let mut objects = self.objects.lock().unwrap();
        let object = objects
            .get_mut(&(id.bucket.clone(), id.key.clone()))
            .ok_or(StoreError::NotFound { op: "put_tags" })?;
        object.tags = tags.to_vec();
        Ok(())
    }
}

/// Records in memory.
#[derive(Default)]
pub struct MemoryRecords {
    pub records: Mutex<HashMap<(String, String), Record>>,
    /// Claims held: token and expiry (seconds since the epoch), by object.
    pub claims: Mutex<HashMap<(String, String), (String, u64)>>,
    pub puts: AtomicUsize,
    pub fail_puts: Mutex<VecDeque<StoreError>>,
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

    async fn put(&self, record: &Record) -> Result<(), StoreError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        if let Some(err) = self.fail_puts.lock().unwrap().pop_front() {
            return Err(err);
        }
        let id = (record.bucket.clone(), record.key.clone());
        let mut claims = self.claims.lock().unwrap();
        let allowed = match (&record.claim, claims.get(&id)) {
            (Some(token), Some((held, _))) => held == token,
            (Some(_), None) => false,
            (None, Some((_, until))) => *until < epoch_now(),
            (None, None) => true,
        };
        let stored_at = self
            .record(&record.bucket, &record.key)
            .map(|r| r.updated_at);
        let unchanged = match &record.if_unchanged {
            None => true,
            Some(seen) => *seen == stored_at,
        };
        if !allowed || !unchanged {
            return Err(StoreError::Conflict { op: "put" });
        }
        match (&record.claim, record.keep_claim_until) {
            (Some(token), Some(until)) => {
                claims.insert(id.clone(), (token.clone(), until));
            }
            _ => {
                claims.remove(&id);
            }
        }
        let stored = Record {
            claim: None,
            ..record.clone()
        };
        self.records.lock().unwrap().insert(id, stored);
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
            return Ok(Claim::Busy { until: *until });
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
