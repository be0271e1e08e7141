//! The terminal commands (`src/cli/`) of the binary on the local stack, by which people are
//! in charge of their alt text: `set` locks a caption against every event, replay and backfill, `--clear` lifts
//! the lock; `list` and `export` stream every record; `import` sets captions from a CSV.

use std::process::Output;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use s3_alt_text::caption::{Record, Source, State};
use s3_alt_text::report::OutcomeKind;
use s3_alt_text::store::dynamodb::to_item;

use crate::support::services::{FakeService, Wire};
use crate::support::{API_KEY, Stack, far_deadline, sample, text};

/// Runs `s3-alt-text ARGS` against the stack, AltTextLab being the fake.
fn command(stack: &Stack, fake: &FakeService, args: &[&str]) -> Output {
    stack.command(&fake.url, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caption_set_by_a_person_survives_events_replays_and_backfills() {
    let stack = Stack::new("set").await;
    stack
        .put(
            "shop/mug.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "shop")],
        )
        .await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.alttextlab_config(&fake.url, &[]));
    let event = stack.event(&[("shop/mug.jpg", None)]);
    handler.handle(&event, far_deadline()).await.unwrap();
    assert_eq!(fake.caption_calls().len(), 1);

    let bucket = stack.bucket.clone();
    let set = command(
        &stack,
        &fake,
        &[
            "set",
            "--bucket",
            &bucket,
            "--key",
            "shop/mug.jpg",
            "Our red mug, hand-glazed",
        ],
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert_eq!(
        text(&set.stdout),
        format!("set: s3://{bucket}/shop/mug.jpg\n")
    );
    let record = stack.record("shop/mug.jpg").await.unwrap();
    assert_eq!(record.alt_text.as_deref(), Some("Our red mug, hand-glazed"));
    assert_eq!(record.captions["en"].source, Source::Person);
    assert_eq!(
        stack.tags("shop/mug.jpg").await,
        vec![
            ("alt-text".into(), "Our red mug hand-glazed".into()),
            ("owner".into(), "shop".into()),
        ],
        "the user's tag kept (SeaweedFS lists tags by key)"
    );

    // An event, a replay of it and a backfill: no provider call.
    let outcome = handler.handle(&event, far_deadline()).await.unwrap();
    assert_eq!(outcome.summary.objects[0].outcome, OutcomeKind::Unchanged);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), event.to_string()).unwrap();
    let replay = command(&stack, &fake, &["replay", file.path().to_str().unwrap()]);
    assert!(replay.status.success(), "{}", text(&replay.stderr));
    let backfill = command(&stack, &fake, &["backfill", "--bucket", &bucket]);
    assert!(
        text(&backfill.stdout).contains("provider calls: 0"),
        "{}",
        text(&backfill.stdout)
    );
    assert_eq!(
        fake.caption_calls().len(),
        1,
        "nothing paid for after the person's caption"
    );
    assert_eq!(
        stack
            .record("shop/mug.jpg")
            .await
            .unwrap()
            .alt_text
            .as_deref(),
        Some("Our red mug, hand-glazed")
    );

    // Cleared: the tag goes and the next backfill captions the object again.
    let clear = command(
        &stack,
        &fake,
        &[
            "set",
            "--bucket",
            &bucket,
            "--key",
            "shop/mug.jpg",
            "--clear",
        ],
    );
    assert!(clear.status.success(), "{}", text(&clear.stderr));
    assert_eq!(
        stack.tags("shop/mug.jpg").await,
        vec![("owner".into(), "shop".into())]
    );
    let backfill = command(&stack, &fake, &["backfill", "--bucket", &bucket]);
    assert!(
        text(&backfill.stdout).contains("provider calls: 1"),
        "{}",
        text(&backfill.stdout)
    );
    assert_eq!(fake.caption_calls().len(), 2);
    let record = stack.record("shop/mug.jpg").await.unwrap();
    assert_eq!(record.captions["en"].source, Source::Provider);
    assert_eq!(stack.tags("shop/mug.jpg").await.len(), 2);

    // A key that does not exist, and a language not configured: nothing written.
    let missing = command(
        &stack,
        &fake,
        &["set", "--bucket", &bucket, "--key", "nope.jpg", "A mug"],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("no object nope.jpg"),
        "{}",
        text(&missing.stderr)
    );
    let lang = command(
        &stack,
        &fake,
        &[
            "set",
            "--bucket",
            &bucket,
            "--key",
            "shop/mug.jpg",
            "--lang",
            "de",
            "Ein Becher",
        ],
    );
    assert_eq!(lang.status.code(), Some(2));
    assert!(stack.record("nope.jpg").await.is_none());
}

/// Writes `n` captioned records straight into the table, 25 to a request.
async fn put_records(stack: &Stack, n: usize) {
    let requests: Vec<WriteRequest> = (0..n)
        .map(|i| {
            let mut record = Record::new(
                &stack.bucket,
                &format!("catalog/{i:05}.jpg"),
                State::Captioned,
            );
            record.alt_text = Some(format!("Product photo number {i}, on white"));
            record.provider = Some("alttextlab".into());
            record.lang = Some("en".into());
            let put = PutRequest::builder()
                .set_item(Some(to_item(&record)))
                .build()
                .unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let writes = requests.chunks(25).map(|chunk| {
        stack
            .dynamodb
            .batch_write_item()
            .request_items(&stack.table, chunk.to_vec())
            .send()
    });
    for result in futures_util::future::join_all(writes).await {
        assert!(
            result
                .unwrap()
                .unprocessed_items()
                .is_none_or(|u| u.is_empty())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_records_are_listed_and_exported_page_by_page() {
    let stack = Stack::new("list").await;
    put_records(&stack, 10_000).await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let bucket = stack.bucket.clone();

    let export = command(&stack, &fake, &["export", "--bucket", &bucket]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let mut reader = csv::Reader::from_reader(export.stdout.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "bucket",
            "key",
            "version",
            "etag",
            "lang",
            "alt_text",
            "source",
            "provider",
            "state",
            "updated_at",
            "reviewed_at"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 10_000);
    assert_eq!(&rows[0][1], "catalog/00000.jpg");
    assert_eq!(&rows[9_999][1], "catalog/09999.jpg");
    assert_eq!(&rows[42][5], "Product photo number 42, on white");
    assert!(
        rows.windows(2).all(|w| w[0][1] < w[1][1]),
        "in key order, none twice"
    );

    let json = command(
        &stack,
        &fake,
        &[
            "list",
            "--bucket",
            &bucket,
            "--prefix",
            "catalog/0999",
            "--format",
            "json",
        ],
    );
    let lines: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["key"], "catalog/09990.jpg");
    assert_eq!(lines[0]["state"], "captioned");

    let table = command(
        &stack,
        &fake,
        &[
            "list",
            "--bucket",
            &bucket,
            "--prefix",
            "catalog/0000",
            "--state",
            "failed",
        ],
    );
    assert_eq!(
        text(&table.stdout).lines().count(),
        1,
        "the header alone: {}",
        text(&table.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_sets_the_good_rows_and_reports_the_bad_ones_by_line() {
    let stack = Stack::new("import").await;
    for key in ["a.jpg", "b.jpg", "c.jpg"] {
        stack
            .put(
                key,
                sample("coffee.jpg"),
                "image/jpeg",
                &[("owner", "shop")],
            )
            .await;
    }
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let bucket = stack.bucket.clone();
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut csv = b"key,lang,alt_text\n\
        a.jpg,en,\"A red mug, hand-glazed\"\n\
        b.jpg,,Espresso in a blue cup\n\
        missing.jpg,en,Nothing here\n\
        c.jpg,en,   \n\
        c.jpg,de,Ein Becher\n\
        c.jpg,en\n"
        .to_vec();
    csv.extend_from_slice(b"c.jpg,en,caf\xe9\n");
    std::fs::write(file.path(), csv).unwrap();
    let path = file.path().to_str().unwrap();

    let dry = command(
        &stack,
        &fake,
        &["import", "--bucket", &bucket, path, "--dry-run"],
    );
    assert_eq!(
        text(&dry.stdout),
        "would set 2, unchanged 1, skipped 4\n",
        "{}",
        text(&dry.stderr)
    );
    assert!(
        stack.record("a.jpg").await.is_none(),
        "a dry run writes nothing"
    );

    let run = command(&stack, &fake, &["import", "--bucket", &bucket, path]);
    let (out, err) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(1), "{out}{err}");
    assert_eq!(out, "set 2, unchanged 1, skipped 4\n", "{err}");
    // An empty caption where the record has none is no error: an export of a skipped
    // image comes back that way.
    assert!(!err.contains("line 5:"), "{err}");
    for expected in [
        "line 4: missing.jpg: no object missing.jpg",
        "line 6: c.jpg: \"de\" is not one of the caption languages",
        "line 7: 2 columns where the header has 3",
        "line 8: the alt_text is not valid UTF-8",
    ] {
        assert!(err.contains(expected), "{expected:?} in {err}");
    }
    assert_eq!(
        stack.tags("a.jpg").await,
        vec![
            ("alt-text".into(), "A red mug hand-glazed".into()),
            ("owner".into(), "shop".into())
        ]
    );
    let b = stack.record("b.jpg").await.unwrap();
    assert_eq!(
        (b.captions["en"].source, b.alt_text.as_deref()),
        (Source::Person, Some("Espresso in a blue cup"))
    );
    assert!(
        stack.record("c.jpg").await.is_none(),
        "no bad row is half-written"
    );
    assert!(fake.caption_calls().is_empty());

    let again = command(&stack, &fake, &["import", "--bucket", &bucket, path]);
    assert_eq!(text(&again.stdout), "set 0, unchanged 3, skipped 4\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_of_several_languages_of_one_image_keeps_every_one() {
    let stack = Stack::new("import-langs").await;
    let keys: Vec<String> = (0..4).map(|i| format!("mug-{i}.jpg")).collect();
    let mut csv = String::from("key,lang,alt_text\n");
    for lang in ["en", "de", "fr"] {
        for key in &keys {
            stack
                .put(key, sample("coffee.jpg"), "image/jpeg", &[])
                .await;
            csv.push_str(&format!("{key},{lang},A mug in {lang}\n"));
        }
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), csv).unwrap();
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let run = stack.command_with(
        &fake.url,
        &[("ALT_TEXT_LANGS", "en,de,fr")],
        &[
            "import",
            "--bucket",
            &stack.bucket,
            file.path().to_str().unwrap(),
            "--concurrency",
            "16",
        ],
    );
    assert_eq!(
        text(&run.stdout),
        "set 12, unchanged 0, skipped 0\n",
        "{}",
        text(&run.stderr)
    );
    for key in &keys {
        let record = stack.record(key).await.unwrap();
        let langs: Vec<&str> = record.captions.keys().map(String::as_str).collect();
        assert_eq!(langs, ["de", "en", "fr"], "{key}");
        assert_eq!(stack.tags(key).await.len(), 3, "{key}");
    }
}
