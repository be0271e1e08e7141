//! Invocation metrics in CloudWatch Embedded Metric Format: one JSON document per
//! invocation, written to stdout, which CloudWatch Logs turns into metrics without any API
//! call. Images captioned, unchanged, skipped, failed and busy, objects removed, provider
//! calls and latency, bytes read from S3, image bytes sent to providers and images prepared
//! for them, and the credits the provider reports left.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use crate::env::{ConfigError, Env};
use crate::report::Summary;

/// What the pipeline used during one invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Requests sent to paid providers' services (retries included).
    pub provider_calls: u64,
    /// Requests sent that got no usable answer: they may have been billed.
    pub provider_attempts_unknown: u64,
    /// Each paid provider call's duration, retries included, in milliseconds.
    pub provider_ms: Vec<f64>,
    /// Bytes read from S3 by the function (heads, XMP ranges, images sent as bytes).
    pub bytes_read: u64,
    /// The image bytes each call to a service sent them carried (the object's own, or those
    /// prepared for it).
    pub image_bytes_sent: Vec<f64>,
    /// Images converted for a service (decoded, scaled, re-encoded).
    pub images_prepared: u64,
    /// Credits left on the provider account, where the service reports them.
    pub credits_remaining: Option<f64>,
    /// Calls left in the budget period (`ALT_TEXT_BUDGET`), as last taken.
    pub budget_left: Option<u64>,
    /// Providers this container paused (each pause is counted once, by the container that
    /// started it).
    pub providers_paused: u64,
}

/// Usage gathered while objects are processed, taken once per invocation.
#[derive(Debug, Default)]
pub struct UsageMeter(Mutex<Usage>);

impl UsageMeter {
    fn with(&self, f: impl FnOnce(&mut Usage)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// One request sent to a provider's service; `answered` is false when no usable answer
    /// came back.
    pub fn request(&self, answered: bool) {
        self.with(|u| {
            u.provider_calls += 1;
            u.provider_attempts_unknown += u64::from(!answered);
        });
    }

    /// One caption asked of a paid provider: how long it took, retries included, and the
    /// credits it reports left.
    pub fn provider_call(&self, took: Duration, credits: Option<f64>) {
        self.with(|u| {
            u.provider_ms.push(took.as_secs_f64() * 1000.0);
            if credits.is_some() {
                u.credits_remaining = credits;
            }
        });
    }

    /// An image of `bytes` sent in one call; `prepared` when it was converted for it.
    pub fn image_sent(&self, bytes: u64, prepared: bool) {
        self.with(|u| {
            u.image_bytes_sent.push(bytes as f64);
            u.images_prepared += u64::from(prepared);
        });
    }

    /// The calls left in the budget period after the last one taken.
    pub fn budget_left(&self, left: u64) {
        self.with(|u| u.budget_left = Some(left));
    }

    /// A provider paused by this container.
    pub fn provider_paused(&self) {
        self.with(|u| u.providers_paused += 1);
    }

    pub fn read(&self, bytes: usize) {
        self.with(|u| u.bytes_read += bytes as u64);
    }

    /// Requests sent to paid providers' services since the last take.
    pub fn provider_calls(&self) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .provider_calls
    }

    /// The usage so far, and a fresh start.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where the metrics go: the namespace and the dimensions (name and value) of every metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: String,
    pub dimensions: Vec<(String, String)>,
}

impl MetricsConfig {
    /// `METRICS_NAMESPACE` (default `s3-alt-text`, `off` for none) and `METRICS_DIMENSIONS`
    /// (`Name=Value,…`; by default the function's name, when it runs in Lambda).
    pub fn from_env(env: &Env) -> Result<Option<MetricsConfig>, ConfigError> {
        let namespace = env
            .get("METRICS_NAMESPACE")
            .unwrap_or_else(|| "s3-alt-text".into());
        if namespace.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        if namespace.len() > 255 || namespace.contains(':') {
            return Err(ConfigError::Invalid {
                var: "METRICS_NAMESPACE".into(),
                reason: "a CloudWatch namespace has at most 255 characters and no colon".into(),
            });
        }
        let dimensions = match env.get("METRICS_DIMENSIONS") {
            None => env
                .get("AWS_LAMBDA_FUNCTION_NAME")
                .map(|name| vec![("FunctionName".to_string(), name)])
                .unwrap_or_default(),
            Some(raw) => {
                let mut dimensions = Vec::new();
                for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match pair.split_once('=') {
                        Some((name, value))
                            if !name.trim().is_empty()
                                && !value.trim().is_empty()
                                && !name.trim().starts_with(':')
                                && name.trim() != "_aws" =>
                        {
                            dimensions.push((name.trim().to_string(), value.trim().to_string()))
                        }
                        _ => {
                            return Err(ConfigError::Invalid {
                                var: "METRICS_DIMENSIONS".into(),
                                reason: format!("{pair:?} is not Name=Value"),
                            });
                        }
                    }
                }
                if dimensions.len() > 30 {
                    return Err(ConfigError::Invalid {
                        var: "METRICS_DIMENSIONS".into(),
                        reason: "CloudWatch takes at most 30 dimensions".into(),
                    });
                }
                dimensions
            }
        };
        Ok(Some(MetricsConfig {
            namespace,
            dimensions,
        }))
    }
}

/// Prints the EMF document of one invocation on stdout, where CloudWatch Logs makes the
/// metrics of it.
pub fn emit(config: &MetricsConfig, summary: &Summary, usage: &Usage) {
    println!("{}", document(config, summary, usage, SystemTime::now()));
}

/// The EMF document of one invocation.
pub fn document(config: &MetricsConfig, summary: &Summary, usage: &Usage, at: SystemTime) -> Value {
    let mut root = Map::new();
    let mut metrics = Vec::new();
    let mut metric = |name: &str, unit: &str, value: Value| {
        metrics.push(json!({"Name": name, "Unit": unit}));
        root.insert(name.to_string(), value);
    };
    metric("ImagesCaptioned", "Count", json!(summary.captioned));
    metric("ImagesUnchanged", "Count", json!(summary.unchanged));
    metric("ImagesSkipped", "Count", json!(summary.skipped));
    metric("ImagesFailed", "Count", json!(summary.failed));
    metric("ImagesBusy", "Count", json!(summary.busy));
    metric("ObjectsRemoved", "Count", json!(summary.removed));
    metric("ProviderCalls", "Count", json!(usage.provider_calls));
    metric(
        "ProviderAttemptsUnknown",
        "Count",
        json!(usage.provider_attempts_unknown),
    );
    if !usage.provider_ms.is_empty() {
        let rounded: Vec<f64> = usage
            .provider_ms
            .iter()
            .map(|ms| (ms * 10.0).round() / 10.0)
            .collect();
        metric("ProviderLatency", "Milliseconds", json!(rounded));
    }
    metric("BytesRead", "Bytes", json!(usage.bytes_read));
    if !usage.image_bytes_sent.is_empty() {
        metric("ImageBytesSent", "Bytes", json!(usage.image_bytes_sent));
    }
    metric("ImagesPrepared", "Count", json!(usage.images_prepared));
    if let Some(credits) = usage.credits_remaining {
        metric("CreditsRemaining", "None", json!(credits));
    }
    if let Some(left) = usage.budget_left {
        metric("BudgetCallsLeft", "Count", json!(left));
    }
    if usage.providers_paused > 0 {
        metric("ProvidersPaused", "Count", json!(usage.providers_paused));
    }
    for (name, value) in &config.dimensions {
        root.insert(name.clone(), json!(value));
    }
    let timestamp = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let names: Vec<&String> = config.dimensions.iter().map(|(n, _)| n).collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [names],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_emf() {
        let config = MetricsConfig {
            namespace: "s3-alt-text".into(),
            dimensions: vec![("FunctionName".into(), "captioner".into())],
        };
        let summary = Summary {
            captioned: 2,
            skipped: 1,
            ..Summary::default()
        };
        let meter = UsageMeter::default();
        meter.provider_call(Duration::from_millis(250), Some(41.0));
        meter.provider_call(Duration::from_millis(310), None);
        meter.request(true);
        meter.request(true);
        meter.request(false);
        meter.read(65_536);
        meter.image_sent(412_000, true);
        meter.image_sent(90_000, false);
        let usage = meter.take();
        assert_eq!(meter.take(), Usage::default(), "taking starts afresh");
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_763_800_000_123);
        let doc = document(&config, &summary, &usage, at);
        assert_eq!(doc["_aws"]["Timestamp"], 1_763_800_000_123u64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "s3-alt-text");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(doc["FunctionName"], "captioner");
        assert_eq!(doc["ImagesCaptioned"], 2);
        assert_eq!(doc["ImagesSkipped"], 1);
        assert_eq!(doc["ProviderCalls"], 3, "requests sent, retries included");
        assert_eq!(doc["ProviderAttemptsUnknown"], 1);
        assert_eq!(doc["ProviderLatency"], json!([250.0, 310.0]));
        assert_eq!(doc["BytesRead"], 65_536);
        assert_eq!(doc["ImageBytesSent"], json!([412_000.0, 90_000.0]));
        assert_eq!(doc["ImagesPrepared"], 1);
        assert_eq!(doc["CreditsRemaining"], 41.0);
        for m in directive["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(doc.get(name).is_some(), "{name} has a value");
        }
        // No latency metric without a call, no credits without a report.
        let quiet = document(&config, &Summary::default(), &Usage::default(), at);
        assert!(quiet.get("ProviderLatency").is_none());
        assert!(quiet.get("CreditsRemaining").is_none());
        assert!(quiet.get("ImageBytesSent").is_none());
        assert_eq!(quiet["ImagesPrepared"], 0);
    }
}
