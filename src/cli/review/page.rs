//! The review page's HTML: a grid of images with their captions, filters, forms to save
//! or approve. Every piece of text on it (keys, captions, reasons) is untrusted and escaped;
//! the page has no script and loads nothing but the thumbnails' presigned URLs.

use std::fmt::Write;

use crate::caption::{Record, Source, State};

/// Records shown on one page.
pub const PAGE_SIZE: usize = 50;

/// One image on the page.
pub struct Card<'a> {
    pub record: &'a Record,
    /// A short-lived presigned URL of the image, for images.
    pub thumbnail: Option<String>,
}

/// What the page shows.
pub struct View<'a> {
    pub bucket: &'a str,
    pub token: &'a str,
    pub prefix: &'a str,
    pub state: &'a str,
    /// Where this page starts (after this key), and the next one.
    pub after: &'a str,
    pub next: Option<&'a str>,
    pub langs: &'a [String],
    pub cards: Vec<Card<'a>>,
    /// The outcome of the last save or approval.
    pub note: &'a str,
}

/// Text made safe for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query string of `pairs`, percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    q.finish()
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#f6f6f4;color:#222}\
h1{font-size:1.3rem;margin:0 0 .8rem}\
form.filters{display:flex;gap:.6rem;align-items:end;margin-bottom:1rem;flex-wrap:wrap}\
label{font-size:.85rem;display:flex;flex-direction:column;gap:.2rem}\
.note{padding:.5rem .8rem;background:#e8f0fe;border-radius:6px;margin-bottom:1rem}\
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:1rem}\
.card{background:#fff;border-radius:8px;padding:.8rem;box-shadow:0 1px 3px #0002}\
.card img{width:100%;height:180px;object-fit:contain;background:#eee;border-radius:4px}\
.noimg{height:180px;display:flex;align-items:center;justify-content:center;background:#eee;color:#777;border-radius:4px}\
.key{font-family:monospace;font-size:.85rem;word-break:break-all;margin:.5rem 0 .3rem}\
.state{display:inline-block;font-size:.75rem;padding:.1rem .45rem;border-radius:999px;background:#ddd}\
.captioned{background:#d4edda}.failed{background:#f8d7da}.skipped{background:#fff3cd}\
.meta,.why{font-size:.8rem;color:#555;margin:.3rem 0}\
.why{color:#8a1f11}\
textarea{width:100%;box-sizing:border-box;min-height:4.2rem;font:inherit;font-size:.9rem}\
.lang{font-size:.8rem;font-weight:600;margin-top:.5rem}\
button{margin-top:.3rem}\
.pages{margin-top:1.2rem}";

/// The whole page.
pub fn render(view: &View<'_>) -> String {
    let mut html = String::with_capacity(8192 + view.cards.len() * 2048);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Alt text review: {bucket}</title><style>{STYLE}</style></head><body>\
         <h1>Alt text review: s3://{bucket}</h1>",
        bucket = escape(view.bucket),
    );
    filters(&mut html, view);
    if !view.note.is_empty() {
        let _ = write!(
            html,
            "<p class=\"note\" role=\"status\">{}</p>",
            escape(view.note)
        );
    }
    if view.cards.is_empty() {
        html.push_str("<p>No records here.</p>");
    }
    html.push_str("<div class=\"grid\">");
    for card in &view.cards {
        card_html(&mut html, view, card);
    }
    html.push_str("</div>");
    pages(&mut html, view);
    html.push_str("</body></html>");
    html
}

fn filters(html: &mut String, view: &View<'_>) {
    let option = |value: &str, label: &str| {
        let selected = if view.state == value { " selected" } else { "" };
        format!("<option value=\"{value}\"{selected}>{label}</option>")
    };
    let _ = write!(
        html,
        "<form class=\"filters\" method=\"get\" action=\"/\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label>Prefix<input type=\"text\" name=\"prefix\" value=\"{prefix}\"></label>\
         <label>State<select name=\"state\">{all}{captioned}{failed}{skipped}</select></label>\
         <button type=\"submit\">Show</button></form>",
        token = escape(view.token),
        prefix = escape(view.prefix),
        all = option("", "all"),
        captioned = option("captioned", "captioned"),
        failed = option("failed", "failed"),
        skipped = option("skipped", "skipped"),
    );
}

fn card_html(html: &mut String, view: &View<'_>, card: &Card<'_>) {
    let record = card.record;
    let key = escape(&record.key);
    let state = record.state.as_str();
    let _ = write!(html, "<article class=\"card\" data-key=\"{key}\">");
    match &card.thumbnail {
        Some(url) => {
            let alt = record.alt_text.as_deref().unwrap_or_default();
            let _ = write!(
                html,
                "<img class=\"thumb\" src=\"{}\" alt=\"{}\" loading=\"lazy\" referrerpolicy=\"no-referrer\">",
                escape(url),
                escape(alt)
            );
        }
        None => html.push_str("<div class=\"noimg\">not an image</div>"),
    }
    let _ = write!(
        html,
        "<p class=\"key\">{key}</p><span class=\"state {state}\">{state}</span>"
    );
    if let Some(at) = &record.reviewed_at {
        let _ = write!(html, " <span class=\"meta\">reviewed {}</span>", escape(at));
    }
    for why in [&record.error, &record.reason].into_iter().flatten() {
        let _ = write!(html, "<p class=\"why\">{}</p>", escape(why));
    }
    // Only an image can have a caption.
    if card.thumbnail.is_none() {
        html.push_str("</article>");
        return;
    }
    let captions = record.all_captions();
    for lang in view.langs {
        let caption = captions.get(lang);
        let text = caption.map(|c| c.text.as_str()).unwrap_or_default();
        let who = match caption {
            Some(c) if c.source == Source::Person => "written by a person".to_string(),
            Some(c) => format!("by {}", c.provider),
            None => "no caption".into(),
        };
        let tag = caption
            .and_then(|c| c.tag_status)
            .map(|s| format!(", tag {}", s.as_str()))
            .unwrap_or_default();
        let _ = write!(
            html,
            "<form method=\"post\" action=\"/save\">{hidden}\
             <input type=\"hidden\" name=\"lang\" value=\"{lang}\">\
             <div class=\"lang\">{lang} <span class=\"meta\">{who}{tag}</span></div>\
             <textarea name=\"text\" aria-label=\"{lang} caption of {key}\">{text}</textarea>\
             <button type=\"submit\" name=\"do\" value=\"save\">Save</button></form>",
            hidden = hidden_fields(view, record),
            lang = escape(lang),
            who = escape(&who),
            tag = escape(&tag),
            text = escape(text),
        );
    }
    if record.state == State::Captioned && record.reviewed_at.is_none() {
        let _ = write!(
            html,
            "<form method=\"post\" action=\"/approve\">{}\
             <button type=\"submit\">Approve as it is</button></form>",
            hidden_fields(view, record)
        );
    }
    html.push_str("</article>");
}

/// The fields every form sends: the token, the object as the card shows it (its ETag and
/// version, the record's time: an edit of anything else is refused), and where to come
/// back to.
fn hidden_fields(view: &View<'_>, record: &Record) -> String {
    let field = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        )
    };
    [
        field("token", view.token),
        field("key", &record.key),
        field("etag", record.etag.as_deref().unwrap_or_default()),
        field("version", record.version_id.as_deref().unwrap_or_default()),
        field("seen", &record.updated_at),
        field("prefix", view.prefix),
        field("state", view.state),
        field("after", view.after),
    ]
    .concat()
}

fn pages(html: &mut String, view: &View<'_>) {
    html.push_str("<nav class=\"pages\">");
    if !view.after.is_empty() {
        let first = query(&[
            ("token", view.token),
            ("prefix", view.prefix),
            ("state", view.state),
        ]);
        let _ = write!(html, "<a href=\"/?{}\">First page</a> ", escape(&first));
    }
    if let Some(next) = view.next {
        let next = query(&[
            ("token", view.token),
            ("prefix", view.prefix),
            ("state", view.state),
            ("after", next),
        ]);
        let _ = write!(
            html,
            "<a href=\"/?{}\" rel=\"next\">Next page</a>",
            escape(&next)
        );
    }
    html.push_str("</nav>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caption::{LangCaption, Record};

    #[test]
    fn untrusted_text_is_escaped_everywhere() {
        let hostile = "<img src=x onerror=alert(1)>\"'&";
        let mut record = Record::new("b", "photos/<script>.jpg", State::Failed);
        record.error = Some(hostile.into());
        record.captions.insert(
            "en".into(),
            LangCaption {
                text: hostile.into(),
                provider: "\"><b>".into(),
                source: Source::Provider,
                request_id: None,
                tag_key: None,
                tag_status: None,
                tag_reason: None,
            },
        );
        record.alt_text = Some(hostile.into());
        let langs = vec!["en".to_string()];
        let html = render(&View {
            bucket: "b",
            token: "t\"<",
            prefix: "\"><i>",
            state: "",
            after: "",
            next: Some("k\"&"),
            langs: &langs,
            cards: vec![Card {
                record: &record,
                thumbnail: Some("http://s3/b/k?X-Amz-Signature=\"<x>".into()),
            }],
            note: "<b>saved</b>",
        });
        for raw in [
            "<img src=x",
            "<script>",
            "\"><b>",
            "\"><i>",
            "<b>saved",
            "t\"<",
            "\"<x>",
        ] {
            assert!(!html.contains(raw), "{raw} unescaped");
        }
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
        assert_eq!(html.matches("<img ").count(), 1, "the thumbnail only");
    }
}
