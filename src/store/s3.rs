//! [`ObjectStore`] on Amazon S3 (or any S3 implementation), through the AWS SDK: ranged
//! reads pinned to an ETag, the SDK's presigner, tags, listings.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{Tag as S3Tag, Tagging};
use bytes::Bytes;

use super::error::classify;
use super::{Listed, ObjectHead, ObjectId, ObjectStore, Page, StoreError};
use crate::caption::Tag;
use crate::secret::PresignedUrl;

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
