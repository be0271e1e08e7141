//! What is spent, on the local stack: AltText.ai's own dedupe by `asset_id` (a redelivery
//! costs no second credit), both forms of its `alt_texts`, every out-of-credits shape
//! pausing the provider for every container sharing the table, a budget that four racing
//! containers never exceed, and OpenAI reasoning models sent the parameters they take.

use std::time::{Duration, Instant};

use crate::support::services::{FakeService, Reply, Wire, describe};
use crate::support::{Stack, far_deadline, sample};
use s3_alt_text::app::AppHandler;
use s3_alt_text::caption::State;
use serde_json::{Value, json};

const KEY: &str = "svc_live_5e6f708192a3b4c5d6e7";

/// A handler of the chain of `provider` alone, at the fake, with `extra` settings.
fn handler(
    stack: &Stack,
    provider: &str,
    fake: &FakeService,
    extra: &[(&str, &str)],
) -> AppHandler {
    let prefix = provider.to_uppercase();
    let (key, url) = (format!("{prefix}_API_KEY"), format!("{prefix}_API_URL"));
    let mut vars = vec![
        ("ALT_TEXT_PROVIDER", provider),
        (key.as_str(), KEY),
        (url.as_str(), fake.url.as_str()),
    ];
    vars.extend_from_slice(extra);
    stack.handler(&stack.config(&vars))
}

/// Handles one object's event; `true` when it ended in a failure to retry.
async fn deliver(stack: &Stack, handler: &AppHandler, key: &str) -> bool {
    handler
        .handle(&stack.event(&[(key, None)]), far_deadline())
        .await
        .is_err()
}

async fn upload(stack: &Stack, keys: &[&str]) {
    for key in keys {
        stack
            .put(
                key,
                sample("coffee.jpg"),
                "image/jpeg",
                &[("owner", "shop")],
            )
            .await;
    }
}

#[tokio::test]
async fn a_redelivered_alttextai_image_is_not_charged_again() {
    let stack = Stack::new("asset-dedupe").await;
    upload(&stack, &["shop/cup.jpg"]).await;
    // The caption takes longer than the function waits: billed, but the answer is lost.
    let fake = FakeService::start(
        Wire::AltTextAi,
        Some(KEY),
        vec![Reply::Slow(
            Duration::from_secs(7),
            "A cup of coffee.".into(),
        )],
    )
    .await;
    let handler = handler(
        &stack,
        "alttextai",
        &fake,
        &[("ALTTEXTAI_TIMEOUT_SECS", "5")],
    );
    assert!(deliver(&stack, &handler, "shop/cup.jpg").await, "retryable");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fake.account.charged(), 1, "the lost answer was billed");
    // The redelivery asks again, by the same asset_id: AltText.ai answers from its library.
    assert!(!deliver(&stack, &handler, "shop/cup.jpg").await);
    let record = stack.record("shop/cup.jpg").await.unwrap();
    assert_eq!(record.state, State::Captioned);
    assert_eq!(record.alt_text.as_deref(), Some("A cup of coffee."));
    assert_eq!(fake.account.charged(), 1, "no second credit");
    let calls = fake.caption_calls();
    assert_eq!(calls.len(), 2);
    let asset = calls[0].body["image"]["asset_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(asset.len(), 64);
    assert_eq!(calls[1].body["image"]["asset_id"], json!(asset));
    assert_eq!(calls[1].body["overwrite"], json!(false));
    // Other bytes under the same key are another asset, charged.
    stack
        .put("shop/cup.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    assert!(!deliver(&stack, &handler, "shop/cup.jpg").await);
    assert_eq!(fake.account.charged(), 2);
    assert_ne!(
        fake.caption_calls()[2].body["image"]["asset_id"],
        json!(asset)
    );
}

#[tokio::test]
async fn the_list_form_of_alt_texts_is_captioned() {
    let stack = Stack::new("alt-texts-list").await;
    upload(&stack, &["cup.jpg"]).await;
    let fake = FakeService::start(Wire::AltTextAi, Some(KEY), vec![]).await;
    fake.account
        .list_form
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let handler = handler(&stack, "alttextai", &fake, &[("ALT_TEXT_LANGS", "en,de")]);
    assert!(!deliver(&stack, &handler, "cup.jpg").await);
    let record = stack.record("cup.jpg").await.unwrap();
    let image = sample("coffee.jpg");
    assert_eq!(record.state, State::Captioned);
    assert_eq!(record.alt_text, Some(describe(&image, "en")));
    let mut tags = stack.tags("cup.jpg").await;
    tags.sort();
    assert!(
        tags.contains(&("alt-text-de".into(), describe(&image, "de"))),
        "{tags:?}"
    );
    assert_eq!(fake.caption_calls().len(), 1, "both languages in one call");
}

/// Each service's out-of-credits answer, as its fake gives it.
const OUT_OF_CREDITS: [(Wire, &str); 4] = [
    (Wire::AltTextLab, "alttextlab"),
    (Wire::AutoAlt, "autoalt"),
    (Wire::AltTextAi, "alttextai"),
    (Wire::OpenAi, "openai"),
];

#[tokio::test]
async fn each_out_of_credits_shape_pauses_the_provider_for_every_container() {
    for (wire, provider) in OUT_OF_CREDITS {
        let stack = Stack::new("credit-pause").await;
        let keys = ["a.jpg", "b.jpg", "c.jpg"];
        upload(&stack, &keys).await;
        let fake = FakeService::start(wire, Some(KEY), vec![]).await;
        fake.account.set_credits(Some(0));
        let pause = [("ALT_TEXT_PAUSE_SECS", "2")];
        let (one, two) = (
            handler(&stack, provider, &fake, &pause),
            handler(&stack, provider, &fake, &pause),
        );

        // The first container is told the account is out of credits, and pauses it.
        assert!(
            deliver(&stack, &one, "a.jpg").await,
            "{provider}: retryable"
        );
        let record = stack.record("a.jpg").await.unwrap();
        assert_eq!(
            (record.state, record.retryable),
            (State::Failed, Some(true))
        );
        let error = record.error.unwrap();
        assert!(error.contains("out of credits"), "{provider}: {error}");
        assert_eq!(fake.caption_calls().len(), 1, "{provider}");
        assert_eq!(one.take_usage().providers_paused, 1, "{provider}");

        // The second container sends nothing while the pause lasts.
        assert!(deliver(&stack, &two, "b.jpg").await, "{provider}");
        assert!(deliver(&stack, &one, "c.jpg").await, "{provider}");
        assert_eq!(
            fake.caption_calls().len(),
            1,
            "{provider}: no request in the pause"
        );
        let error = stack.record("b.jpg").await.unwrap().error.unwrap();
        assert!(
            error.contains(&format!("{provider}: paused: out of credits until 20")),
            "{provider}: {error}"
        );
        assert_eq!(two.take_usage().providers_paused, 0, "logged once");

        // Topped up and the pause over, the retries caption every object.
        fake.account.set_credits(None);
        let until = Instant::now() + Duration::from_secs(3);
        tokio::time::sleep_until(until.into()).await;
        for (key, handler) in keys.iter().zip([&two, &one, &two]) {
            assert!(!deliver(&stack, handler, key).await, "{provider}: {key}");
            let record = stack.record(key).await.unwrap();
            assert_eq!(record.state, State::Captioned, "{provider}: {key}");
            assert_eq!(
                stack.tags(key).await.len(),
                2,
                "{provider}: {key}: the caption beside the owner's tag"
            );
        }
        assert_eq!(fake.account.charged(), 3, "{provider}");
    }
}

#[tokio::test]
async fn autoalt_403_with_credits_left_is_a_rate_limit() {
    let stack = Stack::new("autoalt-403").await;
    upload(&stack, &["cup.jpg"]).await;
    let fake = FakeService::start(
        Wire::AutoAlt,
        Some(KEY),
        vec![Reply::Error(403, json!({"error": "Forbidden"}), Some(1))],
    )
    .await;
    fake.account.set_credits(Some(5));
    let handler = handler(&stack, "autoalt", &fake, &[]);
    assert!(!deliver(&stack, &handler, "cup.jpg").await);
    assert_eq!(
        stack.record("cup.jpg").await.unwrap().state,
        State::Captioned
    );
    let paths: Vec<String> = fake.calls().iter().map(|c| c.path.clone()).collect();
    assert_eq!(
        paths,
        ["/api/v1/generate", "/api/v1/credits", "/api/v1/generate"],
        "the credits told a rate limit, and the call was sent again"
    );
    assert_eq!(handler.take_usage().providers_paused, 0);
}

/// AutoAlt documents out of credits as 403 "No credits remaining"; a 403 that names neither
/// credits nor a rate limit is told by the credits left: none is out of credits.
#[tokio::test]
async fn autoalt_403_naming_neither_with_no_credits_left_is_out_of_credits() {
    let stack = Stack::new("autoalt-403-none").await;
    upload(&stack, &["cup.jpg"]).await;
    let fake = FakeService::start(
        Wire::AutoAlt,
        Some(KEY),
        vec![Reply::Error(403, json!({"error": "Forbidden"}), None)],
    )
    .await;
    fake.account.set_credits(Some(0));
    let handler = handler(&stack, "autoalt", &fake, &[]);
    assert!(deliver(&stack, &handler, "cup.jpg").await, "retryable");
    let record = stack.record("cup.jpg").await.unwrap();
    assert!(
        record
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("out of credits (403, 0 credits left)"),
        "{record:?}"
    );
    let paths: Vec<String> = fake.calls().iter().map(|c| c.path.clone()).collect();
    assert_eq!(paths, ["/api/v1/generate", "/api/v1/credits"]);
    assert_eq!(handler.take_usage().providers_paused, 1);
}

#[tokio::test]
async fn a_budget_is_never_exceeded_by_four_containers_racing() {
    let stack = Stack::new("budget-race").await;
    let keys: Vec<String> = (0..12).map(|i| format!("race/{i}.jpg")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    upload(&stack, &key_refs).await;
    let fake = FakeService::start(Wire::AltTextLab, Some(KEY), vec![]).await;
    let budget = [("ALT_TEXT_BUDGET", "5/day")];
    let containers: Vec<AppHandler> = (0..4)
        .map(|_| handler(&stack, "alttextlab", &fake, &budget))
        .collect();
    // Each container gets three objects in one event, all at once.
    let runs = containers.iter().zip(key_refs.chunks(3)).map(|(h, chunk)| {
        let event = stack.event(&chunk.iter().map(|k| (*k, None)).collect::<Vec<_>>());
        async move { h.handle(&event, far_deadline()).await }
    });
    futures_util::future::join_all(runs).await;
    assert_eq!(fake.caption_calls().len(), 5, "exactly the budget");
    let mut captioned = 0;
    for key in &keys {
        let record = stack.record(key).await.unwrap();
        match record.state {
            State::Captioned => captioned += 1,
            _ => {
                assert_eq!(record.retryable, Some(true), "{key}");
                let error = record.error.unwrap();
                assert!(error.contains("budget reached until 20"), "{key}: {error}");
            }
        }
    }
    assert_eq!(captioned, 5);
    let left: Vec<Option<u64>> = containers
        .iter()
        .map(|h| h.take_usage().budget_left)
        .collect();
    assert!(left.contains(&Some(0)), "{left:?}");
}

#[tokio::test]
async fn openai_reasoning_models_are_sent_what_they_take() {
    let stack = Stack::new("reasoning").await;
    upload(&stack, &["a.jpg", "b.jpg"]).await;
    let fake = FakeService::start(Wire::OpenAi, Some(KEY), vec![]).await;
    let handler = handler(&stack, "openai", &fake, &[("OPENAI_MODEL", "o4-mini")]);
    assert!(!deliver(&stack, &handler, "a.jpg").await);
    assert_eq!(stack.record("a.jpg").await.unwrap().state, State::Captioned);
    let bodies: Vec<Value> = fake.calls().iter().map(|c| c.body.clone()).collect();
    assert_eq!(
        bodies.len(),
        3,
        "max_tokens refused, then temperature, then captioned"
    );
    assert!(bodies[0].get("max_tokens").is_some());
    assert!(bodies[1].get("max_tokens").is_none());
    assert!(bodies[1]["max_completion_tokens"].as_u64() >= Some(1000));
    assert!(bodies[2].get("temperature").is_none());
    // The container remembers: the next image is one request.
    assert!(!deliver(&stack, &handler, "b.jpg").await);
    assert_eq!(fake.calls().len(), 4);
}
