//! Backfill: captions the objects already in a bucket, as their upload events would have,
//! with bounded concurrency; or, as a dry run, counts what that would cost.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;

use crate::event::{Action, ObjectEvent};
use crate::pipeline::{Outcome, Pipeline, Plan};
use crate::store::{Listed, ObjectStore, RecordStore, StoreError};
use crate::time::Deadlines;

/// Time one object may take, as a Lambda timeout would bound it.
const OBJECT_TIMEOUT: Duration = Duration::from_secs(120);

/// What to backfill.
#[derive(Debug, Clone)]
pub struct Options {
    pub bucket: String,
    pub prefix: Option<String>,
    pub concurrency: usize,
    /// Call nothing paid and write nothing; count instead.
    pub dry_run: bool,
}

/// What a backfill did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub listed: u64,
    pub captioned: u64,
    /// Already captioned for their current ETag: nothing done.
    pub already_captioned: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Calls to paid providers made.
    pub provider_calls: u64,
    /// Dry run: objects a free provider (embedded alt text) would caption.
    pub free: u64,
    /// Dry run: objects that would need a paid provider.
    pub need_provider: u64,
    /// Dry run: the paid provider calls a real run would make (one per language, except
    /// for providers that caption several languages in one call).
    pub would_call: u64,
    /// Dry run: those calls by the provider that would be asked first.
    pub would_call_by_provider: BTreeMap<String, u64>,
}

/// Where a backfill reports its progress (a progress bar, or log lines).
pub trait Progress: Sync {
    /// `n` more objects were listed.
    fn listed(&self, n: u64);
    /// One object is done.
    fn done(&self, key: &str, outcome: &str);
}

/// Runs the backfill.
pub async fn run<S: ObjectStore, R: RecordStore>(
    pipeline: &Pipeline<S, R>,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, StoreError> {
    let calls_before = pipeline.usage().provider_calls();
    let mut report = Report::default();
    let mut start = None;
    loop {
        let page = pipeline
            .store()
            .list(&options.bucket, options.prefix.as_deref(), start.take())
            .await?;
        report.listed += page.objects.len() as u64;
        progress.listed(page.objects.len() as u64);
        let mut results = futures_util::stream::iter(page.objects)
            .map(|listed| one(pipeline, options, listed))
            .buffer_unordered(options.concurrency.max(1));
        while let Some((key, result)) = results.next().await {
            let label = tally(&mut report, result);
            progress.done(&key, label);
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    report.provider_calls = pipeline
        .usage()
        .provider_calls()
        .saturating_sub(calls_before);
    Ok(report)
}

/// What happened to one object.
enum Done {
    Processed(Outcome),
    Planned(Result<Plan, StoreError>),
}

async fn one<S: ObjectStore, R: RecordStore>(
    pipeline: &Pipeline<S, R>,
    options: &Options,
    listed: Listed,
) -> (String, Done) {
    let event = ObjectEvent {
        action: Action::Created,
        bucket: options.bucket.clone(),
        key: listed.key.clone(),
        version_id: None,
        etag: listed.etag,
        size: Some(listed.size),
        sequencer: None,
        event_name: "backfill".into(),
    };
    let done = if options.dry_run {
        Done::Planned(pipeline.plan(&event).await)
    } else {
        Done::Processed(
            pipeline
                .process(&event, Deadlines::within(OBJECT_TIMEOUT))
                .await,
        )
    };
    (listed.key, done)
}

fn tally(report: &mut Report, done: Done) -> &'static str {
    match done {
        Done::Processed(Outcome::Captioned { .. }) => {
            report.captioned += 1;
            "captioned"
        }
        Done::Processed(Outcome::Unchanged { .. }) | Done::Planned(Ok(Plan::AlreadyCaptioned)) => {
            report.already_captioned += 1;
            "already captioned"
        }
        Done::Processed(Outcome::Skipped { .. } | Outcome::Removed { .. })
        | Done::Planned(Ok(Plan::Skip(_))) => {
            report.skipped += 1;
            "skipped"
        }
        Done::Processed(Outcome::Failed { .. } | Outcome::Busy { .. }) | Done::Planned(Err(_)) => {
            report.failed += 1;
            "failed"
        }
        Done::Planned(Ok(Plan::Free(_))) => {
            report.free += 1;
            "free caption"
        }
        Done::Planned(Ok(Plan::Paid {
            calls, by_provider, ..
        })) => {
            report.need_provider += 1;
            report.would_call += calls;
            for (provider, calls) in by_provider {
                *report.would_call_by_provider.entry(provider).or_default() += calls;
            }
            "needs a provider call"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::Mutex;

    use crate::pipeline::test_settings;
    use crate::provider::Provider;
    use crate::provider::embedded::Embedded;
    use crate::provider::scripted::{ScriptedProvider, caption};
    use crate::store::memory::{MemoryRecords, MemoryStore};

    struct Seen(Mutex<(u64, Vec<String>)>);

    impl Progress for Seen {
        fn listed(&self, n: u64) {
            self.0.lock().unwrap().0 += n;
        }
        fn done(&self, key: &str, outcome: &str) {
            self.0.lock().unwrap().1.push(format!("{key}: {outcome}"));
        }
    }

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[tokio::test]
    async fn backfills_then_finds_nothing_left_and_dry_runs_count_calls() {
        let paid = Arc::new(ScriptedProvider::new(
            "paid",
            vec![Ok(caption("A cup.")), Ok(caption("Another cup."))],
        ));
        let providers: Vec<Box<dyn Provider>> =
            vec![Box::new(Embedded), Box::new(Arc::clone(&paid))];
        let pipeline = Pipeline::new(
            MemoryStore::default(),
            MemoryRecords::default(),
            providers,
            test_settings(),
        );
        for (key, file) in [
            ("p/a.jpg", "coffee.jpg"),
            ("p/b.jpg", "cat.jpg"),
            ("p/c.txt", "notes.txt"),
            ("p/d.jpg", "coffee.jpg"),
            ("q/e.jpg", "coffee.jpg"),
        ] {
            pipeline.store().put("b", key, &sample(file), None, vec![]);
        }
        let options = |dry_run| Options {
            bucket: "b".into(),
            prefix: Some("p/".into()),
            concurrency: 3,
            dry_run,
        };

        let seen = Seen(Mutex::new((0, vec![])));
        let dry = run(&pipeline, &options(true), &seen).await.unwrap();
        assert_eq!(
            (dry.listed, dry.would_call, dry.free, dry.skipped),
            (4, 2, 1, 1)
        );
        assert_eq!((dry.provider_calls, paid.calls()), (0, 0));
        assert_eq!(
            pipeline
                .records()
                .puts
                .load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a dry run writes nothing"
        );
        assert_eq!(seen.0.lock().unwrap().0, 4);

        let first = run(&pipeline, &options(false), &seen).await.unwrap();
        assert_eq!(
            (first.captioned, first.skipped, first.provider_calls),
            (3, 1, 2)
        );
        let second = run(&pipeline, &options(false), &seen).await.unwrap();
        assert_eq!((second.already_captioned, second.provider_calls), (3, 0));
        assert_eq!(paid.calls(), 2);
        assert!(
            pipeline.records().record("b", "q/e.jpg").is_none(),
            "outside the prefix"
        );
        assert_eq!(seen.0.lock().unwrap().1.len(), 12);
    }
}
