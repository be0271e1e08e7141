//! Per-image context from the object's metadata, on the local stack: each service's fake
//! receives it in its own wire field (AutoAlt has none), the language models as quoted data
//! in the prompt; and an image marked decorative gets an empty tag without any call.

use aws_sdk_s3::primitives::ByteStream;
use s3_alt_text::report::OutcomeKind;
use serde_json::Value;

use crate::providers::bedrock_services;
use crate::support::services::{FakeService, Wire};
use crate::support::{ACCESS_KEY, API_KEY, Stack, far_deadline, sample};

/// "Tasse à café" as an SDK sends non-ASCII metadata (RFC 2047).
const PRODUCT_ENCODED: &str = "=?UTF-8?B?VGFzc2Ugw6AgY2Fmw6k=?=";

/// Uploads `key` with the owner's context in its metadata.
async fn put_with_context(stack: &Stack, key: &str, extra: &[(&str, &str)]) {
    let mut put = stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(key)
        .content_type("image/jpeg")
        .body(ByteStream::from(sample("coffee.jpg")))
        .metadata("alt-context", "Product page of the summer espresso cup")
        .metadata("alt-keywords", "espresso, ceramic")
        .metadata("alt-product", PRODUCT_ENCODED)
        .metadata("alt-brand", "Acme Co.");
    for (name, value) in extra {
        put = put.metadata(*name, *value);
    }
    put.send().await.expect("put object");
}

/// The one request the fake received.
fn only_body(fake: &FakeService) -> Value {
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls[0].body.clone()
}

#[tokio::test]
async fn alttextlab_gets_context_keywords_and_product_fields() {
    let stack = Stack::new("ctx-lab").await;
    put_with_context(&stack, "cup.jpg", &[]).await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.alttextlab_config(
        &fake.url,
        &[
            ("ALT_TEXT_KEYWORDS", "coffee"),
            ("ALTTEXTLAB_ECOMMERCE", r#"{"color": "red"}"#),
        ],
    ));
    let handled = handler
        .handle(&stack.event(&[("cup.jpg", None)]), far_deadline())
        .await
        .unwrap();
    assert_eq!(handled.summary.objects[0].outcome, OutcomeKind::Captioned);
    let body = only_body(&fake);
    assert_eq!(body["context"], "Product page of the summer espresso cup");
    assert_eq!(
        body["keywords"],
        serde_json::json!(["coffee", "espresso", "ceramic"])
    );
    assert_eq!(
        body["ecommerce"],
        serde_json::json!({"color": "red", "product": "Tasse à café", "brand": "Acme Co."})
    );
}

#[tokio::test]
async fn alttextai_gets_keywords_and_ecomm() {
    let stack = Stack::new("ctx-ai").await;
    put_with_context(&stack, "cup.jpg", &[]).await;
    let fake = FakeService::start(Wire::AltTextAi, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "alttextai"),
        ("ALT_TEXT_API_KEY", API_KEY),
        ("ALT_TEXT_API_URL", &fake.url),
    ]));
    handler
        .handle(&stack.event(&[("cup.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let body = only_body(&fake);
    assert_eq!(body["keywords"], serde_json::json!(["espresso", "ceramic"]));
    assert_eq!(
        body["ecomm"],
        serde_json::json!({"product": "Tasse à café", "brand": "Acme Co."})
    );
    assert_eq!(stack.tags("cup.jpg").await.len(), 1);
}

/// AltText.ai refuses an `ecomm` without its `product` (422), and more than 6 keywords: a
/// brand alone goes among the keywords, and the keywords stop at 6.
#[tokio::test]
async fn alttextai_gets_a_brand_without_a_product_as_a_keyword_and_six_keywords_at_most() {
    let stack = Stack::new("ctx-ai-brand").await;
    let put = |key: &'static str, keywords: &'static str| {
        stack
            .s3
            .put_object()
            .bucket(&stack.bucket)
            .key(key)
            .content_type("image/jpeg")
            .body(ByteStream::from(sample("coffee.jpg")))
            .metadata("alt-keywords", keywords)
            .metadata("alt-brand", "Acme Co.")
            .send()
    };
    put("brand.jpg", "espresso, ceramic").await.unwrap();
    put("many.jpg", "one, two, three, four, five")
        .await
        .unwrap();
    let fake = FakeService::start(Wire::AltTextAi, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "alttextai"),
        ("ALT_TEXT_API_KEY", API_KEY),
        ("ALT_TEXT_API_URL", &fake.url),
        ("ALT_TEXT_KEYWORDS", "coffee, cup"),
    ]));
    let event = stack.event(&[("brand.jpg", None), ("many.jpg", None)]);
    let handled = handler.handle(&event, far_deadline()).await.unwrap();
    assert_eq!(handled.summary.captioned, 2, "{:?}", handled.summary);
    let mut bodies: Vec<Value> = fake.calls().into_iter().map(|c| c.body).collect();
    bodies.sort_by_key(|b| b["keywords"].as_array().map(Vec::len));
    assert_eq!(
        bodies[0]["keywords"],
        serde_json::json!(["coffee", "cup", "espresso", "ceramic", "Acme Co."])
    );
    assert_eq!(
        bodies[1]["keywords"],
        serde_json::json!(["coffee", "cup", "one", "two", "three", "four"])
    );
    assert!(
        bodies.iter().all(|b| b.get("ecomm").is_none()),
        "{bodies:?}"
    );
}

/// The prompt of a language model's request holds the context as quoted data.
fn assert_prompt_quotes_context(prompt: &str) {
    assert!(prompt.contains("not instructions"), "{prompt}");
    assert!(
        prompt.contains("used for: \"Product page of the summer espresso cup\"")
            && prompt.contains("product: \"Tasse à café\"")
            && prompt.contains("keywords: \"espresso, ceramic\""),
        "{prompt}"
    );
}

#[tokio::test]
async fn openai_and_bedrock_get_the_context_quoted_in_the_prompt() {
    let stack = Stack::new("ctx-llm").await;
    put_with_context(&stack, "cup.jpg", &[]).await;
    let openai = FakeService::start(Wire::OpenAi, Some("sk-test"), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "openai"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_API_URL", &openai.url),
    ]));
    handler
        .handle(&stack.event(&[("cup.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let body = only_body(&openai);
    assert_prompt_quotes_context(body["messages"][0]["content"][0]["text"].as_str().unwrap());

    put_with_context(&stack, "cup2.jpg", &[]).await;
    let bedrock = FakeService::start(Wire::Bedrock, Some(ACCESS_KEY), vec![]).await;
    let config = stack.config(&[("ALT_TEXT_PROVIDER", "bedrock")]);
    let handler = stack.handler_with(&config, bedrock_services(&bedrock).await);
    handler
        .handle(&stack.event(&[("cup2.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let body = only_body(&bedrock);
    let texts: Vec<&str> = body["messages"][0]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect();
    assert_eq!(texts.len(), 1, "{body}");
    assert_prompt_quotes_context(texts[0]);
}

#[tokio::test]
async fn autoalt_has_no_field_for_context_and_is_sent_the_image_alone() {
    let stack = Stack::new("ctx-auto").await;
    put_with_context(&stack, "cup.jpg", &[]).await;
    let fake = FakeService::start(Wire::AutoAlt, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "autoalt"),
        ("ALT_TEXT_API_KEY", API_KEY),
        ("ALT_TEXT_API_URL", &fake.url),
    ]));
    handler
        .handle(&stack.event(&[("cup.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let body = only_body(&fake);
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(fields, ["image", "language"]);
}

#[tokio::test]
async fn a_decorative_image_gets_an_empty_tag_and_no_call() {
    let stack = Stack::new("decorative").await;
    put_with_context(&stack, "border.jpg", &[("alt-decorative", "true")]).await;
    let owner = [("owner".to_string(), "shop".to_string())];
    stack.put_tags("border.jpg", &owner).await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.alttextlab_config(&fake.url, &[]));
    let event = stack.event(&[("border.jpg", None)]);
    let handled = handler.handle(&event, far_deadline()).await.unwrap();
    let object = &handled.summary.objects[0];
    assert_eq!(
        (object.outcome, object.provider.as_deref()),
        (OutcomeKind::Captioned, Some("decorative"))
    );
    assert!(fake.calls().is_empty(), "no service asked");
    let mut tags = stack.tags("border.jpg").await;
    tags.sort();
    assert_eq!(
        tags,
        [
            ("alt-text".into(), String::new()),
            ("owner".into(), "shop".into())
        ],
        "the user's tag kept beside the empty caption"
    );
    let record = stack.record("border.jpg").await.unwrap();
    assert_eq!(
        (record.provider.as_deref(), record.alt_text.as_deref()),
        (Some("decorative"), Some(""))
    );
    // Delivered again: unchanged, and still no call.
    let again = handler.handle(&event, far_deadline()).await.unwrap();
    assert_eq!(again.summary.objects[0].outcome, OutcomeKind::Unchanged);
    assert!(fake.calls().is_empty());
}
