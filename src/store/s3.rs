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
                    metadata: Vec::new(),
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
        let metadata = output
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let announced = output.content_length().and_then(|l| u64::try_from(l).ok());
        let capacity = announced.unwrap_or(0).min(len);
        let bytes = read_body(op, output.body, capacity).await?;
        Ok(ObjectHead {
            bytes,
            size,
            etag,
            version_id,
            content_type,
            metadata,
        })
    }
}

/// A response body in one buffer of the length announced, filled as its chunks arrive: a
/// large image is held once, never as chunks and their copy at the same time.
async fn read_body(
    op: &'static str,
    mut body: aws_sdk_s3::primitives::ByteStream,
    capacity: u64,
) -> Result<Bytes, StoreError> {
    let mut bytes = bytes::BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StoreError::Transient {
            op,
            message: e.to_string(),
        })?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

impl S3Store {
    /// A presigned GetObject URL; with `download`, S3 answers with that `Content-Type` and
    /// `Content-Disposition: attachment` (both part of the signed query).
    async fn presign(
        &self,
        id: &ObjectId,
        ttl: Duration,
        download: Option<&str>,
    ) -> Result<PresignedUrl, StoreError> {
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
            .set_response_content_type(download.map(String::from))
            .set_response_content_disposition(download.map(|_| "attachment".to_string()))
            .presigned(config)
            .await
            .map_err(|e| classify("presign GetObject", e))?;
        Ok(PresignedUrl::new(request.uri()))
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
        self.presign(id, ttl, None).await
    }

    async fn presign_download(
        &self,
        id: &ObjectId,
        ttl: Duration,
        content_type: &str,
    ) -> Result<PresignedUrl, StoreError> {
        self.presign(id, ttl, Some(content_type)).await
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

#[cfg(test)]
mod tests {
    use aws_sdk_s3::Client;
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::primitives::ByteStream;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::retry::Retryable;

    fn id() -> ObjectId {
        ObjectId {
            bucket: "photos".into(),
            key: "cat.jpg".into(),
            version_id: None,
        }
    }

    /// An S3 error answer, as S3 writes it.
    fn s3_error(status: u16, code: &str) -> HttpResponse {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{code}</Message><RequestId>R1</RequestId></Error>"
        );
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
    }

    #[tokio::test]
    async fn a_range_on_an_empty_object_reads_as_empty() {
        let rule = mock!(Client::get_object).then_http_response(|| s3_error(416, "InvalidRange"));
        let store = S3Store::new(mock_client!(aws_sdk_s3, [&rule]));
        let head = store.read_head(&id(), 64 * 1024).await.unwrap();
        assert_eq!((head.size, head.bytes.len()), (0, 0));
        // Past the start, 416 is an error like any other.
        let rule = mock!(Client::get_object).then_http_response(|| s3_error(416, "InvalidRange"));
        let store = S3Store::new(mock_client!(aws_sdk_s3, [&rule]));
        let err = store.read_range(&id(), None, 10, 5).await.unwrap_err();
        assert!(matches!(err, StoreError::Permanent { .. }), "{err}");
    }

    #[tokio::test]
    async fn the_size_is_the_content_range_total() {
        let ranged = mock!(Client::get_object)
            .match_requests(|r| r.range() == Some("bytes=0-9"))
            .then_output(|| {
                GetObjectOutput::builder()
                    .content_range("bytes 0-9/123456")
                    .content_length(10)
                    .e_tag("\"abc\"")
                    .version_id("v1")
                    .content_type("image/jpeg")
                    .body(ByteStream::from_static(b"0123456789"))
                    .build()
            });
        let whole = mock!(Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .content_length(4)
                .body(ByteStream::from_static(b"tiny"))
                .build()
        });
        let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&ranged, &whole]);
        let store = S3Store::new(client);
        let head = store.read_head(&id(), 10).await.unwrap();
        assert_eq!(head.size, 123_456);
        assert_eq!(&head.bytes[..], b"0123456789");
        assert_eq!(head.etag.as_deref(), Some("abc"), "without its quotes");
        assert_eq!(head.version_id.as_deref(), Some("v1"));
        assert_eq!(head.content_type.as_deref(), Some("image/jpeg"));
        // An object smaller than the range comes whole, without a Content-Range.
        let head = store.read_head(&id(), 10).await.unwrap();
        assert_eq!(head.size, 4);
    }

    /// What a classified error should be.
    type Expected = fn(&StoreError) -> bool;

    #[tokio::test]
    async fn errors_are_classified_by_code_and_status() {
        let cases: [(u16, &str, Expected); 5] = [
            (404, "NoSuchKey", |e| {
                matches!(e, StoreError::NotFound { .. })
            }),
            (412, "PreconditionFailed", |e| {
                matches!(e, StoreError::Changed { .. })
            }),
            (503, "SlowDown", |e| {
                matches!(e, StoreError::Transient { .. })
            }),
            (500, "InternalError", |e| {
                matches!(e, StoreError::Transient { .. })
            }),
            (403, "AccessDenied", |e| {
                matches!(e, StoreError::Permanent { .. })
            }),
        ];
        for (status, code, expected) in cases {
            let rule = mock!(Client::get_object).then_http_response(move || s3_error(status, code));
            // No retries: the classification of one answer is tested.
            let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&rule], |c| c
                .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()));
            let err = S3Store::new(client)
                .read_range(&id(), Some("abc"), 0, 10)
                .await
                .unwrap_err();
            assert!(expected(&err), "{status} {code}: {err}");
            assert_eq!(err.is_retryable(), status >= 500, "{status} {code}");
        }
    }
}
