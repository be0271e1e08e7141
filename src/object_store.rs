//! The object store: the S3 operations the function needs, behind a small trait so the
//! pipeline can run against S3 (or moto) and against an in-memory fake in unit tests.

use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{Tag as S3Tag, Tagging};
use bytes::Bytes;

use crate::secret::PresignedUrl;
use crate::store_error::{StoreError, classify};
use crate::tags::Tag;

/// One object, pinned to a version when the bucket is versioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectId {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

/// The first bytes of an object and what S3 says about it.
#[derive(Debug, Clone)]
pub struct ObjectHead {
    pub bytes: Bytes,
    /// Total size of the object.
    pub size: u64,
    /// ETag without quotes.
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub content_type: Option<String>,
}

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    /// ETag without quotes.
    pub etag: Option<String>,
    pub size: u64,
}

/// One page of a listing, and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub objects: Vec<Listed>,
    pub next: Option<String>,
}

/// The S3 operations of the pipeline.
pub trait ObjectStore: Send + Sync {
    /// Reads the first `len` bytes of the object (fewer if it is smaller).
    fn read_head(
        &self,
        id: &ObjectId,
        len: u64,
    ) -> impl Future<Output = Result<ObjectHead, StoreError>> + Send;

    /// Reads `len` bytes from `start`, failing with `Changed` if the ETag is no longer `etag`.
    fn read_range(
        &self,
        id: &ObjectId,
        etag: Option<&str>,
        start: u64,
        len: u64,
    ) -> impl Future<Output = Result<Bytes, StoreError>> + Send;

    /// A presigned GetObject URL for the object, valid for `ttl`.
    fn presign_get(
        &self,
        id: &ObjectId,
        ttl: Duration,
    ) -> impl Future<Output = Result<PresignedUrl, StoreError>> + Send;

    /// The ETag of the object as it is now (HeadObject).
    fn current_etag(
        &self,
        id: &ObjectId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The object's tag set.
    fn get_tags(&self, id: &ObjectId) -> impl Future<Output = Result<Vec<Tag>, StoreError>> + Send;

    /// Replaces the object's tag set.
    fn put_tags(
        &self,
        id: &ObjectId,
        tags: &[Tag],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// One page of the keys under `prefix` (the backfill's listing).
    fn list(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        start: Option<String>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

/// [`ObjectStore`] on Amazon S3.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> S3Store {
        S3Store { client }
    }

    async fn get_range(
        &self,
        op: &'static str,
        id: &ObjectId,
        etag: Option<&str>,
        start: u64,
        len: u64,
    ) -> Result<ObjectHead, StoreError> {
        let end = start + len.max(1) - 1;
        let result = self
            .client
            .get_object()
            .bucket(&id.bucket)
            .key(&id.key)
            .set_version_id(id.version_id.clone())
            .set_if_match(etag.map(|e| format!("\"{e}\"")))
            .range(format!("bytes={start}-{end}"))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            // A range on an empty object is "not satisfiable": the object is simply empty.
            Err(err)
                if start == 0
                    && err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 416) =>
            {
                return Ok(ObjectHead {
                    bytes: Bytes::new(),
                    size: 0,
                    etag: None,
                    version_id: None,
                    content_type: None,
                });
            }
            Err(err) => return Err(classify(op, err)),
        };
        let size = output
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|total| total.parse().ok())
            .or_else(|| output.content_length().and_then(|l| u64::try_from(l).ok()))
            .unwrap_or_default();
        let etag = output.e_tag().map(|e| e.trim_matches('"').to_string());
        let version_id = output.version_id().map(str::to_string);
        let content_type = output.content_type().map(str::to_string);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient {
                op,
                message: e.to_string(),
            })?
            .into_bytes();
        Ok(ObjectHead {
            bytes,
            size,
            etag,
            version_id,
            content_type,
        })
    }
}

impl ObjectStore for S3Store {
    async fn read_head(&self, id: &ObjectId, len: u64) -> Result<ObjectHead, StoreError> {
        self.get_range("GetObject", id, None, 0, len).await
    }

    async fn read_range(
        &self,
        id: &ObjectId,
        etag: Option<&str>,
        start: u64,
        len: u64,
    ) -> Result<Bytes, StoreError> {
        Ok(self
            .get_range("GetObject", id, etag, start, len)
            .await?
            .bytes)
    }

    async fn presign_get(&self, id: &ObjectId, ttl: Duration) -> Result<PresignedUrl, StoreError> {
        let config = PresigningConfig::expires_in(ttl).map_err(|e| StoreError::Permanent {
            op: "presign GetObject",
            message: e.to_string(),
        })?;
        let request = self
            .client
            .get_object()
            .bucket(&id.bucket)
            .key(&id.key)
            .set_version_id(id.version_id.clone())
            .presigned(config)
            .await
            .map_err(|e| classify("presign GetObject", e))?;
        Ok(PresignedUrl::new(request.uri()))
    }

    async fn current_etag(&self, id: &ObjectId) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .head_object()
            .bucket(&id.bucket)
            .key(&id.key)
            .set_version_id(id.version_id.clone())
            .send()
            .await
            .map_err(|e| classify("HeadObject", e))?;
        Ok(output.e_tag().map(|e| e.trim_matches('"').to_string()))
    }

    async fn get_tags(&self, id: &ObjectId) -> Result<Vec<Tag>, StoreError> {
        let output = self
            .client
            .get_object_tagging()
            .bucket(&id.bucket)
            .key(&id.key)
            .set_version_id(id.version_id.clone())
            .send()
            .await
            .map_err(|e| classify("GetObjectTagging", e))?;
        Ok(output
            .tag_set()
            .iter()
            .map(|t| Tag::new(t.key(), t.value()))
            .collect())
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        start: Option<String>,
    ) -> Result<Page, StoreError> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix(prefix.map(String::from))
            .set_continuation_token(start)
            .send()
            .await
            .map_err(|e| classify("ListObjectsV2", e))?;
        let objects = output
            .contents()
            .iter()
            .filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_string(),
                    etag: o.e_tag().map(|e| e.trim_matches('"').to_string()),
                    size: o
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or_default(),
                })
            })
            .collect();
        let next = output
            .next_continuation_token()
            .map(String::from)
            .filter(|_| output.is_truncated() == Some(true));
        Ok(Page { objects, next })
    }

    async fn put_tags(&self, id: &ObjectId, tags: &[Tag]) -> Result<(), StoreError> {
        let op = "PutObjectTagging";
        let tag_set = tags
            .iter()
            .map(|t| S3Tag::builder().key(&t.key).value(&t.value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Permanent {
                op,
                message: e.to_string(),
            })?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| StoreError::Permanent {
                op,
                message: e.to_string(),
            })?;
        self.client
            .put_object_tagging()
            .bucket(&id.bucket)
            .key(&id.key)
            .set_version_id(id.version_id.clone())
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| classify(op, e))?;
        Ok(())
    }
}
