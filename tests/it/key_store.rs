//! Reading the API key from SSM Parameter Store and Secrets Manager, against moto.

use crate::support::{API_KEY, local_stack, sdk_config};
use s3_alt_text::provider::KeySource;
use s3_alt_text::provider::keys::{self, KeyError};

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
    let key = keys::read(&source, &sdk).await.unwrap();
    assert_eq!(key.expose(), API_KEY);

    let err = keys::read(
        &KeySource::SsmParameter("/s3-alt-text/missing".into()),
        &sdk,
    )
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
    assert_eq!(keys::read(&by_arn, &sdk).await.unwrap().expose(), API_KEY);
    let by_name = KeySource::SecretsManager("alttextlab-json".into());
    assert_eq!(keys::read(&by_name, &sdk).await.unwrap().expose(), API_KEY);
    assert!(json.arn().unwrap().contains("alttextlab-json"));

    let err = keys::read(&KeySource::SecretsManager("alttextlab-wrong".into()), &sdk)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has no api_key, apiKey or ALT_TEXT_API_KEY string"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"));
    let err = keys::read(&KeySource::SecretsManager("no-such-secret".into()), &sdk)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the API key from Secrets Manager secret no-such-secret: ResourceNotFoundException"
    );
}
