//! Function configuration, read once from the environment at start and validated.
//!
//! Each part of the function owns its settings and parses its own variables: the pipeline
//! ([`pipeline::Settings`]), each provider (through the [`registry`](crate::provider::registry)),
//! the metrics ([`MetricsConfig`]). This module puts them together. Every error names the
//! variable at fault, so a misconfigured deployment fails on its first cold start with a
//! message that says what to fix.

use std::path::PathBuf;

pub use crate::env::ConfigError;
use crate::env::Env;
use crate::metrics::MetricsConfig;
use crate::pipeline;
use crate::provider::registry::{self, ProviderConfig, ProviderKind};

/// The validated configuration of the function.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table for the records (`TABLE_NAME`).
    pub table_name: String,
    /// Tag key, languages, caption length, presigned URL expiry.
    pub pipeline: pipeline::Settings,
    /// Ordered provider chain (`ALT_TEXT_PROVIDER`), each with its settings.
    pub providers: Vec<ProviderConfig>,
    /// Records of one invocation processed at the same time (`MAX_CONCURRENCY`): by default
    /// a whole SQS batch of ten, so that the wait on the provider is billed once per batch.
    pub max_concurrency: usize,
    /// Where the per-invocation metrics go (`METRICS_NAMESPACE`, `METRICS_DIMENSIONS`);
    /// `None` with `METRICS_NAMESPACE=off`.
    pub metrics: Option<MetricsConfig>,
    /// A PEM bundle of certificate authorities trusted besides Mozilla's roots
    /// (`ALT_TEXT_CA_BUNDLE`), for a provider behind a private CA.
    pub ca_bundle: Option<PathBuf>,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env::new(&lookup);
        Ok(Config {
            table_name: env
                .get("TABLE_NAME")
                .ok_or(ConfigError::Missing("TABLE_NAME"))?,
            providers: registry::parse_chain(&env)?,
            pipeline: pipeline::Settings::from_env(&env)?,
            max_concurrency: env.number("MAX_CONCURRENCY", 10, 1, 256)? as usize,
            metrics: MetricsConfig::from_env(&env)?,
            ca_bundle: env.get("ALT_TEXT_CA_BUNDLE").map(PathBuf::from),
        })
    }

    /// The kinds of provider in the chain, in order.
    pub fn kinds(&self) -> Vec<ProviderKind> {
        self.providers.iter().map(ProviderConfig::kind).collect()
    }

    /// What is likely a mistake, though the function can run: one line each, for the log.
    pub fn warnings(&self) -> Vec<String> {
        self.providers
            .iter()
            .filter(|p| p.kind().needs_api_key() && !p.access().is_some_and(|a| a.has_key()))
            .map(|p| {
                format!(
                    "{}: no API key (ALT_TEXT_API_KEY or {}_API_KEY): it will decline every image",
                    p.kind().name(),
                    p.kind().env_prefix()
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::provider::access::{Access, ImageInput, KeySource};
    use crate::provider::alttextlab::{self, Style};
    use crate::provider::{bedrock, openai};

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn access(c: &Config, i: usize) -> &Access {
        c.providers[i].access().expect("a keyed provider")
    }

    /// The settings of the chain's provider that `pick` recognises.
    fn find<'c, T>(c: &'c Config, pick: fn(&'c ProviderConfig) -> Option<&'c T>) -> &'c T {
        c.providers.iter().find_map(pick).expect("in the chain")
    }

    fn lab(c: &Config) -> &alttextlab::Settings {
        find(c, |p| p.http()?.settings())
    }

    fn bedrock(c: &Config) -> &bedrock::Settings {
        find(c, |p| match p {
            ProviderConfig::Bedrock(s) => Some(s),
            _ => None,
        })
    }

    fn openai(c: &Config) -> &openai::Settings {
        find(c, |p| p.http()?.settings())
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let c = config(&[("TABLE_NAME", "alt-text")]).unwrap();
        assert_eq!(c.table_name, "alt-text");
        assert_eq!(
            c.kinds(),
            vec![ProviderKind::Embedded, ProviderKind::AltTextLab]
        );
        assert!(access(&c, 1).api_key.is_none());
        assert_eq!(access(&c, 1).url, "https://app.alttextlab.com");
        assert!(c.providers[0].access().is_none(), "embedded has no URL");
        assert_eq!(c.pipeline.langs, ["en"]);
        assert_eq!(c.pipeline.max_chars, None);
        assert_eq!(lab(&c).style, None);
        let models =
            config(&[("TABLE_NAME", "t"), ("ALT_TEXT_PROVIDER", "bedrock,openai")]).unwrap();
        assert_eq!(bedrock(&models).model, bedrock::DEFAULT_MODEL);
        assert_eq!(openai(&models).model, openai::DEFAULT_MODEL);
        assert_eq!(c.pipeline.tag_key, "alt-text");
        assert_eq!(c.pipeline.presign_ttl, Duration::from_secs(60));
        assert_eq!(c.max_concurrency, 10);
        assert_eq!(
            c.metrics,
            Some(MetricsConfig {
                namespace: "s3-alt-text".into(),
                dimensions: vec![]
            })
        );
    }

    #[test]
    fn metrics_go_where_configured() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("AWS_LAMBDA_FUNCTION_NAME", "captioner"),
        ])
        .unwrap();
        assert_eq!(
            c.metrics.unwrap().dimensions,
            vec![("FunctionName".to_string(), "captioner".to_string())]
        );
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("METRICS_NAMESPACE", "Shop/Images"),
            ("METRICS_DIMENSIONS", "Stage=prod, Site=shop"),
        ])
        .unwrap();
        assert_eq!(
            c.metrics,
            Some(MetricsConfig {
                namespace: "Shop/Images".into(),
                dimensions: vec![
                    ("Stage".to_string(), "prod".to_string()),
                    ("Site".to_string(), "shop".to_string())
                ]
            })
        );
        assert_eq!(
            config(&[("TABLE_NAME", "t"), ("METRICS_NAMESPACE", "off")])
                .unwrap()
                .metrics,
            None
        );
    }

    #[test]
    fn missing_table_names_the_variable() {
        let err = config(&[]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
        assert_eq!(err.to_string(), "TABLE_NAME is required but not set");
        assert_eq!(
            config(&[("TABLE_NAME", "  ")]).unwrap_err(),
            ConfigError::Missing("TABLE_NAME")
        );
    }

    #[test]
    fn every_setting_is_read() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", " alttextlab , embedded "),
            ("ALT_TEXT_API_KEY", "k-123"),
            ("ALT_TEXT_API_URL", "http://127.0.0.1:9000/"),
            ("ALT_TEXT_LANG", "pt-BR"),
            ("ALT_TEXT_STYLE", "matter-of-fact"),
            ("ALT_TEXT_KEYWORDS", "shoes, leather ,,"),
            ("ALT_TEXT_TAG_KEY", "accessibility:alt"),
            ("ALT_TEXT_MAX_CHARS", "125"),
            ("ALT_TEXT_PROMPT", "Describe the product."),
            ("ALTTEXTLAB_ECOMMERCE", r#"{"brand": "Acme Co."}"#),
            ("BEDROCK_MODEL_ID", "us.amazon.nova-lite-v1:0"),
            ("OPENAI_MODEL", "llava"),
            ("PRESIGN_TTL_SECS", "30"),
            ("MAX_CONCURRENCY", "4"),
        ])
        .unwrap();
        assert_eq!(
            c.kinds(),
            vec![ProviderKind::AltTextLab, ProviderKind::Embedded]
        );
        let lab_access = access(&c, 0);
        assert_eq!(lab_access.api_key.as_ref().unwrap().expose(), "k-123");
        assert_eq!(lab_access.url, "http://127.0.0.1:9000");
        assert!(
            c.providers[1].access().is_none(),
            "the key goes to the keyed provider only"
        );
        assert_eq!(c.pipeline.langs, ["pt-BR"]);
        assert_eq!(lab(&c).style, Some(Style::MatterOfFact));
        assert_eq!(lab(&c).keywords, vec!["shoes", "leather"]);
        assert_eq!(c.pipeline.tag_key, "accessibility:alt");
        assert_eq!(c.pipeline.max_chars, Some(125));
        assert_eq!(lab(&c).ecommerce.as_ref().unwrap()["brand"], "Acme Co.");
        assert_eq!(c.pipeline.presign_ttl, Duration::from_secs(30));
        assert_eq!(c.max_concurrency, 4);
        let models = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "bedrock,openai"),
            ("ALT_TEXT_PROMPT", "Describe the product."),
            ("BEDROCK_MODEL_ID", "us.amazon.nova-lite-v1:0"),
            ("OPENAI_MODEL", "llava"),
        ])
        .unwrap();
        assert_eq!(
            bedrock(&models).prompt.as_deref(),
            Some("Describe the product.")
        );
        assert_eq!(
            openai(&models).prompt.as_deref(),
            Some("Describe the product.")
        );
        assert_eq!(bedrock(&models).model, "us.amazon.nova-lite-v1:0");
        assert_eq!(openai(&models).model, "llava");
    }

    #[test]
    fn several_languages_main_first() {
        let c = config(&[("TABLE_NAME", "t"), ("ALT_TEXT_LANGS", "en, de ,fr")]).unwrap();
        assert_eq!(c.pipeline.langs, ["en", "de", "fr"]);
        assert_eq!(c.pipeline.main_lang(), "en");
    }

    #[test]
    fn each_keyed_provider_has_its_own_key_and_url() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "embedded,autoalt,openai,bedrock"),
            ("AUTOALT_API_KEY", "auto-key"),
            ("OPENAI_API_URL", "http://127.0.0.1:11434/v1/"),
            ("OPENAI_IMAGE_INPUT", "data"),
        ])
        .unwrap();
        let auto = access(&c, 1);
        assert_eq!(auto.api_key.as_ref().unwrap().expose(), "auto-key");
        assert_eq!(auto.url, "https://autoalt.app");
        let openai = access(&c, 2);
        assert!(openai.api_key.is_none());
        assert_eq!(openai.url, "http://127.0.0.1:11434/v1");
        assert_eq!(openai.image_input, ImageInput::Data);
        assert_eq!(auto.image_input, ImageInput::Url);
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "openai"),
            ("OPENAI_IMAGE_INPUT", "bytes"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("OPENAI_IMAGE_INPUT is invalid"),
            "{err}"
        );

        // A generic key with two keyed providers would reach the wrong service.
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "alttextlab,openai"),
            ("ALT_TEXT_API_KEY", "k"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ALT_TEXT_API_KEY is invalid: is ambiguous with several keyed providers in the chain; set ALTTEXTLAB_API_KEY and OPENAI_API_KEY instead"
        );
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "embedded,bedrock"),
            ("ALT_TEXT_API_KEY", "k"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("no provider"), "{err}");
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("ALT_TEXT_PROVIDER", "embedded,gemini"),
            ("ALT_TEXT_PROVIDER", "embedded,embedded"),
            ("ALT_TEXT_PROVIDER", ","),
            ("ALT_TEXT_API_URL", "ftp://example.com"),
            ("ALT_TEXT_LANG", "english please"),
            ("ALT_TEXT_LANGS", "en,de,en"),
            ("ALT_TEXT_LANGS", "en,de,fr,es,it,pt,nl,pl,ru,ja"),
            ("ALT_TEXT_MAX_CHARS", "5"),
            ("ALTTEXTLAB_ECOMMERCE", "brand=Acme"),
            ("ALTTEXTLAB_ECOMMERCE", r#"{"price": 10}"#),
            ("ALT_TEXT_STYLE", "poetic"),
            ("ALT_TEXT_TAG_KEY", "aws:alt"),
            ("ALT_TEXT_TAG_KEY", "alt,text"),
            ("PRESIGN_TTL_SECS", "0"),
            ("PRESIGN_TTL_SECS", "sixty"),
            ("PRESIGN_TTL_SECS", "604801"),
            ("MAX_CONCURRENCY", "0"),
            ("METRICS_DIMENSIONS", "Stage"),
            ("METRICS_NAMESPACE", "a:b"),
        ];
        for (var, value) in cases {
            let err = config(&[("TABLE_NAME", "t"), (var, value)]).unwrap_err();
            match &err {
                ConfigError::Invalid { var: named, .. } => assert_eq!(named, var, "{value}"),
                other => panic!("{var}={value}: unexpected {other:?}"),
            }
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn the_key_can_come_from_one_store() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_API_KEY_PARAMETER", "/s3-alt-text/api-key"),
        ])
        .unwrap();
        let lab = access(&c, 1);
        assert_eq!(
            lab.key_source,
            Some(KeySource::SsmParameter("/s3-alt-text/api-key".into()))
        );
        assert!(lab.api_key.is_none());
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "alttextai"),
            ("ALTTEXTAI_API_KEY_SECRET_ID", "alttextai"),
        ])
        .unwrap();
        assert_eq!(
            access(&c, 0).key_source,
            Some(KeySource::SecretsManager("alttextai".into()))
        );
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_API_KEY", "k"),
            ("ALT_TEXT_API_KEY_SECRET_ID", "alttextlab"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ALT_TEXT_API_KEY_SECRET_ID is invalid: set only one of ALT_TEXT_API_KEY, ALT_TEXT_API_KEY_SECRET_ID"
        );
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_API_KEY", "super-secret-key"),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("super-secret-key"));
    }
}
