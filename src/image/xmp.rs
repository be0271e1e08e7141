//! Embedded alt text: the IPTC "Alt Text (Accessibility)" property of an image's XMP packet.
//!
//! The packet lives in a JPEG APP1 segment, a PNG `iTXt` chunk named `XML:com.adobe.xmp` or
//! a WebP `XMP ` chunk. The container is walked segment by segment through ranged reads, so
//! only the metadata is fetched: the pixel data in between is skipped, never downloaded.

use std::future::Future;

use bytes::Bytes;
use quick_xml::events::Event;

use crate::image::ImageFormat;

/// Reads byte ranges of one object.
pub trait RangeReader: Sync {
    type Error;
    /// Reads up to `len` bytes from `start`; fewer at the end of the object.
    fn read_range(
        &self,
        start: u64,
        len: u64,
    ) -> impl Future<Output = Result<Bytes, Self::Error>> + Send;
}

/// Alt text found in an image, with the language of the entry it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedAltText {
    pub text: String,
    /// The entry's `xml:lang` (`x-default` for the default entry).
    pub lang: String,
}

/// What the XMP packet says about alt text for the requested language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(EmbeddedAltText),
    /// The image carries no XMP packet, or no alt text in it.
    Absent,
    /// Alt text exists, but only in other languages (listed).
    OtherLanguages(Vec<String>),
}

/// Size of each ranged read while walking a container.
const BLOCK: u64 = 64 * 1024;
/// Largest XMP packet read (JPEG caps a segment at 64 KiB; PNG and WebP do not).
const MAX_PACKET: u64 = 4 * 1024 * 1024;
/// Most ranged reads spent on one image before giving up.
const MAX_READS: usize = 16;
/// Most segments or chunks walked in one image.
const MAX_SEGMENTS: usize = 10_000;

const JPEG_XMP_SIGNATURE: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const PNG_XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp";

/// Finds the embedded alt text of an image for `lang`.
///
/// `head` is the object's first bytes, already read; `size` its total size.
pub async fn read_alt_text<R: RangeReader>(
    reader: &R,
    format: ImageFormat,
    head: Bytes,
    size: u64,
    lang: &str,
) -> Result<Lookup, R::Error> {
    let mut window = Window {
        reader,
        start: 0,
        bytes: head,
        size,
        reads: 0,
    };
    let packet = match format {
        ImageFormat::Jpeg => jpeg_packet(&mut window).await?,
        ImageFormat::Png => png_packet(&mut window).await?,
        ImageFormat::Webp => webp_packet(&mut window).await?,
        _ => None,
    };
    Ok(packet.map_or(Lookup::Absent, |xml| alt_text_from_xmp(&xml, lang)))
}

/// A cached byte range of the object, refilled by ranged reads.
struct Window<'r, R> {
    reader: &'r R,
    start: u64,
    bytes: Bytes,
    size: u64,
    reads: usize,
}

impl<R: RangeReader> Window<'_, R> {
    /// Returns exactly `len` bytes at `offset`, or `None` past the end of the object or the
    /// read budget.
    async fn get(&mut self, offset: u64, len: u64) -> Result<Option<Bytes>, R::Error> {
        let end = offset.saturating_add(len);
        if end > self.size {
            return Ok(None);
        }
        if offset >= self.start && end <= self.start + self.bytes.len() as u64 {
            let from = (offset - self.start) as usize;
            return Ok(Some(self.bytes.slice(from..from + len as usize)));
        }
        if self.reads >= MAX_READS {
            return Ok(None);
        }
        self.reads += 1;
        let want = len.max(BLOCK).min(self.size - offset);
        let bytes = self.reader.read_range(offset, want).await?;
        if (bytes.len() as u64) < len {
            return Ok(None);
        }
        self.start = offset;
        self.bytes = bytes;
        Ok(Some(self.bytes.slice(..len as usize)))
    }
}

async fn jpeg_packet<R: RangeReader>(w: &mut Window<'_, R>) -> Result<Option<String>, R::Error> {
    let mut pos = 2; // after SOI
    for _ in 0..MAX_SEGMENTS {
        let Some(marker) = w.get(pos, 2).await? else {
            return Ok(None);
        };
        if marker[0] != 0xFF {
            return Ok(None);
        }
        match marker[1] {
            0xFF => pos += 1, // fill byte
            0x01 | 0xD0..=0xD8 => pos += 2,
            0xD9 | 0xDA => return Ok(None), // end of image, start of scan: metadata is over
            kind => {
                let Some(len) = w.get(pos + 2, 2).await? else {
                    return Ok(None);
                };
                let len = u64::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return Ok(None);
                }
                if kind == 0xE1 && len - 2 > JPEG_XMP_SIGNATURE.len() as u64 {
                    let Some(payload) = w.get(pos + 4, len - 2).await? else {
                        return Ok(None);
                    };
                    if let Some(xml) = payload.strip_prefix(JPEG_XMP_SIGNATURE) {
                        return Ok(Some(String::from_utf8_lossy(xml).into_owned()));
                    }
                }
                pos += 2 + len;
            }
        }
    }
    Ok(None)
}

async fn png_packet<R: RangeReader>(w: &mut Window<'_, R>) -> Result<Option<String>, R::Error> {
    let mut pos = 8; // after the signature
    for _ in 0..MAX_SEGMENTS {
        let Some(header) = w.get(pos, 8).await? else {
            return Ok(None);
        };
        let len = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        match &header[4..8] {
            b"IEND" => return Ok(None),
            // Pixel data: XMP after it sits just before IEND, so look at the tail instead
            // of walking every IDAT chunk.
            b"IDAT" => return png_tail_packet(w).await,
            b"iTXt" if len <= MAX_PACKET => {
                let Some(data) = w.get(pos + 8, len).await? else {
                    return Ok(None);
                };
                if let Some(xml) = png_itxt_xmp(&data) {
                    return Ok(Some(xml));
                }
            }
            _ => {}
        }
        pos += 12 + len; // length, type, data, CRC
    }
    Ok(None)
}

/// Looks for the XMP `iTXt` chunk in the last `TAIL` bytes of a PNG.
async fn png_tail_packet<R: RangeReader>(
    w: &mut Window<'_, R>,
) -> Result<Option<String>, R::Error> {
    const TAIL: u64 = 256 * 1024;
    let start = w.size.saturating_sub(TAIL);
    let Some(tail) = w.get(start, w.size - start).await? else {
        return Ok(None);
    };
    let marker = b"iTXtXML:com.adobe.xmp\0";
    let Some(at) = tail.windows(marker.len()).position(|win| win == marker) else {
        return Ok(None);
    };
    let Some(len_at) = at.checked_sub(4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([
        tail[len_at],
        tail[len_at + 1],
        tail[len_at + 2],
        tail[len_at + 3],
    ]) as usize;
    let data = tail.get(at + 4..at + 4 + len);
    Ok(data.and_then(png_itxt_xmp))
}

/// The XMP text of an `iTXt` chunk, if it is the XMP chunk.
/// Layout: keyword NUL, compression flag, method, language NUL, translated keyword NUL, text.
fn png_itxt_xmp(data: &[u8]) -> Option<String> {
    let mut parts = data.splitn(2, |&b| b == 0);
    if parts.next()? != PNG_XMP_KEYWORD {
        return None;
    }
    let rest = parts.next()?;
    let (&compressed, rest) = rest.split_first()?;
    let (_method, rest) = rest.split_first()?;
    let mut parts = rest.splitn(3, |&b| b == 0);
    let (_lang, _translated, text) = (parts.next()?, parts.next()?, parts.next()?);
    let text = if compressed == 1 {
        miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(text, MAX_PACKET as usize).ok()?
    } else {
        text.to_vec()
    };
    Some(String::from_utf8_lossy(&text).into_owned())
}

async fn webp_packet<R: RangeReader>(w: &mut Window<'_, R>) -> Result<Option<String>, R::Error> {
    let mut pos = 12; // after RIFF size WEBP
    for _ in 0..MAX_SEGMENTS {
        let Some(header) = w.get(pos, 8).await? else {
            return Ok(None);
        };
        let len = u64::from(u32::from_le_bytes([
            header[4], header[5], header[6], header[7],
        ]));
        if &header[..4] == b"XMP " {
            if len > MAX_PACKET {
                return Ok(None);
            }
            let Some(data) = w.get(pos + 8, len).await? else {
                return Ok(None);
            };
            return Ok(Some(String::from_utf8_lossy(&data).into_owned()));
        }
        pos += 8 + len + (len & 1); // chunks are padded to an even size
    }
    Ok(None)
}

/// Picks the `Iptc4xmpCore:AltTextAccessibility` entry for `lang` from an XMP packet:
/// the exact language, then the same primary language (`en` for `en-GB`), then `x-default`.
pub fn alt_text_from_xmp(xml: &str, lang: &str) -> Lookup {
    let entries = alt_text_entries(xml);
    let non_empty = || entries.iter().filter(|(_, text)| !text.is_empty());
    let primary = |l: &str| l.split('-').next().unwrap_or_default().to_ascii_lowercase();
    let chosen = non_empty()
        .find(|(l, _)| l.eq_ignore_ascii_case(lang))
        .or_else(|| non_empty().find(|(l, _)| primary(l) == primary(lang)))
        .or_else(|| non_empty().find(|(l, _)| l.eq_ignore_ascii_case("x-default")));
    match chosen {
        Some((l, text)) => Lookup::Found(EmbeddedAltText {
            text: text.clone(),
            lang: l.clone(),
        }),
        None if non_empty().next().is_some() => {
            Lookup::OtherLanguages(non_empty().map(|(l, _)| l.clone()).collect())
        }
        None => Lookup::Absent,
    }
}

/// Every `(xml:lang, text)` of the alt-text property's `rdf:Alt` list, text trimmed.
fn alt_text_entries(xml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut entries = Vec::new();
    let mut in_property = 0usize; // depth inside the AltTextAccessibility element
    let mut current: Option<(String, String)> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if in_property > 0 {
                    in_property += 1;
                    if e.local_name().as_ref() == b"li" {
                        let lang = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == b"xml:lang")
                            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                            .unwrap_or_else(|| "x-default".into());
                        current = Some((lang, String::new()));
                    }
                } else if e.local_name().as_ref() == b"AltTextAccessibility" {
                    in_property = 1;
                }
            }
            Ok(Event::End(_)) if in_property > 0 => {
                in_property -= 1;
                if let Some((lang, text)) = current.take() {
                    entries.push((lang, collapse_whitespace(&text)));
                }
            }
            Ok(Event::Text(t)) => {
                if let (Some((_, text)), Ok(s)) = (current.as_mut(), t.decode()) {
                    text.push_str(&s);
                }
            }
            Ok(Event::CData(t)) => {
                if let (Some((_, text)), Ok(s)) = (current.as_mut(), t.decode()) {
                    text.push_str(&s);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some((_, text)) = current.as_mut() {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => r.decode().ok().and_then(|name| {
                            quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string)
                        }),
                    };
                    text.push_str(resolved.as_deref().unwrap_or_default());
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    entries
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An object in memory that counts the ranged reads and bytes served.
    struct Object {
        bytes: Vec<u8>,
        reads: AtomicUsize,
        served: AtomicUsize,
    }

    impl Object {
        fn new(bytes: Vec<u8>) -> Object {
            Object {
                bytes,
                reads: AtomicUsize::new(0),
                served: AtomicUsize::new(0),
            }
        }
    }

    impl RangeReader for Object {
        type Error = std::convert::Infallible;
        async fn read_range(&self, start: u64, len: u64) -> Result<Bytes, Self::Error> {
            let start = (start as usize).min(self.bytes.len());
            let end = (start + len as usize).min(self.bytes.len());
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.served.fetch_add(end - start, Ordering::SeqCst);
            Ok(Bytes::copy_from_slice(&self.bytes[start..end]))
        }
    }

    async fn lookup(
        bytes: Vec<u8>,
        format: ImageFormat,
        head_len: usize,
        lang: &str,
    ) -> (Lookup, Object) {
        let object = Object::new(bytes);
        let head = Bytes::copy_from_slice(&object.bytes[..head_len.min(object.bytes.len())]);
        let size = object.bytes.len() as u64;
        let found = read_alt_text(&object, format, head, size, lang)
            .await
            .unwrap();
        (found, object)
    }

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn found(text: &str) -> Lookup {
        Lookup::Found(EmbeddedAltText {
            text: text.into(),
            lang: "x-default".into(),
        })
    }

    #[tokio::test]
    async fn reads_the_sample_jpeg_from_its_head() {
        let (result, object) = lookup(sample("cat.jpg"), ImageFormat::Jpeg, 64 * 1024, "en").await;
        assert_eq!(
            result,
            found("Close-up of a brown tabby cat's face with green eyes and a pink nose.")
        );
        assert_eq!(
            object.reads.load(Ordering::SeqCst),
            0,
            "the packet is inside the head"
        );
    }

    #[tokio::test]
    async fn reads_the_sample_png() {
        let (result, _) = lookup(sample("astronaut.png"), ImageFormat::Png, 64 * 1024, "en").await;
        assert_eq!(
            result,
            found(
                "Astronaut Eileen Collins in an orange flight suit, smiling in front of an American flag and a model of the space shuttle."
            )
        );
    }

    #[tokio::test]
    async fn reads_the_sample_webp_skipping_its_pixels() {
        let bytes = sample("rocket.webp");
        let total = bytes.len();
        // A small head forces the walker to jump over the VP8 bitstream with a ranged read.
        let (result, object) = lookup(bytes, ImageFormat::Webp, 64, "en").await;
        assert_eq!(
            result,
            found(
                "A white Falcon 9 rocket standing on its launch pad at dusk between four lightning towers, lit by pad lights."
            )
        );
        assert_eq!(object.reads.load(Ordering::SeqCst), 1);
        assert!(
            object.served.load(Ordering::SeqCst) < total / 4,
            "pixels were downloaded"
        );
    }

    #[tokio::test]
    async fn an_image_without_xmp_has_no_alt_text() {
        let (result, object) =
            lookup(sample("coffee.jpg"), ImageFormat::Jpeg, 64 * 1024, "en").await;
        assert_eq!(result, Lookup::Absent);
        assert_eq!(
            object.reads.load(Ordering::SeqCst),
            0,
            "stops at the start of scan"
        );
    }

    #[tokio::test]
    async fn png_xmp_after_the_pixels_is_found_with_few_reads() {
        // A PNG whose XMP chunk follows 40 IDAT chunks of 32 KiB.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let chunk = |png: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            png.extend_from_slice(&[0, 0, 0, 0]);
        };
        chunk(&mut png, b"IHDR", &[0; 13]);
        for _ in 0..40 {
            chunk(&mut png, b"IDAT", &[7; 32 * 1024]);
        }
        let xmp = xmp_packet(r#"<rdf:li xml:lang="x-default">Late &amp; great</rdf:li>"#);
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(xmp.as_bytes(), 6);
        let mut itxt = b"XML:com.adobe.xmp\0\x01\x00\0\0".to_vec();
        itxt.extend_from_slice(&compressed);
        chunk(&mut png, b"iTXt", &itxt);
        chunk(&mut png, b"IEND", &[]);
        let (result, object) = lookup(png, ImageFormat::Png, 64 * 1024, "en").await;
        assert_eq!(result, found("Late & great"));
        assert_eq!(
            object.reads.load(Ordering::SeqCst),
            1,
            "one read of the tail"
        );
    }

    #[tokio::test]
    async fn truncated_and_garbage_files_have_no_alt_text() {
        for (bytes, format) in [
            (vec![0xFF, 0xD8, 0xFF], ImageFormat::Jpeg),
            (
                vec![0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 1, 2],
                ImageFormat::Jpeg,
            ),
            (vec![0xFF, 0xD8, 0x00, 0x00], ImageFormat::Jpeg),
            (
                b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffiTXt".to_vec(),
                ImageFormat::Png,
            ),
            (
                b"RIFF\0\0\0\0WEBPXMP \xff\xff\xff\x7f".to_vec(),
                ImageFormat::Webp,
            ),
            (b"GIF89a".to_vec(), ImageFormat::Gif),
        ] {
            let (result, _) = lookup(bytes.clone(), format, 4, "en").await;
            assert_eq!(result, Lookup::Absent, "{bytes:?}");
        }
    }

    fn xmp_packet(items: &str) -> String {
        format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Not the alt text</rdf:li></rdf:Alt></dc:description>
            <Iptc4xmpCore:AltTextAccessibility><rdf:Alt>{items}</rdf:Alt></Iptc4xmpCore:AltTextAccessibility>
            </rdf:Description></rdf:RDF></x:xmpmeta>"#
        )
    }

    #[test]
    fn picks_the_entry_for_the_language() {
        let xml = xmp_packet(
            r#"<rdf:li xml:lang="x-default">Default text</rdf:li>
               <rdf:li xml:lang="de-DE">Eine Katze</rdf:li>
               <rdf:li xml:lang="en-GB">A  cat,
                  sitting</rdf:li>"#,
        );
        let pick = |lang| match alt_text_from_xmp(&xml, lang) {
            Lookup::Found(f) => (f.lang, f.text),
            other => panic!("{other:?}"),
        };
        assert_eq!(pick("en-GB"), ("en-GB".into(), "A cat, sitting".into()));
        assert_eq!(pick("en"), ("en-GB".into(), "A cat, sitting".into()));
        assert_eq!(pick("de"), ("de-DE".into(), "Eine Katze".into()));
        assert_eq!(pick("fr"), ("x-default".into(), "Default text".into()));
    }

    #[test]
    fn other_languages_only_are_reported() {
        let xml =
            xmp_packet(r#"<rdf:li xml:lang="fr">Un chat</rdf:li><rdf:li xml:lang="de"> </rdf:li>"#);
        assert_eq!(
            alt_text_from_xmp(&xml, "en"),
            Lookup::OtherLanguages(vec!["fr".into()])
        );
    }

    #[test]
    fn entities_and_cdata_are_decoded() {
        let xml = xmp_packet(
            r#"<rdf:li xml:lang="x-default">Tom &amp; Jerry&#39;s &#x201C;chase&#x201D; <![CDATA[<fast>]]></rdf:li>"#,
        );
        assert_eq!(
            alt_text_from_xmp(&xml, "en"),
            found("Tom & Jerry's \u{201C}chase\u{201D} <fast>")
        );
    }

    #[test]
    fn other_properties_and_broken_xml_give_nothing() {
        let xml = xmp_packet("");
        assert_eq!(alt_text_from_xmp(&xml, "en"), Lookup::Absent);
        assert_eq!(
            alt_text_from_xmp("<x:xmpmeta><unclosed", "en"),
            Lookup::Absent
        );
        assert_eq!(alt_text_from_xmp("", "en"), Lookup::Absent);
    }
}
