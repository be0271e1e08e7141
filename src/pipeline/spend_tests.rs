//! Unit tests of the spend step: pauses shared through the record store, the budget taken
//! before each paid call and given back when a call was never billed.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::caption::State;
use crate::event::{Action, ObjectEvent};
use crate::provider::scripted::{ScriptedProvider, caption};
use crate::provider::{Caption, ProviderError};
use crate::retry::Retryable;
use crate::store::Ledger;
use crate::store::memory::{MemoryRecords, MemoryStore};

const BUCKET: &str = "photos";

fn coffee() -> Vec<u8> {
    std::fs::read(format!("{}/samples/coffee.jpg", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn event(key: &str) -> ObjectEvent {
    ObjectEvent {
        action: Action::Created,
        bucket: BUCKET.into(),
        key: key.into(),
        version_id: None,
        etag: None,
        size: None,
        sequencer: None,
        event_name: "ObjectCreated:Put".into(),
    }
}

type Answers = Vec<Result<Caption, ProviderError>>;

/// Two scripted paid providers, `first` then `second`, over the same stores.
fn pipeline(
    first: &Arc<ScriptedProvider>,
    second: &Arc<ScriptedProvider>,
    spend: SpendSettings,
) -> Pipeline<MemoryStore, MemoryRecords> {
    let providers: Vec<Box<dyn Provider>> =
        vec![Box::new(Arc::clone(first)), Box::new(Arc::clone(second))];
    let settings = Settings {
        spend,
        ..test_settings()
    };
    Pipeline::new(
        MemoryStore::default(),
        MemoryRecords::default(),
        providers,
        settings,
    )
}

fn scripted(name: &'static str, answers: Answers) -> Arc<ScriptedProvider> {
    Arc::new(ScriptedProvider::new(name, answers))
}

async fn run(p: &Pipeline<MemoryStore, MemoryRecords>, key: &str) -> Outcome {
    p.store().put(BUCKET, key, &coffee(), None, vec![]);
    p.process(&event(key), Deadlines::within(Duration::from_secs(60)))
        .await
}

fn budget(raw: &str, over_budget: OverBudget) -> SpendSettings {
    SpendSettings {
        budget: Some(Budget::parse(raw).unwrap()),
        over_budget,
        ..SpendSettings::default()
    }
}

#[tokio::test]
async fn out_of_credits_pauses_the_provider_and_the_next_one_captions() {
    let first = scripted(
        "first",
        vec![Err(ProviderError::OutOfCredits("no credits".into()))],
    );
    let second = scripted(
        "second",
        vec![Ok(caption("A cup.")), Ok(caption("Another cup."))],
    );
    let p = pipeline(&first, &second, SpendSettings::default());
    assert!(
        matches!(run(&p, "a.jpg").await, Outcome::Captioned { provider, .. } if provider == "second")
    );
    assert!(
        matches!(run(&p, "b.jpg").await, Outcome::Captioned { provider, .. } if provider == "second")
    );
    assert_eq!(first.calls(), 1, "no request while the pause lasts");
    let pauses = p.records().pauses(crate::time::epoch_now()).await.unwrap();
    assert_eq!(pauses.len(), 1);
    assert_eq!(pauses[0].provider, "first");
    assert_eq!(pauses[0].reason, "out of credits");
    assert_eq!(p.usage().take().providers_paused, 1);
}

#[tokio::test]
async fn with_no_provider_left_a_paused_object_ends_retryable() {
    let only = scripted(
        "only",
        vec![Err(ProviderError::KeyRejected("key refused".into()))],
    );
    let free = scripted("free", vec![]);
    let p = pipeline(&only, &free, SpendSettings::default());
    // The second provider is out of the picture: it declines everything.
    free.answers
        .lock()
        .unwrap()
        .extend((0..2).map(|_| Err(ProviderError::Declined("not this one".into()))));
    let first = run(&p, "a.jpg").await;
    assert!(first.is_retryable(), "{first:?}");
    let second = run(&p, "b.jpg").await;
    let Outcome::Failed { error, retryable } = &second else {
        panic!("{second:?}")
    };
    assert!(retryable);
    assert!(
        error.contains("only: paused: its API key was refused until "),
        "{error}"
    );
    assert_eq!(only.calls(), 1);
    let record = p.records().record(BUCKET, "b.jpg").unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
}

#[tokio::test]
async fn a_pause_of_zero_seconds_pauses_nothing() {
    let first = scripted(
        "first",
        vec![
            Err(ProviderError::OutOfCredits("no credits".into())),
            Err(ProviderError::OutOfCredits("no credits".into())),
        ],
    );
    let second = scripted("second", vec![Ok(caption("A.")), Ok(caption("B."))]);
    let spend = SpendSettings {
        pause: Duration::ZERO,
        ..SpendSettings::default()
    };
    let p = pipeline(&first, &second, spend);
    run(&p, "a.jpg").await;
    run(&p, "b.jpg").await;
    assert_eq!(first.calls(), 2);
}

#[tokio::test]
async fn a_budget_of_n_allows_n_paid_calls_then_holds_the_rest() {
    let first = scripted(
        "first",
        (0..5).map(|i| Ok(caption(&format!("Cup {i}.")))).collect(),
    );
    let second = scripted("second", vec![]);
    let p = pipeline(&first, &second, budget("3/day", OverBudget::Retry));
    let mut outcomes = Vec::new();
    for i in 0..5 {
        outcomes.push(run(&p, &format!("{i}.jpg")).await);
    }
    assert_eq!(first.calls(), 3);
    assert_eq!(second.calls(), 0, "the budget holds every paid provider");
    assert!(
        outcomes[..3]
            .iter()
            .all(|o| matches!(o, Outcome::Captioned { .. }))
    );
    for o in &outcomes[3..] {
        let Outcome::Failed { error, retryable } = o else {
            panic!("{o:?}")
        };
        assert!(retryable);
        assert!(error.contains("budget reached until "), "{error}");
        assert!(error.contains("(ALT_TEXT_BUDGET 3/day)"), "{error}");
    }
    assert_eq!(p.usage().take().budget_left, Some(0));
}

#[tokio::test]
async fn over_budget_objects_may_be_skipped_instead() {
    let first = scripted("first", vec![Ok(caption("Cup."))]);
    let second = scripted("second", vec![]);
    let p = pipeline(&first, &second, budget("1/month", OverBudget::Skip));
    run(&p, "0.jpg").await;
    let outcome = run(&p, "1.jpg").await;
    assert!(
        matches!(&outcome, Outcome::Skipped { reason } if reason.contains("budget reached until ")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_call_never_billed_is_given_back_to_the_budget() {
    let first = scripted(
        "first",
        vec![
            Err(ProviderError::transient("429")),
            Ok(caption("Cup.")),
            Err(ProviderError::Uncertain("timed out".into())),
        ],
    );
    let second = scripted("second", vec![]);
    let p = pipeline(&first, &second, budget("10/day", OverBudget::Retry));
    let period = Budget::parse("10/day")
        .unwrap()
        .period(crate::time::epoch_now());
    run(&p, "a.jpg").await;
    assert_eq!(
        p.records().used(&period).await.unwrap(),
        0,
        "a 429 is not billed"
    );
    run(&p, "a.jpg").await;
    assert_eq!(p.records().used(&period).await.unwrap(), 1);
    run(&p, "b.jpg").await;
    assert_eq!(
        p.records().used(&period).await.unwrap(),
        2,
        "a call that may have been billed stays counted"
    );
}

#[tokio::test]
async fn a_plan_counts_each_paid_provider_for_the_languages_it_is_asked() {
    let first = Arc::new(ScriptedProvider::new("first", vec![]).writing(&["en"]));
    let second = scripted("second", vec![]);
    let mut p = pipeline(&first, &second, SpendSettings::default());
    p.settings.langs = vec!["en".into(), "de".into(), "fr".into()];
    p.store().put(BUCKET, "a.jpg", &coffee(), None, vec![]);
    let plan = p.plan(&event("a.jpg")).await.unwrap();
    assert_eq!(
        plan,
        Plan::Paid {
            provider: "first".into(),
            calls: 3,
            by_provider: vec![("first".into(), 1), ("second".into(), 2)],
        }
    );
}

#[tokio::test]
async fn a_call_that_sent_nothing_is_given_back_whatever_its_error() {
    let first = Arc::new(
        ScriptedProvider::new(
            "first",
            vec![Err(ProviderError::Permanent("presign failed".into()))],
        )
        .sending_nothing(),
    );
    let second = scripted("second", vec![Ok(caption("Cup."))]);
    let p = pipeline(&first, &second, budget("10/day", OverBudget::Retry));
    let period = Budget::parse("10/day")
        .unwrap()
        .period(crate::time::epoch_now());
    run(&p, "a.jpg").await;
    assert_eq!(
        p.records().used(&period).await.unwrap(),
        1,
        "only the second provider's call, which went out"
    );
}
