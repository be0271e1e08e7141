//! A person's edit acts on what they were shown, never on what replaced it: the review
//! page's forms and `import`'s rows carry the image's ETag (and version, and the record's
//! time), and an edit of bytes or a caption changed since is refused. An export imported
//! back with a few cells edited changes only those.

use s3_alt_text::caption::Source;

use crate::support::review::ReviewPage;
use crate::support::services::{FakeService, Wire};
use crate::support::{API_KEY, Stack, far_deadline, sample, text};

const CHANGED: &str = "the image changed since this page was shown: reload";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_page_refuses_an_edit_of_an_image_replaced_since_it_was_shown() {
    let stack = Stack::new("shown").await;
    stack
        .put("hero.jpg", sample("coffee.jpg"), "image/jpeg", &[])
        .await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.alttextlab_config(&fake.url, &[]));
    let event = stack.event(&[("hero.jpg", None)]);
    handler.handle(&event, far_deadline()).await.unwrap();
    let page = ReviewPage::start(&stack, &fake.url);
    let forms = page.forms("hero.jpg").await;
    let save = forms.iter().find(|f| f.action == "/save").unwrap().clone();
    let approve = forms
        .iter()
        .find(|f| f.action == "/approve")
        .unwrap()
        .clone();
    assert!(
        save.field("etag").is_some_and(|e| !e.is_empty()),
        "{save:?}"
    );

    // Replaced while the page is open, and captioned again.
    let etag = stack
        .put("hero.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    handler.handle(&event, far_deadline()).await.unwrap();
    let before = stack.record("hero.jpg").await.unwrap();
    assert_eq!(before.etag.as_deref(), Some(etag.as_str()));
    assert_ne!(save.field("etag"), Some(etag.as_str()));

    let note = page
        .post(&save.clone().with("text", "Our hero banner"))
        .await;
    assert!(note.contains(CHANGED), "{note}");
    let note = page.post(&approve).await;
    assert!(note.contains(CHANGED), "{note}");
    let after = stack.record("hero.jpg").await.unwrap();
    assert_eq!(after, before, "nothing written");
    assert_eq!(after.reviewed_at, None, "no caption nobody saw is approved");

    // A caption written since the page was shown (here by `set`) is not approved unseen.
    let forms = page.forms("hero.jpg").await;
    let approve = forms
        .iter()
        .find(|f| f.action == "/approve")
        .unwrap()
        .clone();
    let save = forms.iter().find(|f| f.action == "/save").unwrap().clone();
    let set = stack.command(
        &fake.url,
        &[
            "set",
            "--bucket",
            &stack.bucket,
            "--key",
            "hero.jpg",
            "A tabby cat",
        ],
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    stack
        .dynamodb
        .update_item()
        .table_name(&stack.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(stack.bucket.clone()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("hero.jpg".into()),
        )
        .update_expression("REMOVE reviewed_at")
        .send()
        .await
        .unwrap();
    let note = page.post(&approve).await;
    assert!(
        note.contains("the caption changed since this page was shown: reload"),
        "{note}"
    );
    let note = page.post(&save.with("text", "Our hero banner")).await;
    assert!(note.contains("the caption changed"), "{note}");
    assert_eq!(
        stack.record("hero.jpg").await.unwrap().alt_text.as_deref(),
        Some("A tabby cat")
    );

    // What the page shows now can be saved.
    let save = page.forms("hero.jpg").await.remove(0);
    let note = page.post(&save.with("text", "Our hero banner")).await;
    assert!(note.ends_with("saved"), "{note}");
    assert_eq!(
        stack.tags("hero.jpg").await,
        vec![("alt-text".into(), "Our hero banner".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_back_changes_only_the_edited_cells_and_refuses_replaced_images() {
    let stack = Stack::new("roundtrip").await;
    for key in ["a.jpg", "b.jpg", "d.jpg"] {
        stack
            .put(key, sample("coffee.jpg"), "image/jpeg", &[])
            .await;
    }
    stack
        .put("notes.txt", sample("notes.txt"), "text/plain", &[])
        .await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.alttextlab_config(&fake.url, &[]));
    let keys = [
        ("a.jpg", None),
        ("b.jpg", None),
        ("d.jpg", None),
        ("notes.txt", None),
    ];
    handler
        .handle(&stack.event(&keys), far_deadline())
        .await
        .unwrap();
    let bucket = stack.bucket.clone();
    let export = stack.command(&fake.url, &["export", "--bucket", &bucket]);
    assert!(export.status.success(), "{}", text(&export.stderr));

    // Two cells edited; b.jpg replaced before the file comes back.
    let mut reader = csv::Reader::from_reader(export.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).unwrap();
    for row in reader.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(String::from).collect();
        match row[at("key")].as_str() {
            "a.jpg" => row[at("alt_text")] = "Our red mug, hand-glazed".into(),
            "b.jpg" => row[at("alt_text")] = "Our blue cup".into(),
            _ => {}
        }
        out.write_record(&row).unwrap();
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), out.into_inner().unwrap()).unwrap();
    stack
        .put("b.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    handler
        .handle(&stack.event(&[("b.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let b_before = stack.record("b.jpg").await.unwrap();
    let d_before = stack.record("d.jpg").await.unwrap();

    let import = stack.command(
        &fake.url,
        &["import", "--bucket", &bucket, file.path().to_str().unwrap()],
    );
    let (out, err) = (text(&import.stdout), text(&import.stderr));
    assert_eq!(import.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("set 1, unchanged 2, skipped 1"), "{out}");
    assert!(
        err.contains("b.jpg: refused: the image changed since the file was written"),
        "{err}"
    );
    let a = stack.record("a.jpg").await.unwrap();
    assert_eq!(a.captions["en"].text, "Our red mug, hand-glazed");
    assert_eq!(a.captions["en"].source, Source::Person);
    assert_eq!(stack.record("b.jpg").await.unwrap(), b_before);
    let d = stack.record("d.jpg").await.unwrap();
    assert_eq!(
        d, d_before,
        "an unchanged provider caption stays the provider's"
    );
    assert_eq!(
        (d.captions["en"].source, d.reviewed_at),
        (Source::Provider, None)
    );
}
