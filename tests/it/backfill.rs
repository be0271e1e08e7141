//! `s3-alt-text backfill` on 500 objects against the local stack: a dry run that calls
//! nothing, a run that captions everything with visible progress, and a second run that
//! finds nothing left to pay for.

use std::process::{Command, Output};

use crate::support::services::{FakeService, Wire};
use crate::support::{API_KEY, Stack, sample, text};

fn backfill(stack: &Stack, fake: &FakeService, args: &[&str]) -> Output {
    let mut all = vec!["backfill", "--bucket", &stack.bucket];
    all.extend_from_slice(args);
    stack.command(&fake.url, &all)
}

// Multi-threaded: the fake AltTextLab answers on the runtime's workers while this test
// waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_object_backfill_captions_all_once() {
    let stack = Stack::new("backfill").await;
    let (coffee, cat, notes) = (sample("coffee.jpg"), sample("cat.jpg"), sample("notes.txt"));
    for i in 0..500 {
        match i % 100 {
            0..=1 => {
                stack
                    .put(
                        &format!("catalog/{i:03} cat.jpg"),
                        cat.clone(),
                        "image/jpeg",
                        &[],
                    )
                    .await
            }
            2..=3 => {
                stack
                    .put(
                        &format!("catalog/{i:03} notes.txt"),
                        notes.clone(),
                        "text/plain",
                        &[],
                    )
                    .await
            }
            _ => {
                stack
                    .put(
                        &format!("catalog/{i:03} product.jpg"),
                        coffee.clone(),
                        "image/jpeg",
                        &[("sku", "A-1")],
                    )
                    .await
            }
        };
    }
    stack
        .put("elsewhere/other.jpg", coffee.clone(), "image/jpeg", &[])
        .await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;

    let dry = backfill(&stack, &fake, &["--prefix", "catalog/", "--dry-run"]);
    let out = text(&dry.stdout);
    assert!(dry.status.success(), "{out}{}", text(&dry.stderr));
    assert!(out.contains("dry run of s3://"), "{out}");
    assert!(
        out.contains("free captions      10 (embedded alt text)"),
        "{out}"
    );
    assert!(out.contains("skipped            10"), "{out}");
    assert!(
        out.contains("provider calls a real run would make: 480"),
        "{out}"
    );
    assert!(
        fake.caption_calls().is_empty(),
        "a dry run calls no provider"
    );
    assert!(
        stack.record("catalog/004 product.jpg").await.is_none(),
        "a dry run writes nothing"
    );

    let run = backfill(
        &stack,
        &fake,
        &["--prefix", "catalog/", "--concurrency", "16"],
    );
    let (out, err) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{out}{err}");
    assert!(
        out.contains("backfill of s3://") && out.contains(": 500 objects in"),
        "{out}"
    );
    assert!(out.contains("captioned          490"), "{out}");
    assert!(out.contains("skipped            10"), "{out}");
    assert!(out.contains("failed             0"), "{out}");
    assert!(out.contains("provider calls: 480"), "{out}");
    assert!(err.contains("progress: 50/500 objects (10%)"), "{err}");
    assert!(err.contains("progress: 500/500 objects (100%)"), "{err}");
    assert_eq!(fake.caption_calls().len(), 480);
    assert!(
        fake.caption_calls()
            .iter()
            .all(|c| c.image_status == 200 && c.image_len == 65153)
    );
    let tags = stack.tags("catalog/499 product.jpg").await;
    assert_eq!(tags.len(), 2, "the user's tag and the caption: {tags:?}");
    assert!(
        stack.record("elsewhere/other.jpg").await.is_none(),
        "outside the prefix"
    );

    let again = backfill(&stack, &fake, &["--prefix", "catalog/"]);
    let out = text(&again.stdout);
    assert!(again.status.success(), "{out}");
    assert!(out.contains("already captioned  490"), "{out}");
    assert!(out.contains("provider calls: 0"), "{out}");
    assert_eq!(
        fake.caption_calls().len(),
        480,
        "the second run paid for nothing"
    );
}

#[test]
fn backfill_explains_itself_and_rejects_bad_arguments() {
    let run = |args: &[&str]| {
        Command::new(crate::support::binary())
            .env_clear()
            .args(args)
            .output()
            .unwrap()
    };
    let help = run(&["backfill", "--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(
        text.contains("--dry-run") && text.contains("--concurrency N"),
        "{text}"
    );
    for (args, message) in [
        (&["backfill"][..], "--bucket is required"),
        (
            &["backfill", "--bucket", "b", "--concurrency", "0"][..],
            "--concurrency takes a number from 1 to 256",
        ),
        (
            &["backfill", "--bucket", "b", "--force"][..],
            "unknown argument \"--force\"",
        ),
        (&["frobnicate"][..], "unknown command \"frobnicate\""),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}"
        );
    }
}

// Multi-threaded, as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_knows_the_bill_and_refuses_to_overspend() {
    let stack = Stack::new("backfill-bill").await;
    for i in 0..6 {
        stack
            .put(
                &format!("p/{i}.jpg"),
                sample("coffee.jpg"),
                "image/jpeg",
                &[],
            )
            .await;
    }
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    fake.account.set_credits(Some(4));

    let dry = backfill(&stack, &fake, &["--dry-run"]);
    let out = text(&dry.stdout);
    assert!(dry.status.success(), "{out}{}", text(&dry.stderr));
    assert!(
        out.contains("alttextlab         6 calls; 4 credits left"),
        "{out}"
    );
    assert!(
        out.contains("over: alttextlab would be asked 6 calls with 4 credits left"),
        "{out}"
    );

    let refused = backfill(&stack, &fake, &[]);
    let err = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(err.contains("backfill not started"), "{err}");
    assert!(fake.caption_calls().is_empty(), "nothing spent");
    assert!(stack.record("p/0.jpg").await.is_none(), "nothing written");

    // The budget is weighed too, credits or not.
    fake.account.set_credits(None);
    let budget = stack.command_with(
        &fake.url,
        &[("ALT_TEXT_BUDGET", "5/month")],
        &["backfill", "--bucket", &stack.bucket],
    );
    let err = text(&budget.stderr);
    assert!(!budget.status.success());
    assert!(
        err.contains("6 calls would be made with 5 left in the budget until 20"),
        "{err}"
    );
    assert!(fake.caption_calls().is_empty());

    // Told to, it spends what the budget allows; the rest wait for the next month.
    let over = stack.command_with(
        &fake.url,
        &[("ALT_TEXT_BUDGET", "5/month")],
        &["backfill", "--bucket", &stack.bucket, "--allow-over"],
    );
    let out = text(&over.stdout);
    assert!(out.contains("captioned          5"), "{out}");
    assert!(out.contains("failed             1"), "{out}");
    assert_eq!(fake.caption_calls().len(), 5);
}
