//! Each provider end to end on the local stack through a fake of its service that
//! speaks the real wire format: the sample images are captioned, documented errors end in
//! the right outcome (retry, next provider, failed record), and several languages leave a
//! tag and a record entry each; a provider that hangs after accepting is sent one request
//! per delivery, and a redirect never takes the key to another host.

use std::sync::{Arc, Mutex};

use crate::support::http::{self, HttpRequest, HttpResponse};
use crate::support::services::{FakeService, Reply, Wire, describe};
use crate::support::{ACCESS_KEY, API_KEY, Stack, far_deadline, provider_http, sample, sdk_config};
use s3_alt_text::app::AppHandler;
use s3_alt_text::caption::{Record, State};
use s3_alt_text::provider::Services;
use s3_alt_text::report::OutcomeKind;
use serde_json::json;

const KEY: &str = "svc_live_0a1b2c3d4e5f60718293";

/// The four sample images, by key, with their content types.
const IMAGES: [(&str, &str, &str); 4] = [
    ("shop/cat.jpg", "cat.jpg", "image/jpeg"),
    ("shop/coffee.jpg", "coffee.jpg", "image/jpeg"),
    ("shop/astronaut.png", "astronaut.png", "image/png"),
    ("shop/rocket.webp", "rocket.webp", "image/webp"),
];

async fn upload_images(stack: &Stack) {
    for (key, file, content_type) in IMAGES {
        stack
            .put(key, sample(file), content_type, &[("owner", "shop")])
            .await;
    }
}

/// Captions every sample image and returns their records.
async fn caption_all(stack: &Stack, handler: &AppHandler) -> Vec<Record> {
    let keys: Vec<(&str, Option<&str>)> = IMAGES.iter().map(|(k, _, _)| (*k, None)).collect();
    let summary = handler
        .handle(&stack.event(&keys), far_deadline())
        .await
        .expect("no retryable failure")
        .summary;
    assert_eq!(summary.captioned, 4, "{summary:?}");
    let mut records = Vec::new();
    for (key, _, _) in IMAGES {
        records.push(stack.record(key).await.expect("a record"));
    }
    records
}

async fn assert_described(stack: &Stack, records: &[Record], provider: &str) {
    for ((key, file, _), record) in IMAGES.iter().zip(records) {
        let expected = describe(&sample(file), "en");
        assert_eq!(record.state, State::Captioned, "{key}");
        assert_eq!(record.provider.as_deref(), Some(provider), "{key}");
        assert_eq!(record.alt_text.as_deref(), Some(expected.as_str()), "{key}");
        let mut tags = stack.tags(key).await;
        tags.sort();
        assert_eq!(
            tags,
            vec![
                ("alt-text".to_string(), expected.clone()),
                ("owner".to_string(), "shop".to_string())
            ],
            "{key}: the user's tag is kept"
        );
    }
}

pub async fn bedrock_services(fake: &FakeService) -> Services {
    let sdk = sdk_config(&fake.url).await;
    Services {
        http: provider_http(),
        aws: Some(sdk),
        keys: None,
    }
}

#[tokio::test]
async fn autoalt_captions_the_samples_from_their_bytes() {
    let stack = Stack::new("autoalt").await;
    upload_images(&stack).await;
    let fake = FakeService::start(Wire::AutoAlt, Some(KEY), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "autoalt"),
        ("ALT_TEXT_API_KEY", KEY),
        ("ALT_TEXT_API_URL", &fake.url),
    ]));
    let records = caption_all(&stack, &handler).await;
    assert_described(&stack, &records, "autoalt").await;
    let received = fake.calls();
    assert_eq!(received.len(), 4);
    for r in &received {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(
            (r.image_via, r.body["language"].as_str()),
            ("base64", Some("en"))
        );
    }
    let mut sizes: Vec<usize> = received.iter().map(|r| r.image_len).collect();
    sizes.sort_unstable();
    let mut expected: Vec<usize> = IMAGES.iter().map(|(_, f, _)| sample(f).len()).collect();
    expected.sort_unstable();
    assert_eq!(sizes, expected, "whole images, read from S3");
}

/// "16 MB" is read as decimal megabytes, the smaller reading: an image of 16.5 MB (under
/// 16 MiB) is prepared for AutoAlt, not sent over the limit and refused.
#[tokio::test]
async fn an_image_over_a_limit_in_decimal_megabytes_is_prepared() {
    let stack = Stack::new("autoalt-mb").await;
    let mut bytes = sample("coffee.jpg");
    bytes.resize(16_500_000, 0);
    stack.put("big.jpg", bytes, "image/jpeg", &[]).await;
    let fake = FakeService::start(Wire::AutoAlt, Some(KEY), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "autoalt"),
        ("AUTOALT_API_KEY", KEY),
        ("AUTOALT_API_URL", &fake.url),
    ]));
    let handled = handler
        .handle(&stack.event(&[("big.jpg", None)]), far_deadline())
        .await
        .unwrap();
    assert_eq!(handled.summary.captioned, 1, "{:?}", handled.summary);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].image.len() < 16_000_000,
        "{}",
        calls[0].image.len()
    );
}

#[tokio::test]
async fn autoalt_errors_end_as_documented() {
    let stack = Stack::new("autoalt-errors").await;
    upload_images(&stack).await;
    let one = |key: &str| stack.event(&[(key, None)]);

    // 403 for a rate limit is retried, and the retry captions.
    let fake = FakeService::start(
        Wire::AutoAlt,
        Some(KEY),
        vec![
            Reply::Error(
                403,
                json!({"error": "Rate limit exceeded. Try again later."}),
                Some(1),
            ),
            Reply::Caption("A tabby cat.".into()),
            Reply::Error(403, json!({"error": "Insufficient credits"}), None),
            Reply::Error(500, json!({"error": "Model error"}), None),
            Reply::Error(500, json!({"error": "Model error"}), None),
            Reply::Error(500, json!({"error": "Model error"}), None),
            Reply::Error(500, json!({"error": "Model error"}), None),
        ],
    )
    .await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "autoalt"),
        ("AUTOALT_API_KEY", KEY),
        ("AUTOALT_API_URL", &fake.url),
        ("ALT_TEXT_PAUSE_SECS", "0"),
    ]));
    handler
        .handle(&one("shop/cat.jpg"), far_deadline())
        .await
        .unwrap();
    assert_eq!(fake.calls().len(), 2);
    assert_eq!(
        stack
            .record("shop/cat.jpg")
            .await
            .unwrap()
            .alt_text
            .as_deref(),
        Some("A tabby cat.")
    );

    // 403 for credits: a failed record, retried once the account is topped up (pauses are
    // off here: `spend.rs` tests them), the user's tags intact.
    handler
        .handle(&one("shop/coffee.jpg"), far_deadline())
        .await
        .unwrap_err();
    assert_eq!(fake.calls().len(), 3);
    let record = stack.record("shop/coffee.jpg").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert!(record.error.unwrap().contains("out of credits"));
    assert_eq!(
        stack.tags("shop/coffee.jpg").await,
        vec![("owner".into(), "shop".into())]
    );

    // 500 is a model error that may have been billed: sent once, then reported retryable.
    let result = handler
        .handle(&one("shop/astronaut.png"), far_deadline())
        .await;
    assert!(
        result.is_err(),
        "a retryable failure is returned to Lambda for its retry"
    );
    assert_eq!(fake.calls().len(), 4, "one request in this delivery");
    let record = stack.record("shop/astronaut.png").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );

    // A wrong key: 401, retried once the key is fixed.
    let wrong = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "autoalt"),
        ("AUTOALT_API_KEY", "not-the-key"),
        ("AUTOALT_API_URL", &fake.url),
        ("ALT_TEXT_PAUSE_SECS", "0"),
    ]));
    wrong
        .handle(&one("shop/rocket.webp"), far_deadline())
        .await
        .unwrap_err();
    let record = stack.record("shop/rocket.webp").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert!(record.error.unwrap().contains("401"));
}

#[tokio::test]
async fn alttextai_captions_two_languages_in_one_call_from_the_presigned_url() {
    let stack = Stack::new("alttextai").await;
    upload_images(&stack).await;
    let fake = FakeService::start(Wire::AltTextAi, Some(KEY), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "alttextai"),
        ("ALT_TEXT_API_KEY", KEY),
        ("ALT_TEXT_API_URL", &fake.url),
        ("ALT_TEXT_LANGS", "en,de"),
        ("ALT_TEXT_KEYWORDS", "space, coffee"),
        ("ALT_TEXT_MAX_CHARS", "120"),
    ]));
    let records = caption_all(&stack, &handler).await;
    let received = fake.calls();
    assert_eq!(received.len(), 4, "one call per image for both languages");
    for r in &received {
        assert_eq!(r.langs, ["en", "de"]);
        assert_eq!(r.image_via, "url", "the service fetched the presigned URL");
        assert_eq!(r.body["keywords"], json!(["space", "coffee"]));
        assert_eq!(r.body["max_chars"], 120);
    }
    for ((key, file, _), record) in IMAGES.iter().zip(&records) {
        let bytes = sample(file);
        assert_eq!(record.captions.len(), 2, "{key}");
        assert_eq!(record.captions["de"].text, describe(&bytes, "de"));
        assert_eq!(record.captions["de"].provider, "alttextai");
        let mut tags = stack.tags(key).await;
        tags.sort();
        assert_eq!(
            tags,
            vec![
                ("alt-text".to_string(), describe(&bytes, "en")),
                ("alt-text-de".to_string(), describe(&bytes, "de")),
                ("owner".to_string(), "shop".to_string()),
            ]
        );
    }
}

#[tokio::test]
async fn alttextai_out_of_credits_passes_to_the_next_provider() {
    let stack = Stack::new("alttextai-credits").await;
    upload_images(&stack).await;
    let alttextai = FakeService::start(
        Wire::AltTextAi,
        Some(KEY),
        vec![Reply::Error(
            422,
            json!({"errors": {"base": ["Insufficient credits"]}}),
            None,
        )],
    )
    .await;
    let openai = FakeService::start(Wire::OpenAi, Some("sk-test"), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "alttextai,openai"),
        ("ALTTEXTAI_API_KEY", KEY),
        ("ALTTEXTAI_API_URL", &alttextai.url),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_API_URL", &openai.url),
    ]));
    let summary = handler
        .handle(&stack.event(&[("shop/coffee.jpg", None)]), far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(summary.captioned, 1);
    let record = stack.record("shop/coffee.jpg").await.unwrap();
    assert_eq!(record.provider.as_deref(), Some("openai"));
    assert_eq!((alttextai.calls().len(), openai.calls().len()), (1, 1));
}

#[tokio::test]
async fn openai_compatible_servers_take_a_url_or_a_data_url() {
    let stack = Stack::new("openai").await;
    upload_images(&stack).await;
    // OpenAI itself: a key, and the presigned URL.
    let fake = FakeService::start(Wire::OpenAi, Some("sk-test"), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "openai"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_API_URL", &fake.url),
        ("OPENAI_MODEL", "gpt-4o-mini"),
    ]));
    let records = caption_all(&stack, &handler).await;
    assert_described(&stack, &records, "openai").await;
    for r in fake.calls() {
        assert_eq!(r.authorization.as_deref(), Some("Bearer sk-test"));
        assert_eq!(
            (r.image_via, r.body["model"].as_str()),
            ("url", Some("gpt-4o-mini"))
        );
    }

    // A local server (Ollama): no key, the image as a data URL, base given with /v1.
    let stack = Stack::new("ollama").await;
    upload_images(&stack).await;
    let local = FakeService::start(Wire::OpenAi, None, vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "openai"),
        ("OPENAI_API_URL", &format!("{}/v1", local.url)),
        ("OPENAI_MODEL", "llava"),
        ("OPENAI_IMAGE_INPUT", "data"),
    ]));
    let records = caption_all(&stack, &handler).await;
    assert_described(&stack, &records, "openai").await;
    for r in local.calls() {
        assert_eq!(r.authorization, None);
        assert_eq!(r.image_via, "data-url");
    }
}

#[tokio::test]
async fn a_cut_off_caption_is_not_taken() {
    let stack = Stack::new("openai-cut").await;
    upload_images(&stack).await;
    let fake = FakeService::start(Wire::OpenAi, None, vec![Reply::CutOff]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "openai"),
        ("OPENAI_API_URL", &fake.url),
    ]));
    handler
        .handle(&stack.event(&[("shop/coffee.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let record = stack.record("shop/coffee.jpg").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(false))
    );
    assert!(record.error.unwrap().contains("cut off"));
    assert_eq!(stack.tags("shop/coffee.jpg").await.len(), 1);
}

#[tokio::test]
async fn bedrock_captions_the_samples_through_the_sdk() {
    let stack = Stack::new("bedrock").await;
    upload_images(&stack).await;
    let fake = FakeService::start(
        Wire::Bedrock,
        Some(ACCESS_KEY),
        vec![Reply::Error(
            429,
            json!({"__type": "ThrottlingException", "message": "Too many requests, please wait before trying again."}),
            None,
        )],
    )
    .await;
    let config = stack.config(&[
        ("ALT_TEXT_PROVIDER", "bedrock"),
        ("BEDROCK_MODEL_ID", "amazon.nova-lite-v1:0"),
    ]);
    let handler = stack.handler_with(&config, bedrock_services(&fake).await);
    let records = caption_all(&stack, &handler).await;
    assert_described(&stack, &records, "bedrock").await;
    let received = fake.calls();
    assert_eq!(received.len(), 5, "four images and one throttled attempt");
    for r in &received {
        assert_eq!(r.path, "/model/amazon.nova-lite-v1%3A0/converse");
        assert!(
            r.authorization
                .as_deref()
                .unwrap()
                .contains("/bedrock/aws4_request")
        );
    }
}

#[tokio::test]
async fn bedrock_is_sent_images_over_its_limit_prepared_and_reports_access_errors() {
    let stack = Stack::new("bedrock-limits").await;
    // A PNG of 4 MB (the sample, padded): over Bedrock's 3.75 MB, so it is re-encoded.
    let mut big = sample("astronaut.png");
    big.resize(4 * 1024 * 1024, 0);
    stack.put("big.png", big, "image/png", &[]).await;
    stack
        .put("coffee.jpg", sample("coffee.jpg"), "image/jpeg", &[])
        .await;
    let fake = FakeService::start(
        Wire::Bedrock,
        Some(ACCESS_KEY),
        vec![Reply::Error(
            403,
            json!({"__type": "AccessDeniedException", "message": "You don't have access to the model with the specified model ID."}),
            None,
        )],
    )
    .await;
    let config = stack.config(&[("ALT_TEXT_PROVIDER", "bedrock")]);
    let handler = stack.handler_with(&config, bedrock_services(&fake).await);
    for key in ["coffee.jpg", "big.png"] {
        handler
            .handle(&stack.event(&[(key, None)]), far_deadline())
            .await
            .unwrap();
    }
    let coffee = stack.record("coffee.jpg").await.unwrap();
    assert_eq!(
        (coffee.state, coffee.retryable),
        (State::Failed, Some(false))
    );
    assert!(coffee.error.unwrap().contains("enable the model"));
    let big = stack.record("big.png").await.unwrap();
    assert_eq!(big.state, State::Captioned, "{big:?}");
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls[1].image_len < 1 << 20, "{}", calls[1].image_len);
}

#[tokio::test]
async fn a_two_language_chain_leaves_two_tags_and_a_two_entry_record() {
    let stack = Stack::new("two-langs").await;
    upload_images(&stack).await;
    let fake = FakeService::start(Wire::Bedrock, Some(ACCESS_KEY), vec![]).await;
    let config = stack.config(&[
        ("ALT_TEXT_PROVIDER", "embedded,bedrock"),
        ("ALT_TEXT_LANGS", "en,de"),
    ]);
    let handler = stack.handler_with(&config, bedrock_services(&fake).await);
    handler
        .handle(&stack.event(&[("shop/cat.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let record = stack.record("shop/cat.jpg").await.unwrap();
    assert_eq!(record.captions.len(), 2);
    assert_eq!(record.captions["en"].provider, "embedded");
    assert_eq!(record.captions["de"].provider, "bedrock");
    let mut tags = stack.tags("shop/cat.jpg").await;
    tags.sort();
    assert_eq!(
        tags,
        vec![
            (
                "alt-text".to_string(),
                "Close-up of a brown tabby cats face with green eyes and a pink nose.".to_string()
            ),
            (
                "alt-text-de".to_string(),
                describe(&sample("cat.jpg"), "de")
            ),
            ("owner".to_string(), "shop".to_string()),
        ]
    );
    assert_eq!(fake.calls().len(), 1, "English came free from the image");
    assert_eq!(fake.calls()[0].langs, ["de"]);
}

#[tokio::test]
async fn a_provider_that_hangs_after_accepting_is_sent_one_request_per_delivery() {
    let stack = Stack::new("hangs").await;
    stack
        .put(
            "cup.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "shop")],
        )
        .await;
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Hang, Reply::Hang, Reply::Hang],
    )
    .await;
    let handler =
        stack.handler(&stack.alttextlab_config(&fake.url, &[("ALTTEXTLAB_TIMEOUT_SECS", "5")]));
    let event = stack.event(&[("cup.jpg", None)]);
    // The first delivery: one request, which may have been billed; retryable.
    let first = handler.handle(&event, far_deadline()).await;
    assert!(first.is_err(), "retryable, for Lambda's retry");
    assert_eq!(fake.calls().len(), 1, "one request in a delivery");
    let record = stack.record("cup.jpg").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].provider, "alttextlab");
    let usage = handler.take_usage();
    assert_eq!(
        (usage.provider_calls, usage.provider_attempts_unknown),
        (1, 1),
        "ProviderCalls counts the request sent, ProviderAttemptsUnknown its lost answer"
    );
    // Lambda's retry: one more, the last (ALT_TEXT_MAX_ATTEMPTS is 2): failed for good.
    let second = handler.handle(&event, far_deadline()).await.unwrap();
    assert_eq!(second.summary.objects[0].outcome, OutcomeKind::Failed);
    assert_eq!(fake.calls().len(), 2);
    let record = stack.record("cup.jpg").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(false))
    );
    assert_eq!(record.attempts.len(), 2);
    // Any later delivery or replay sends nothing.
    handler.handle(&event, far_deadline()).await.unwrap();
    assert_eq!(fake.calls().len(), 2, "no request after the limit");
    assert!(
        stack
            .record("cup.jpg")
            .await
            .unwrap()
            .error
            .unwrap()
            .contains("gave up"),
        "the record says why"
    );
    assert_eq!(
        stack.tags("cup.jpg").await,
        vec![("owner".into(), "shop".into())]
    );
}

#[tokio::test]
async fn a_redirect_is_refused_and_the_key_goes_nowhere_else() {
    let stack = Stack::new("redirect").await;
    stack
        .put("cup.jpg", sample("coffee.jpg"), "image/jpeg", &[])
        .await;
    // Another host, which would collect whatever a redirect brought it.
    let collected: Arc<Mutex<Vec<HttpRequest>>> = Arc::default();
    let c = Arc::clone(&collected);
    let collector = http::serve(move |req: HttpRequest| {
        let c = Arc::clone(&c);
        async move {
            c.lock().unwrap().push(req);
            Some(HttpResponse::json(
                200,
                json!({"id": "x", "result": "stolen"}),
            ))
        }
    })
    .await;
    let to = format!("http://localhost:{}/collect", collector.port());
    let redirecting = http::serve(move |_req: HttpRequest| {
        let to = to.clone();
        async move {
            Some(HttpResponse {
                status: 307,
                headers: vec![("Location".into(), to)],
                body: Vec::new(),
            })
        }
    })
    .await;
    let url = format!("http://{redirecting}");
    let handler = stack.handler(&stack.alttextlab_config(&url, &[]));
    let handled = handler
        .handle(&stack.event(&[("cup.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let object = &handled.summary.objects[0];
    assert_eq!(object.outcome, OutcomeKind::Failed);
    assert!(!object.retryable, "a redirect is permanent");
    let error = stack.record("cup.jpg").await.unwrap().error.unwrap();
    assert!(error.contains("redirecting to localhost"), "{error}");
    assert!(
        collected.lock().unwrap().is_empty(),
        "nothing reached the other host"
    );
}
