//! The in-memory object store of the unit tests: call counts, injectable failures and hangs;
//! the record store beside it is `memory_records.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use super::{Listed, ObjectHead, ObjectId, ObjectStore, Page, StoreError};
use crate::caption::Tag;
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

pub use super::memory_records::MemoryRecords;
