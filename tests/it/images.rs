//! Every format on the local stack, through each service's fake: the services sent bytes get
//! each image in a form they take (scaled to `ALT_TEXT_MAX_EDGE`, turned upright, converted
//! from formats they refuse), an image that needs no change goes byte for byte, HEIC, AVIF
//! and SVG go only to a service given the URL that takes them, a decompression bomb is
//! refused from its header, and a batch of large images waits for room in the memory
//! budget.

use crate::providers::bedrock_services;
use crate::support::images::{self, marker_top_left, pixels};
use std::time::Duration;

use crate::support::services::{FakeService, Reply, Wire, kind};
use crate::support::{ACCESS_KEY, API_KEY, Stack, far_deadline, sample};
use image::GenericImageView;
use s3_alt_text::app::AppHandler;
use s3_alt_text::caption::State;
use s3_alt_text::provider::Services;

const KEY: &str = "svc_live_prepare_0a1b2c3d4e5f";

/// What becomes of one image at one service.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Sent byte for byte.
    AsIs,
    /// Sent as this format, its longest edge at most 1568 px, upright.
    Converted(&'static str),
    /// Skipped, the record saying this.
    Skipped(&'static str),
}

/// The images, by key, with their bytes.
fn gallery() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("small.jpg", sample("cat.jpg"), "image/jpeg"),
        ("phone.jpg", images::sideways_jpeg(3000, 4000), "image/jpeg"),
        (
            "clear.png",
            images::transparent_png(2000, 1500),
            "image/png",
        ),
        ("moving.gif", images::animated_gif(600, 400), "image/gif"),
        ("scan.bmp", images::bmp(600, 400), "image/bmp"),
        ("scan.tiff", images::tiff(600, 400), "image/tiff"),
        ("wide.webp", images::webp(2400, 1000), "image/webp"),
        ("photo.heic", images::iso_image(b"heic"), "image/heic"),
        ("photo.avif", images::iso_image(b"avif"), "image/avif"),
        ("drawing.svg", images::svg(), "image/svg+xml"),
    ]
}

/// What each service gets of the gallery, in its order.
fn expected(wire: Wire) -> [Expect; 10] {
    use Expect::*;
    let undecodable = Skipped("is not converted here");
    let svg = Skipped("only a service given its URL");
    match wire {
        Wire::AltTextLab => [
            AsIs,
            AsIs,
            AsIs,
            Skipped("not GIF"),
            Skipped("not BMP"),
            Skipped("not TIFF"),
            AsIs,
            Skipped("not HEIC"),
            AsIs,
            AsIs,
        ],
        Wire::OpenAi => [
            AsIs,
            Converted("jpeg"),
            Converted("png"),
            Converted("jpeg"),
            Converted("jpeg"),
            Converted("jpeg"),
            Converted("jpeg"),
            undecodable,
            undecodable,
            svg,
        ],
        Wire::AltTextAi => [
            AsIs,
            Converted("jpeg"),
            Converted("png"),
            AsIs,
            AsIs,
            Converted("jpeg"),
            Converted("jpeg"),
            undecodable,
            undecodable,
            svg,
        ],
        Wire::AutoAlt | Wire::Bedrock => [
            AsIs,
            Converted("jpeg"),
            Converted("png"),
            AsIs,
            Converted("jpeg"),
            Converted("jpeg"),
            Converted("jpeg"),
            undecodable,
            undecodable,
            svg,
        ],
    }
}

/// A handler whose one provider is the fake of `wire`, sent bytes where the service can be.
async fn handler_for(stack: &Stack, wire: Wire, fake: &FakeService) -> AppHandler {
    let (provider, input) = match wire {
        Wire::AltTextLab => ("alttextlab", None),
        Wire::AutoAlt => ("autoalt", None),
        Wire::AltTextAi => ("alttextai", Some("ALTTEXTAI_IMAGE_INPUT")),
        Wire::OpenAi => ("openai", Some("OPENAI_IMAGE_INPUT")),
        Wire::Bedrock => ("bedrock", None),
    };
    let mut vars = vec![("ALT_TEXT_PROVIDER", provider)];
    if wire != Wire::Bedrock {
        vars.extend([
            ("ALT_TEXT_API_KEY", KEY),
            ("ALT_TEXT_API_URL", fake.url.as_str()),
        ]);
    }
    if let Some(var) = input {
        vars.push((var, "data"));
    }
    let config = stack.config(&vars);
    let services = match wire {
        Wire::Bedrock => bedrock_services(fake).await,
        _ => Services::http(crate::support::provider_http()),
    };
    stack.handler_with(&config, services)
}

async fn check_service(wire: Wire, bucket: &str) {
    let stack = Stack::new(bucket).await;
    let gallery = gallery();
    for (key, bytes, content_type) in &gallery {
        stack.put(key, bytes.clone(), content_type, &[]).await;
    }
    let key = if wire == Wire::Bedrock {
        ACCESS_KEY
    } else {
        KEY
    };
    let fake = FakeService::start(wire, Some(key), vec![]).await;
    let handler = handler_for(&stack, wire, &fake).await;
    let keys: Vec<(&str, Option<&str>)> = gallery.iter().map(|(k, _, _)| (*k, None)).collect();
    handler
        .handle(&stack.event(&keys), far_deadline())
        .await
        .expect("no retryable failure");
    let calls = fake.calls();
    for ((key, original, _), expect) in gallery.iter().zip(expected(wire)) {
        let record = stack.record(key).await.expect("a record");
        let what = format!("{wire:?} {key}");
        if let Expect::Skipped(reason) = expect {
            assert_eq!(record.state, State::Skipped, "{what}: {record:?}");
            let said = record.reason.unwrap_or_default();
            assert!(said.contains(reason), "{what}: {said}");
            continue;
        }
        assert_eq!(record.state, State::Captioned, "{what}: {record:?}");
        // The caption describes the image the fake received: find that request by it.
        let text = record.alt_text.unwrap_or_default();
        let received = calls
            .iter()
            .filter(|c| !c.image.is_empty())
            .find(|c| text == crate::support::services::describe(&c.image, "en"))
            .unwrap_or_else(|| panic!("{what}: no request gave {text:?}"));
        match expect {
            Expect::AsIs => assert!(received.image == *original, "{what}: sent byte for byte"),
            Expect::Converted(format) => {
                assert_eq!(kind(&received.image), format, "{what}");
                let picture = pixels(&received.image);
                let (w, h) = picture.dimensions();
                let size = imagesize::blob_size(original).unwrap();
                let long = size.width.max(size.height) as u32;
                assert_eq!(w.max(h), long.min(1568), "{what}: {w}×{h}");
                if key.ends_with(".gif") {
                    let [r, g, b, _] = picture.get_pixel(w / 2, h / 2).0;
                    assert!(r > 180 && g < 80 && b < 80, "{what}: the first frame");
                } else {
                    assert!(marker_top_left(&picture), "{what}: the right way up");
                }
            }
            Expect::Skipped(_) => unreachable!(),
        }
    }
}

#[tokio::test]
async fn every_format_reaches_bedrock_in_a_form_it_takes() {
    check_service(Wire::Bedrock, "prepare-bedrock").await;
}

#[tokio::test]
async fn every_format_reaches_autoalt_in_a_form_it_takes() {
    check_service(Wire::AutoAlt, "prepare-autoalt").await;
}

#[tokio::test]
async fn every_format_reaches_openai_as_a_data_url_it_takes() {
    check_service(Wire::OpenAi, "prepare-openai").await;
}

/// OpenAI takes a "non-animated GIF" only: by URL too, a GIF goes as its first frame in a
/// `data:` URL, and the other images as their presigned URL.
#[tokio::test]
async fn a_gif_reaches_openai_by_url_as_its_first_frame() {
    let stack = Stack::new("openai-gif-url").await;
    let gif = images::animated_gif(600, 400);
    stack.put("moving.gif", gif, "image/gif", &[]).await;
    stack
        .put("small.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    let fake = FakeService::start(Wire::OpenAi, Some(KEY), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "openai"),
        ("ALT_TEXT_API_KEY", KEY),
        ("ALT_TEXT_API_URL", fake.url.as_str()),
    ]));
    let event = stack.event(&[("moving.gif", None), ("small.jpg", None)]);
    let handled = handler.handle(&event, far_deadline()).await.unwrap();
    assert_eq!(handled.summary.captioned, 2, "{:?}", handled.summary);
    let calls = fake.calls();
    let (by_url, as_data): (Vec<_>, Vec<_>) = calls.iter().partition(|c| c.image_via == "url");
    assert_eq!(by_url.len(), 1);
    assert!(by_url[0].image == sample("cat.jpg"), "the JPEG by its URL");
    assert_eq!(as_data.len(), 1);
    assert_eq!(as_data[0].image_via, "data-url");
    assert_eq!(kind(&as_data[0].image), "jpeg", "the GIF's first frame");
}

#[tokio::test]
async fn every_format_reaches_alttextai_as_raw_bytes_it_takes() {
    check_service(Wire::AltTextAi, "prepare-alttextai").await;
}

#[tokio::test]
async fn alttextlab_is_handed_the_formats_it_takes_by_url() {
    check_service(Wire::AltTextLab, "prepare-alttextlab").await;
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_from_its_header() {
    let stack = Stack::new("prepare-bomb").await;
    stack
        .put("bomb.png", images::bomb_png(100_000), "image/png", &[])
        .await;
    let fake = FakeService::start(Wire::Bedrock, Some(ACCESS_KEY), vec![]).await;
    let handler = handler_for(&stack, Wire::Bedrock, &fake).await;
    handler
        .handle(&stack.event(&[("bomb.png", None)]), far_deadline())
        .await
        .expect("no retryable failure");
    let record = stack.record("bomb.png").await.expect("a record");
    assert_eq!(record.state, State::Skipped);
    let reason = record.reason.unwrap_or_default();
    assert!(
        reason.contains("100000×100000") && reason.contains("it was not decoded"),
        "{reason}"
    );
    assert!(fake.calls().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_batch_of_large_images_waits_for_room_in_the_memory_budget() {
    let stack = Stack::new("memory").await;
    // 12 MB each: the bytes and their base64 take 28 MB a call; a 128 MB function has a
    // 64 MB budget, room for two calls at once.
    let keys: Vec<String> = (0..5).map(|i| format!("large/{i}.jpg")).collect();
    for (i, key) in keys.iter().enumerate() {
        let mut bytes = sample("coffee.jpg");
        bytes.resize(12 << 20, i as u8);
        stack
            .put(key, bytes, "image/jpeg", &[("owner", "shop")])
            .await;
    }
    let wait = Duration::from_millis(300);
    let script = vec![Reply::Slow(wait, "A cup of coffee on a table.".into()); keys.len()];
    let fake = FakeService::start(Wire::AutoAlt, Some(API_KEY), script).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_PROVIDER", "autoalt"),
        ("ALT_TEXT_API_KEY", API_KEY),
        ("ALT_TEXT_API_URL", &fake.url),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("MAX_CONCURRENCY", "8"),
    ]));
    let names: Vec<(&str, Option<&str>)> = keys.iter().map(|k| (k.as_str(), None)).collect();
    let handled = handler
        .handle(&stack.event(&names), far_deadline())
        .await
        .unwrap();
    assert_eq!(
        handled.summary.captioned,
        keys.len(),
        "{:?}",
        handled.summary
    );
    assert_eq!(fake.calls().len(), keys.len());
    assert!(fake.calls().iter().all(|c| c.image_len == 12 << 20));
    assert_eq!(
        fake.most_at_once(),
        2,
        "two calls fit the budget, the rest waited"
    );
    for key in &keys {
        assert_eq!(
            stack.tags(key).await.len(),
            2,
            "{key}: the user's tag and the caption"
        );
    }
}
