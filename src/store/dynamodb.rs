//! [`RecordStore`] on a DynamoDB table (`pk` = bucket, `sk` = object key): the claim as one
//! conditional update, records as items.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::error::classify;
use super::{Claim, ClaimRequest, RecordStore, StoreError, epoch_now};
use crate::caption::{LangCaption, Record, State, TagStatus};
use crate::event::sequencer_key;

/// [`RecordStore`] on a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoRecords {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoRecords {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoRecords {
        DynamoRecords {
            client,
            table: table.into(),
        }
    }
}

impl RecordStore for DynamoRecords {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Record>, StoreError> {
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
        Ok(output.item().and_then(from_item))
    }

    async fn delete(&self, bucket: &str, key: &str, updated_at: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(bucket.to_string()))
            .key("sk", AttributeValue::S(key.to_string()))
            .condition_expression("updated_at = :seen")
            .expression_attribute_values(":seen", AttributeValue::S(updated_at.to_string()))
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

    async fn put(&self, record: &Record) -> Result<(), StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)));
        put = match &record.claim {
            Some(token) => put
                .condition_expression("claim_token = :token")
                .expression_attribute_values(":token", AttributeValue::S(token.clone())),
            None => put
                .condition_expression("attribute_not_exists(claim_until) OR claim_until < :now")
                .expression_attribute_values(":now", AttributeValue::N(epoch_now().to_string())),
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
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(explain(failed.item.as_ref(), req))
                }
                _ => Err(classify("DynamoDB UpdateItem", err)),
            },
        }
    }
}

/// The DynamoDB item of a record; absent fields are left out.
pub fn to_item(r: &Record) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::new();
    let mut s = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            item.insert(name.to_string(), AttributeValue::S(v.to_string()));
        }
    };
    s("pk", Some(&r.bucket));
    s("sk", Some(&r.key));
    s("state", Some(r.state.as_str()));
    s("alt_text", r.alt_text.as_deref());
    s("tag_value", r.tag_value.as_deref());
    s("tag_status", r.tag_status.map(TagStatus::as_str));
    s("provider", r.provider.as_deref());
    s("provider_request_id", r.provider_request_id.as_deref());
    s("lang", r.lang.as_deref());
    s("etag", r.etag.as_deref());
    s("version_id", r.version_id.as_deref());
    s("content_type", r.content_type.as_deref());
    s("sequencer", r.sequencer.as_deref());
    let seq = r.sequencer.as_deref().map(sequencer_key);
    s("seq", seq.as_deref());
    s("updated_at", Some(&r.updated_at));
    s("reason", r.reason.as_deref());
    s("error", r.error.as_deref());
    if let Some(size) = r.size {
        item.insert("size".into(), AttributeValue::N(size.to_string()));
    }
    if let Some(retryable) = r.retryable {
        item.insert("retryable".into(), AttributeValue::Bool(retryable));
    }
    if !r.captions.is_empty() {
        let captions = r
            .captions
            .iter()
            .map(|(lang, c)| {
                let mut m = HashMap::from([
                    ("text".to_string(), AttributeValue::S(c.text.clone())),
                    (
                        "provider".to_string(),
                        AttributeValue::S(c.provider.clone()),
                    ),
                ]);
                if let Some(id) = &c.request_id {
                    m.insert("request_id".into(), AttributeValue::S(id.clone()));
                }
                if let Some(tag) = &c.tag_key {
                    m.insert("tag".into(), AttributeValue::S(tag.clone()));
                }
                (lang.clone(), AttributeValue::M(m))
            })
            .collect();
        item.insert("captions".into(), AttributeValue::M(captions));
    }
    item
}

/// The `captions` map of an item.
fn captions_of(item: &HashMap<String, AttributeValue>) -> Option<BTreeMap<String, LangCaption>> {
    let map = item.get("captions")?.as_m().ok()?;
    let captions = map
        .iter()
        .filter_map(|(lang, v)| {
            let m = v.as_m().ok()?;
            let s = |name: &str| m.get(name).and_then(|v| v.as_s().ok()).cloned();
            Some((
                lang.clone(),
                LangCaption {
                    text: s("text")?,
                    provider: s("provider")?,
                    request_id: s("request_id"),
                    tag_key: s("tag"),
                },
            ))
        })
        .collect();
    Some(captions)
}

/// The record of a DynamoDB item, or `None` if it lacks the key or a known state.
pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Record> {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let mut record = Record::new(&s("pk")?, &s("sk")?, State::parse(&s("state")?)?);
    record.alt_text = s("alt_text");
    record.tag_value = s("tag_value");
    record.tag_status = s("tag_status").and_then(|t| TagStatus::parse(&t));
    record.provider = s("provider");
    record.provider_request_id = s("provider_request_id");
    record.lang = s("lang");
    record.etag = s("etag");
    record.version_id = s("version_id");
    record.content_type = s("content_type");
    record.sequencer = s("sequencer");
    record.updated_at = s("updated_at").unwrap_or_default();
    record.reason = s("reason");
    record.error = s("error");
    record.size = item
        .get("size")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok());
    record.retryable = item
        .get("retryable")
        .and_then(|v| v.as_bool().ok())
        .copied();
    record.captions = captions_of(item).unwrap_or_default();
    Some(record)
}

/// Why a claim's condition failed, from the item as it is (`None`: no item).
fn explain(item: Option<&HashMap<String, AttributeValue>>, req: &ClaimRequest<'_>) -> Claim {
    let Some(item) = item else {
        // No item came back (a condition cannot fail on a missing item): as good as
        // busy for a moment.
        return Claim::Busy { until: req.now };
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
    Claim::Busy { until }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    request_id: Some("req-1".into()),
                    tag_key: Some("alt-text".into()),
                },
            ),
            (
                "de".to_string(),
                LangCaption {
                    text: "Eine Tasse Milchkaffee".into(),
                    provider: "bedrock".into(),
                    request_id: None,
                    tag_key: None,
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
}
