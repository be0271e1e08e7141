//! The review page's thumbnails: presigned URLs whose answer is a download of the image
//! type the function detected from the bytes, whatever the uploader said, and none for an
//! SVG (a document that runs script where it is opened).

use regex::Regex;

use crate::support::review::ReviewPage;
use crate::support::services::{FakeService, Wire};
use crate::support::{API_KEY, Stack, far_deadline, sample};

const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.domain)</script><rect width="10" height="10"/></svg>"#;

/// The thumbnail address of the card of `key`, if it has one.
fn thumbnail(html: &str, key: &str) -> Option<String> {
    let card =
        Regex::new(r#"(?s)<article class="card" data-key="([^"]+)">(.*?)</article>"#).unwrap();
    let img = Regex::new(r#"<img class="thumb" src="([^"]+)""#).unwrap();
    let card = card
        .captures_iter(html)
        .find(|c| &c[1] == key)
        .unwrap_or_else(|| panic!("no card of {key} in {html}"));
    img.captures(&card[2]).map(|i| i[1].replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_are_downloads_of_the_detected_type_and_an_svg_has_none() {
    let stack = Stack::new("thumbs").await;
    stack
        .put("photo.jpg", sample("coffee.jpg"), "text/html", &[])
        .await;
    stack
        .put("drawing.svg", SVG.as_bytes().to_vec(), "image/svg+xml", &[])
        .await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.handler(&stack.alttextlab_config(&fake.url, &[]));
    let event = stack.event(&[("photo.jpg", None), ("drawing.svg", None)]);
    handler.handle(&event, far_deadline()).await.unwrap();
    let photo = stack.record("photo.jpg").await.unwrap();
    assert_eq!(photo.content_type.as_deref(), Some("image/jpeg"));
    let drawing = stack.record("drawing.svg").await.unwrap();

    let page = ReviewPage::start(&stack, &fake.url);
    let html = page.page().await;
    assert_eq!(
        thumbnail(&html, "drawing.svg"),
        None,
        "an SVG is never loaded from the bucket ({drawing:?})"
    );
    let url = thumbnail(&html, "photo.jpg").expect("a thumbnail of the JPEG");
    let parsed = reqwest::Url::parse(&url).unwrap();
    let param = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        param("response-content-type").as_deref(),
        Some("image/jpeg")
    );
    assert_eq!(
        param("response-content-disposition").as_deref(),
        Some("attachment")
    );

    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header("content-type").as_deref(), Some("image/jpeg"));
    assert_eq!(header("content-disposition").as_deref(), Some("attachment"));
    assert_eq!(response.bytes().await.unwrap(), sample("coffee.jpg"));
}
