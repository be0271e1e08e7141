//! The spend [`Ledger`] in the record table, under a partition no bucket can have (`#spend`:
//! bucket names hold no `#`): one item holds every provider's pause, one item per budget
//! period its counter. Each change is one conditional update, so containers never race.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::classify;
use super::{DynamoRecords, Ledger, Pause, Period, StoreError};

/// The partition of the ledger's items.
const PARTITION: &str = "#spend";
/// The item holding the pauses, one attribute `pause_<provider>` each.
const PAUSES: &str = "pauses";
const PAUSE_PREFIX: &str = "pause_";

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(value: Option<&AttributeValue>) -> Option<u64> {
    value?.as_n().ok()?.parse().ok()
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

impl DynamoRecords {
    /// An update of the ledger's item `sort_key`.
    fn ledger_update(&self, sort_key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(PARTITION.into()))
            .key("sk", AttributeValue::S(sort_key.into()))
    }
}

/// The sort key of a period's counter.
fn budget_key(period: &Period) -> String {
    format!("budget {}", period.name)
}

impl Ledger for DynamoRecords {
    async fn pauses(&self, now: u64) -> Result<Vec<Pause>, StoreError> {
        let item = self.item(PARTITION, PAUSES).await?.unwrap_or_default();
        let mut pauses: Vec<Pause> = item
            .iter()
            .filter_map(|(name, value)| {
                let provider = name.strip_prefix(PAUSE_PREFIX)?;
                let fields = value.as_m().ok()?;
                Some(Pause {
                    provider: provider.into(),
                    until: number(fields.get("until"))?,
                    reason: fields.get("reason")?.as_s().ok()?.clone(),
                })
            })
            .filter(|p| p.until > now)
            .collect();
        pauses.sort_by(|a, b| a.provider.cmp(&b.provider));
        Ok(pauses)
    }

    async fn pause(&self, pause: &Pause, now: u64) -> Result<bool, StoreError> {
        let value = AttributeValue::M(HashMap::from([
            ("until".to_string(), n(pause.until)),
            (
                "reason".to_string(),
                AttributeValue::S(pause.reason.clone()),
            ),
        ]));
        let result = self
            .ledger_update(PAUSES)
            .update_expression("SET #p = :pause")
            .condition_expression("attribute_not_exists(#p) OR #p.#until <= :now")
            .expression_attribute_names("#p", format!("{PAUSE_PREFIX}{}", pause.provider))
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":pause", value)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(err) => Err(classify("DynamoDB UpdateItem (pause)", err)),
        }
    }

    async fn take(&self, period: &Period) -> Result<Option<u64>, StoreError> {
        let result = self
            .ledger_update(&budget_key(period))
            .update_expression("ADD used :one SET #limit = :limit, ends = :ends")
            .condition_expression("attribute_not_exists(used) OR used < :limit")
            .expression_attribute_names("#limit", "limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(period.limit))
            .expression_attribute_values(":ends", n(period.ends))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let used = number(output.attributes.as_ref().and_then(|a| a.get("used")));
                Ok(Some(
                    period.limit.saturating_sub(used.unwrap_or(period.limit)),
                ))
            }
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(None),
            Err(err) => Err(classify("DynamoDB UpdateItem (budget)", err)),
        }
    }

    async fn give_back(&self, period: &Period) -> Result<(), StoreError> {
        let result = self
            .ledger_update(&budget_key(period))
            .update_expression("ADD used :minus")
            .condition_expression("used > :zero")
            .expression_attribute_values(":minus", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(()),
            Err(err) => Err(classify("DynamoDB UpdateItem (budget)", err)),
        }
    }

    async fn used(&self, period: &Period) -> Result<u64, StoreError> {
        let item = self.item(PARTITION, &budget_key(period)).await?;
        Ok(item.and_then(|i| number(i.get("used"))).unwrap_or(0))
    }
}
