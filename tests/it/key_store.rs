//! Reading the API key from SSM Parameter Store and Secrets Manager, against moto, and
//! reading it again when the service refuses it.

use std::sync::Arc;

use crate::support::services::{FakeService, Wire};
use crate::support::{
    API_KEY, Stack, far_deadline, local_stack, provider_http, sample, sdk_config,
};
use s3_alt_text::app;
use s3_alt_text::provider::keys::{AwsKeyStore, KeyError, KeyStore};
use s3_alt_text::provider::{KeySource, Services};
use s3_alt_text::report::OutcomeKind;

#[tokio::test]
async fn the_key_is_read_from_a_securestring_parameter() {
    let sdk = sdk_config(&local_stack().moto).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    ssm.put_parameter()
        .name("/s3-alt-text/alttextlab-api-key")
        .value(format!("  {API_KEY}\n"))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let source = KeySource::SsmParameter("/s3-alt-text/alttextlab-api-key".into());
    let key = AwsKeyStore::new(&sdk).read(&source).await.unwrap();
    assert_eq!(key.expose(), API_KEY);

    let err = AwsKeyStore::new(&sdk)
        .read(&KeySource::SsmParameter("/s3-alt-text/missing".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, KeyError::Parameter { .. }));
    assert_eq!(
        err.to_string(),
        "cannot read the API key from SSM parameter /s3-alt-text/missing: ParameterNotFound"
    );
}

#[tokio::test]
async fn the_key_is_read_from_a_secret_plain_or_json() {
    let sdk = sdk_config(&local_stack().moto).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let plain = secrets
        .create_secret()
        .name("alttextlab-plain")
        .secret_string(API_KEY)
        .send()
        .await
        .unwrap();
    let json = secrets
        .create_secret()
        .name("alttextlab-json")
        .secret_string(format!(
            r#"{{"api_key": "{API_KEY}", "note": "rotated 2026-11"}}"#
        ))
        .send()
        .await
        .unwrap();
    secrets
        .create_secret()
        .name("alttextlab-wrong")
        .secret_string(r#"{"password": "hunter2"}"#)
        .send()
        .await
        .unwrap();

    let by_arn = KeySource::SecretsManager(plain.arn().unwrap().to_string());
    assert_eq!(
        AwsKeyStore::new(&sdk).read(&by_arn).await.unwrap().expose(),
        API_KEY
    );
    let by_name = KeySource::SecretsManager("alttextlab-json".into());
    assert_eq!(
        AwsKeyStore::new(&sdk)
            .read(&by_name)
            .await
            .unwrap()
            .expose(),
        API_KEY
    );
    assert!(json.arn().unwrap().contains("alttextlab-json"));

    let err = AwsKeyStore::new(&sdk)
        .read(&KeySource::SecretsManager("alttextlab-wrong".into()))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has no api_key, apiKey or ALT_TEXT_API_KEY string"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"));
    let err = AwsKeyStore::new(&sdk)
        .read(&KeySource::SecretsManager("no-such-secret".into()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the API key from Secrets Manager secret no-such-secret: ResourceNotFoundException"
    );
}

/// The account's key is rotated: SSM holds the new key, the service takes only it.
async fn rotate(ssm: &aws_sdk_ssm::Client, name: &str, fake: &FakeService, key: &str) {
    ssm.put_parameter()
        .name(name)
        .value(key)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    fake.rotate_key(key);
}

#[tokio::test]
async fn a_rotated_key_is_read_again_once_a_minute_and_the_request_sent_once_more() {
    let stack = Stack::new("rotation").await;
    let sdk = sdk_config(&local_stack().moto).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let name = format!("/s3-alt-text/{}/alttextlab-api-key", stack.table);
    let fake = FakeService::start(Wire::AltTextLab, None, vec![]).await;
    rotate(&ssm, &name, &fake, "key-1").await;
    let mut config = stack.config(&[
        ("ALT_TEXT_PROVIDER", "alttextlab"),
        ("ALTTEXTLAB_API_URL", &fake.url),
        ("ALTTEXTLAB_API_KEY_PARAMETER", &name),
    ]);
    let keys: Arc<dyn KeyStore> = Arc::new(AwsKeyStore::new(&sdk));
    app::read_keys(&mut config, keys.as_ref()).await.unwrap();
    let handler = stack.handler_with(
        &config,
        Services {
            http: provider_http(),
            aws: None,
            keys: Some(keys),
        },
    );
    let caption = |key: &'static str| {
        let (stack, handler) = (&stack, &handler);
        async move {
            stack
                .put(key, sample("coffee.jpg"), "image/jpeg", &[])
                .await;
            let summary = match handler
                .handle(&stack.event(&[(key, None)]), far_deadline())
                .await
            {
                Ok(handled) => handled.summary,
                Err(retryable) => retryable.summary().clone(),
            };
            summary.objects[0].clone()
        }
    };
    let keys_sent = || -> Vec<String> {
        fake.calls()
            .iter()
            .map(|c| c.api_key.clone().unwrap_or_default())
            .collect()
    };

    assert_eq!(caption("a.jpg").await.outcome, OutcomeKind::Captioned);
    assert_eq!(keys_sent(), ["key-1"]);

    // Rotated: the refused request is sent once more, with the key read again.
    rotate(&ssm, &name, &fake, "key-2").await;
    assert_eq!(caption("b.jpg").await.outcome, OutcomeKind::Captioned);
    assert_eq!(keys_sent(), ["key-1", "key-1", "key-2"]);
    assert!(stack.record("b.jpg").await.unwrap().alt_text.is_some());

    // Rotated again within the minute: the store is not read again, and the refusal is
    // final after one request: the provider is paused and the object retried later.
    rotate(&ssm, &name, &fake, "key-3").await;
    let refused = caption("c.jpg").await;
    assert_eq!(refused.outcome, OutcomeKind::Failed);
    assert!(
        refused
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("rejected the API key (403 API_KEY_IS_INVALID)")),
        "{refused:?}"
    );
    assert_eq!(keys_sent(), ["key-1", "key-1", "key-2", "key-2"]);
    assert!(!format!("{refused:?}").contains("key-2"));
}
