//! The tags (`caption/tags.rs`, `pipeline/tagging.rs`, `pipeline/person.rs`) on a real S3
//! (SeaweedFS validates tag sets as S3 does): every language's caption gets a tag S3
//! accepts, or none and the reason in the record; one language never costs another's tag
//! or the user's tags; a person's alt-text tag is never paid for nor overwritten.

use regex::Regex;
use s3_alt_text::caption::{Source, State, TagStatus};
use s3_alt_text::report::OutcomeKind;

use crate::support::proxy::{FaultProxy, s3_invalid_tag};
use crate::support::services::{FakeService, Reply, Wire};
use crate::support::{API_KEY, Stack, far_deadline, local_stack, sample};

/// S3's documented pattern for tag keys and values.
fn s3_tag_pattern() -> Regex {
    Regex::new(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$").unwrap()
}

/// A caption in each script, and whether it can be a faithful tag.
const SCRIPTS: [(&str, &str, &str, bool); 10] = [
    (
        "fr",
        "Latin, decomposed accents",
        "Un cafe\u{301} cre\u{300}me sur une table",
        true,
    ),
    ("hi", "Devanagari", "मेज़ पर रखी एक कप कॉफ़ी", false),
    ("bn", "Bengali", "টেবিলের উপর এক কাপ কফি", false),
    ("ta", "Tamil", "மேசையில் ஒரு கப் காபி", false),
    ("th", "Thai", "กาแฟหนึ่งถ้วยบนโต๊ะ", false),
    ("ar", "Arabic with harakat", "فِنْجَانُ قَهْوَةٍ عَلَى الطَّاوِلَةِ", false),
    ("he", "Hebrew with niqqud", "סֵפֶל קָפֶה עַל הַשֻּׁלְחָן", false),
    ("vi", "Vietnamese", "Một tách cà phê trên bàn", true),
    ("ja", "CJK", "テーブルの上のコーヒー一杯", true),
    ("es", "emoji", "Una taza de café ☕ sobre la mesa", true),
];

#[tokio::test]
async fn every_script_gets_a_tag_s3_accepts_or_none_and_never_costs_the_others() {
    let stack = Stack::new("scripts").await;
    let pattern = s3_tag_pattern();
    let mut table = Vec::new();
    for (i, (lang, script, caption, faithful)) in SCRIPTS.into_iter().enumerate() {
        let key = format!("photos/{i}-{lang}.jpg");
        stack
            .put(
                &key,
                sample("coffee.jpg"),
                "image/jpeg",
                &[("owner", "shop")],
            )
            .await;
        let fake = FakeService::start(
            Wire::AltTextLab,
            Some(API_KEY),
            vec![
                Reply::Caption("A cup of coffee on a table.".into()),
                Reply::Caption(caption.into()),
            ],
        )
        .await;
        let langs = format!("en,{lang}");
        let handler =
            stack.handler(&stack.alttextlab_config(&fake.url, &[("ALT_TEXT_LANGS", &langs)]));
        let handled = handler
            .handle(&stack.event(&[(&key, None)]), far_deadline())
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"));
        assert_eq!(
            handled.summary.objects[0].outcome,
            OutcomeKind::Captioned,
            "{script}"
        );

        let tags = stack.tags(&key).await;
        for (k, v) in &tags {
            assert!(
                pattern.is_match(v),
                "{script}: {k}={v:?} is not a valid S3 tag"
            );
        }
        let tag = |k: &str| tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone());
        assert_eq!(
            tag("owner").as_deref(),
            Some("shop"),
            "{script}: the user's tag"
        );
        assert_eq!(
            tag("alt-text").as_deref(),
            Some("A cup of coffee on a table."),
            "{script}: the English tag"
        );
        let record = stack.record(&key).await.unwrap();
        let theirs = &record.captions[lang];
        assert_eq!(
            theirs.text, caption,
            "{script}: the record keeps the caption whole"
        );
        let lang_tag = tag(&format!("alt-text-{lang}"));
        if faithful {
            assert_eq!(theirs.tag_status, Some(TagStatus::Written), "{script}");
            assert!(lang_tag.is_some(), "{script}");
        } else {
            assert_eq!(theirs.tag_status, Some(TagStatus::NotFaithful), "{script}");
            assert!(lang_tag.is_none(), "{script}: {lang_tag:?}");
            assert!(
                theirs
                    .tag_reason
                    .as_deref()
                    .is_some_and(|r| r.contains("marks")),
                "{script}"
            );
        }
        table.push(format!(
            "| {script} | {caption} | {} | {} |",
            lang_tag.as_deref().unwrap_or("(no tag)"),
            theirs.tag_status.map_or("-", TagStatus::as_str)
        ));
    }
    println!("| script | caption (record) | tag | tag_status |\n|---|---|---|---|");
    println!("{}", table.join("\n"));
}

#[tokio::test]
async fn a_tag_set_s3_refuses_is_written_without_the_refused_tag() {
    let stack = Stack::new("invalid-tag").await;
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
        vec![
            Reply::Caption("A cup of coffee.".into()),
            Reply::Caption("Eine Tasse Kaffee.".into()),
        ],
    )
    .await;
    // S3 refuses any tag set with the German tag in it.
    let proxy = FaultProxy::start(local_stack()).await;
    proxy.fail_when("PutObjectTagging", "alt-text-de", s3_invalid_tag());
    let config = stack.alttextlab_config(&fake.url, &[("ALT_TEXT_LANGS", "en,de")]);
    let handler = stack.handler_via(&proxy.endpoint, &config).await;
    let handled = handler
        .handle(&stack.event(&[("cup.jpg", None)]), far_deadline())
        .await
        .unwrap();
    assert_eq!(handled.summary.objects[0].outcome, OutcomeKind::Captioned);
    let mut tags = stack.tags("cup.jpg").await;
    tags.sort();
    assert_eq!(
        tags,
        [
            ("alt-text".to_string(), "A cup of coffee.".to_string()),
            ("owner".to_string(), "shop".to_string()),
        ],
        "the English tag and the user's, without the refused one"
    );
    assert_eq!(proxy.seen("PutObjectTagging"), 2, "one refusal, one retry");
    let record = stack.record("cup.jpg").await.unwrap();
    assert_eq!(record.state, State::Captioned);
    assert_eq!(record.captions["de"].tag_status, Some(TagStatus::Refused));
    assert_eq!(record.captions["de"].tag_key, None);
    assert_eq!(record.captions["en"].tag_status, Some(TagStatus::Written));
    assert!(
        record
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("alt-text-de")),
        "{:?}",
        record.reason
    );
}

#[tokio::test]
async fn a_persons_alt_text_is_never_paid_for_nor_overwritten() {
    let stack = Stack::new("person").await;
    let theirs = "Our hand-glazed red mug, on the shop counter";
    stack
        .put(
            "mug.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "shop"), ("alt-text", theirs)],
        )
        .await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.alttextlab_config(&fake.url, &[]));
    let handled = handler
        .handle(&stack.event(&[("mug.jpg", None)]), far_deadline())
        .await
        .unwrap();
    let object = &handled.summary.objects[0];
    assert_eq!(object.outcome, OutcomeKind::Captioned);
    assert_eq!(object.provider.as_deref(), Some("person"));
    assert_eq!(
        fake.calls().len(),
        0,
        "no provider call for a person's caption"
    );
    let mut tags = stack.tags("mug.jpg").await;
    tags.sort();
    assert_eq!(
        tags,
        [
            ("alt-text".to_string(), theirs.to_string()),
            ("owner".to_string(), "shop".to_string()),
        ],
        "the tag untouched"
    );
    let record = stack.record("mug.jpg").await.unwrap();
    assert_eq!(record.captions["en"].source, Source::Person);
    assert_eq!(record.captions["en"].text, theirs);
    assert_eq!(record.alt_text.as_deref(), Some(theirs));

    // A replay is no reason to pay either.
    handler
        .handle(&stack.event(&[("mug.jpg", None)]), far_deadline())
        .await
        .unwrap();
    assert_eq!(fake.calls().len(), 0);
}
