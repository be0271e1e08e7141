//! The object store: the S3 operations the function needs, behind a small trait so the
//! pipeline runs against S3 (or any S3 implementation) and against an in-memory fake.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::StoreError;
use crate::caption::Tag;
use crate::secret::PresignedUrl;

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
    /// User metadata (`x-amz-meta-*`), names without the prefix.
    pub metadata: Vec<(String, String)>,
}

impl ObjectHead {
    /// The user metadata, as name and value.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
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

    /// A presigned GetObject URL for a page to show the object, valid for `ttl`: the answer
    /// says it is `content_type` and an attachment (`response-content-type`,
    /// `response-content-disposition`), whatever the uploader set, so that opened in a tab
    /// of its own it is downloaded, never run as a document of the bucket's origin.
    fn presign_download(
        &self,
        id: &ObjectId,
        ttl: Duration,
        content_type: &str,
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
