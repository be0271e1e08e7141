//! [`RecordStore`] on a DynamoDB table (`pk` = bucket, `sk` = object key): the claim as one
//! conditional update, records as items.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::error::classify;
use super::{Claim, ClaimRequest, Condition, RecordPage, RecordStore, StoreError};
use crate::caption::{Record, State};
use crate::event::sequencer_key;
use crate::time::epoch_now;

/// [`RecordStore`] on a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoRecords {
    pub(super) client: aws_sdk_dynamodb::Client,
    pub(super) table: String,
}

impl DynamoRecords {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoRecords {
        DynamoRecords {
            client,
            table: table.into(),
        }
    }
}

impl DynamoRecords {
    /// The item of an object (or of the spend ledger), read consistently.
    pub(super) async fn item(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(bucket.to_string()))
            .key("sk", AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("DynamoDB GetItem", e))?;
        Ok(output.item)
    }
}

impl RecordStore for DynamoRecords {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.item(bucket, key).await?.as_ref().and_then(from_item))
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        after: Option<&str>,
    ) -> Result<RecordPage, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_string());
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(match prefix {
                Some(_) => "pk = :bucket AND begins_with(sk, :prefix)",
                None => "pk = :bucket",
            })
            .expression_attribute_values(":bucket", s(bucket));
        if let Some(prefix) = prefix {
            query = query.expression_attribute_values(":prefix", s(prefix));
        }
        if let Some(after) = after {
            query = query
                .exclusive_start_key("pk", s(bucket))
                .exclusive_start_key("sk", s(after));
        }
        let output = query
            .send()
            .await
            .map_err(|e| classify("DynamoDB Query", e))?;
        Ok(RecordPage {
            // An item holding only a claim (an object being captioned for the first time)
            // is no record yet.
            records: output.items().iter().filter_map(from_item).collect(),
            next: output
                .last_evaluated_key()
                .and_then(|k| k.get("sk")?.as_s().ok().cloned()),
        })
    }

    async fn delete(&self, bucket: &str, key: &str, updated_at: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(bucket.to_string()))
            .key("sk", AttributeValue::S(key.to_string()))
            // Never under a live claim: that invocation captions a newer upload.
            .condition_expression(
                "updated_at = :seen AND (attribute_not_exists(claim_until) OR claim_until < :now)",
            )
            .expression_attribute_values(":seen", AttributeValue::S(updated_at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(epoch_now().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(classify("DynamoDB DeleteItem", err)),
        }
    }

    async fn put(&self, record: &Record, condition: &Condition) -> Result<(), StoreError> {
        let mut item = to_item(record);
        if let Condition::Claimed {
            token,
            keep_until: Some(until),
        } = condition
        {
            item.insert("claim_token".into(), AttributeValue::S(token.clone()));
            item.insert("claim_until".into(), AttributeValue::N(until.to_string()));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let free = "(attribute_not_exists(claim_until) OR claim_until < :now)";
        let now = || AttributeValue::N(epoch_now().to_string());
        let put = match condition {
            Condition::Claimed { token, .. } => put
                .condition_expression("claim_token = :token")
                .expression_attribute_values(":token", AttributeValue::S(token.clone())),
            Condition::Unclaimed => put
                .condition_expression(free)
                .expression_attribute_values(":now", now()),
            Condition::Unchanged { seen: None } => put
                .condition_expression(format!("{free} AND attribute_not_exists(updated_at)"))
                .expression_attribute_values(":now", now()),
            Condition::Unchanged { seen: Some(seen) } => put
                .condition_expression(format!("{free} AND updated_at = :seen"))
                .expression_attribute_values(":now", now())
                .expression_attribute_values(":seen", AttributeValue::S(seen.clone())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict {
                    op: "DynamoDB PutItem",
                })
            }
            Err(err) => Err(classify("DynamoDB PutItem", err)),
        }
    }

    async fn claim(&self, req: &ClaimRequest<'_>) -> Result<Claim, StoreError> {
        // Not while another claim is live, nor over a caption of this very object (same
        // ETag, and same version where both have one), nor over a newer event's record.
        let mut condition = String::from(
            "(attribute_not_exists(claim_until) OR claim_until < :now) \
             AND NOT (#state = :captioned AND etag = :etag",
        );
        condition.push_str(match req.version_id {
            Some(_) => " AND (attribute_not_exists(version_id) OR version_id = :version))",
            None => ")",
        });
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(req.bucket.to_string()))
            .key("sk", AttributeValue::S(req.key.to_string()))
            .update_expression("SET claim_token = :token, claim_until = :until")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":token", AttributeValue::S(req.token.to_string()))
            .expression_attribute_values(":until", AttributeValue::N(req.until.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(req.now.to_string()))
            .expression_attribute_values(
                ":captioned",
                AttributeValue::S(State::Captioned.as_str().into()),
            )
            .expression_attribute_values(
                ":etag",
                AttributeValue::S(req.etag.unwrap_or_default().to_string()),
            );
        if let Some(version) = req.version_id {
            update = update
                .expression_attribute_values(":version", AttributeValue::S(version.to_string()));
        }
        if let Some(seq) = req.sequencer {
            condition.push_str(" AND (attribute_not_exists(seq) OR seq <= :seq)");
            update =
                update.expression_attribute_values(":seq", AttributeValue::S(sequencer_key(seq)));
        }
        let result = update
            .condition_expression(condition)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Claim::Claimed {
                previous: output.attributes.as_ref().and_then(from_item).map(Box::new),
            }),
            Err(err) => match err.as_service_error() {
                // A store without `ReturnValuesOnConditionCheckFailure` (dynalite, some
                // DynamoDB-compatible servers) sends no item back: it is read instead.
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let item = match &failed.item {
                        Some(item) => Some(item.clone()),
                        None => self.item(req.bucket, req.key).await?,
                    };
                    Ok(explain(item.as_ref(), req))
                }
                _ => Err(classify("DynamoDB UpdateItem", err)),
            },
        }
    }
}

/// The DynamoDB item of a record; absent fields are left out. Besides the record's own
/// fields, `seq` holds its sequencer in a form conditions compare.
pub fn to_item(r: &Record) -> HashMap<String, AttributeValue> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(r).expect("a record is a DynamoDB item");
    if let Some(sequencer) = &r.sequencer {
        item.insert("seq".into(), AttributeValue::S(sequencer_key(sequencer)));
    }
    item
}

/// The record of a DynamoDB item, or `None` if it lacks the key or a known state.
pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Record> {
    serde_dynamo::from_item(item.clone()).ok()
}

/// Why a claim's condition failed, from the item as it is (`None`: no item).
fn explain(item: Option<&HashMap<String, AttributeValue>>, req: &ClaimRequest<'_>) -> Claim {
    let Some(item) = item else {
        // The item went between the refusal and the read: as good as busy for a moment.
        return Claim::Taken { until: req.now };
    };
    let s = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    if let (Some(seq), Some(mine)) = (s("seq"), req.sequencer)
        && seq > sequencer_key(mine).as_str()
    {
        return Claim::Superseded;
    }
    if s("state") == Some(State::Captioned.as_str())
        && req.etag.is_some()
        && s("etag") == req.etag
        && (req.version_id.is_none() || s("version_id").is_none_or(|v| Some(v) == req.version_id))
        && let Some(record) = from_item(item)
    {
        return Claim::AlreadyCaptioned {
            record: Box::new(record),
        };
    }
    let until = item
        .get("claim_until")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(req.now);
    Claim::Taken { until }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::caption::{LangCaption, TagStatus};
    use crate::retry::Retryable;

    #[test]
    fn items_round_trip() {
        let mut r = Record::new("photos", "uploads/été/café crème.jpg", State::Captioned);
        r.alt_text = Some("A cup of café crème, on a \"wooden\" table".into());
        r.tag_value = Some("A cup of café crème on a wooden table".into());
        r.tag_status = Some(TagStatus::Written);
        r.provider = Some("alttextlab".into());
        r.provider_request_id = Some("req-1".into());
        r.lang = Some("en".into());
        r.etag = Some("abc".into());
        r.version_id = Some("v1".into());
        r.size = Some(65153);
        r.content_type = Some("image/jpeg".into());
        r.sequencer = Some("0055AED6DCD90281E5".into());
        r.retryable = Some(false);
        r.captions = BTreeMap::from([
            (
                "en".to_string(),
                LangCaption {
                    text: "A cup of café crème, on a \"wooden\" table".into(),
                    provider: "alttextlab".into(),
                    source: Default::default(),
                    request_id: Some("req-1".into()),
                    tag_key: Some("alt-text".into()),
                    tag_status: Some(TagStatus::Written),
                    tag_reason: None,
                },
            ),
            (
                "de".to_string(),
                LangCaption {
                    text: "Eine Tasse Milchkaffee".into(),
                    provider: "bedrock".into(),
                    source: Default::default(),
                    request_id: None,
                    tag_key: None,
                    tag_status: Some(TagStatus::NotFaithful),
                    tag_reason: Some("its letters carry combining marks".into()),
                },
            ),
        ]);
        let item = to_item(&r);
        assert_eq!(item["pk"], AttributeValue::S("photos".into()));
        assert_eq!(
            item["sk"],
            AttributeValue::S("uploads/été/café crème.jpg".into())
        );
        assert_eq!(item["size"], AttributeValue::N("65153".into()));
        assert_eq!(from_item(&item), Some(r));
    }

    #[test]
    fn absent_fields_are_not_written() {
        let item = to_item(&Record::new("b", "k", State::Skipped));
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["pk", "sk", "state", "updated_at"]);
    }

    #[test]
    fn unknown_items_are_ignored() {
        let mut item = to_item(&Record::new("b", "k", State::Skipped));
        item.insert("state".into(), AttributeValue::S("in_progress_v9".into()));
        assert_eq!(from_item(&item), None);
    }

    #[test]
    fn a_mistyped_field_does_not_sink_the_record() {
        let mut r = Record::new("b", "k", State::Captioned);
        r.alt_text = Some("A red bicycle".into());
        r.captions = BTreeMap::from([(
            "en".to_string(),
            LangCaption {
                text: "A red bicycle".into(),
                provider: "embedded".into(),
                source: Default::default(),
                request_id: None,
                tag_key: Some("alt-text".into()),
                tag_status: None,
                tag_reason: None,
            },
        )]);
        let mut item = to_item(&r);
        item.insert("size".into(), AttributeValue::S("large".into()));
        item.insert("retryable".into(), AttributeValue::S("no".into()));
        item.insert("tag_status".into(), AttributeValue::S("lost".into()));
        let mut captions = item["captions"].as_m().unwrap().clone();
        captions.insert("de".into(), AttributeValue::S("not a caption".into()));
        item.insert("captions".into(), AttributeValue::M(captions));
        assert_eq!(
            from_item(&item),
            Some(r),
            "the mistyped fields read as absent"
        );
    }

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{mock, mock_client};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn request<'a>(etag: Option<&'a str>, sequencer: Option<&'a str>) -> ClaimRequest<'a> {
        ClaimRequest {
            bucket: "photos",
            key: "cat.jpg",
            token: "t-1",
            now: 1_000,
            until: 1_100,
            etag,
            version_id: None,
            sequencer,
        }
    }

    /// The store over a client whose UpdateItem refuses the claim, returning `item`.
    fn refusing(item: Option<HashMap<String, AttributeValue>>) -> DynamoRecords {
        let rule = mock!(Client::update_item).then_error(move || {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .set_item(item.clone())
                    .build(),
            )
        });
        DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "records")
    }

    #[tokio::test]
    async fn a_refused_claim_says_why() {
        let mut captioned = Record::new("photos", "cat.jpg", State::Captioned);
        captioned.etag = Some("abc".into());
        captioned.sequencer = Some("0055AED6DCD90281E5".into());
        let item = to_item(&captioned);

        let claim = refusing(Some(item.clone()))
            .claim(&request(Some("abc"), Some("0055AED6DCD90281E5")))
            .await
            .unwrap();
        assert_eq!(
            claim,
            Claim::AlreadyCaptioned {
                record: Box::new(captioned)
            }
        );
        let claim = refusing(Some(item.clone()))
            .claim(&request(Some("abc"), Some("0055AED6DCD90281E4")))
            .await
            .unwrap();
        assert_eq!(claim, Claim::Superseded, "an older event");
        let mut held = item.clone();
        held.insert("state".into(), AttributeValue::S("failed".into()));
        held.insert("claim_until".into(), AttributeValue::N("1050".into()));
        let claim = refusing(Some(held))
            .claim(&request(Some("abc"), None))
            .await
            .unwrap();
        assert_eq!(claim, Claim::Taken { until: 1050 });
    }

    #[tokio::test]
    async fn a_refusal_without_the_item_reads_it() {
        let mut captioned = Record::new("photos", "cat.jpg", State::Captioned);
        captioned.etag = Some("abc".into());
        let item = to_item(&captioned);
        let refused = mock!(Client::update_item).then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let read = mock!(Client::get_item)
            .match_requests(|r| r.consistent_read() == Some(true))
            .then_output(move || {
                GetItemOutput::builder()
                    .set_item(Some(item.clone()))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_dynamodb,
            aws_smithy_mocks::RuleMode::Sequential,
            [&refused, &read]
        );
        let claim = DynamoRecords::new(client, "records")
            .claim(&request(Some("abc"), None))
            .await
            .unwrap();
        assert_eq!(
            claim,
            Claim::AlreadyCaptioned {
                record: Box::new(captioned)
            }
        );
    }

    #[tokio::test]
    async fn a_granted_claim_returns_the_previous_record() {
        let previous = Record::new("photos", "cat.jpg", State::Skipped);
        let item = to_item(&previous);
        let rule = mock!(Client::update_item)
            .match_requests(|r| {
                r.condition_expression()
                    .is_some_and(|c| c.contains("seq <= :seq"))
                    && r.expression_attribute_values()
                        .is_some_and(|v| v.get(":token") == Some(&AttributeValue::S("t-1".into())))
            })
            .then_output(move || {
                UpdateItemOutput::builder()
                    .set_attributes(Some(item.clone()))
                    .build()
            });
        let records = DynamoRecords::new(mock_client!(aws_sdk_dynamodb, [&rule]), "records");
        let claim = records
            .claim(&request(None, Some("0055AED6DCD90281E5")))
            .await
            .unwrap();
        assert_eq!(
            claim,
            Claim::Claimed {
                previous: Some(Box::new(previous))
            }
        );
    }

    #[tokio::test]
    async fn condition_failures_of_writes_are_conflicts_and_unchanged_deletes() {
        let put = mock!(Client::put_item).then_error(|| {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let delete = mock!(Client::delete_item).then_error(|| {
            DeleteItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let client = mock_client!(
            aws_sdk_dynamodb,
            aws_smithy_mocks::RuleMode::MatchAny,
            [&put, &delete]
        );
        let records = DynamoRecords::new(client, "records");
        let record = Record::new("photos", "cat.jpg", State::Skipped);
        let claimed = Condition::Claimed {
            token: "t-1".into(),
            keep_until: None,
        };
        let err = records.put(&record, &claimed).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert!(!err.is_retryable());
        let deleted = records
            .delete("photos", "cat.jpg", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        assert!(!deleted, "a record written since is kept");
    }

    #[tokio::test]
    async fn throttling_is_retryable() {
        // As DynamoDB sends it: a 400 whose JSON body names the error.
        let rule = mock!(Client::put_item).then_http_response(|| {
            let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
            HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
        });
        let client = mock_client!(
            aws_sdk_dynamodb,
            aws_smithy_mocks::RuleMode::MatchAny,
            [&rule],
            |c| c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        );
        let records = DynamoRecords::new(client, "records");
        let err = records
            .put(
                &Record::new("photos", "cat.jpg", State::Skipped),
                &Condition::Unclaimed,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Transient { .. }), "{err}");
    }
}
