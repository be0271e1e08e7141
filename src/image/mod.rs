//! Image format detection from an object's first bytes.
//!
//! The name of an object proves nothing: the format is read from the magic bytes, with the
//! stored content type only as a tie-breaker for SVG (text) files. [`xmp`] reads the alt
//! text an image carries, [`context`] what its owner said it is for, [`prepare`] converts it
//! for the services sent its bytes.

pub mod context;
pub mod prepare;
pub mod xmp;

/// The image formats the function recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
    Heic,
    Bmp,
    Tiff,
    Svg,
}

impl ImageFormat {
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Gif => "gif",
            ImageFormat::Webp => "webp",
            ImageFormat::Avif => "avif",
            ImageFormat::Heic => "heic",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Svg => "svg",
        }
    }

    /// The format as people write it (`JPEG`, `WebP`).
    pub fn label(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::Gif => "GIF",
            ImageFormat::Webp => "WebP",
            ImageFormat::Avif => "AVIF",
            ImageFormat::Heic => "HEIC",
            ImageFormat::Bmp => "BMP",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Svg => "SVG",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Webp => "image/webp",
            ImageFormat::Avif => "image/avif",
            ImageFormat::Heic => "image/heic",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Svg => "image/svg+xml",
        }
    }
}

/// Detects the image format of `head`, the first bytes of an object (a few KiB suffice).
/// `content_type` is the object's stored Content-Type, if any.
pub fn detect(head: &[u8], content_type: Option<&str>) -> Option<ImageFormat> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(ImageFormat::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(ImageFormat::Png);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(ImageFormat::Gif);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(ImageFormat::Webp);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return iso_brand(head);
    }
    if head.starts_with(b"BM") && head.len() >= 26 && head[14..18] != [0, 0, 0, 0] {
        return Some(ImageFormat::Bmp);
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return Some(ImageFormat::Tiff);
    }
    if looks_like_svg(head, content_type) {
        return Some(ImageFormat::Svg);
    }
    None
}

/// Width and height in pixels from the image's header, where `head` holds it (the
/// `imagesize` crate reads them; SVG has none). A BMP is read here: `imagesize` takes the
/// negative height of a top-down BMP for a huge one.
pub fn dimensions(head: &[u8], format: ImageFormat) -> Option<(u32, u32)> {
    match format {
        ImageFormat::Svg => return None,
        ImageFormat::Bmp => return bmp_dimensions(head),
        _ => {}
    }
    let size = imagesize::blob_size(head).ok()?;
    let width = u32::try_from(size.width).ok()?;
    let height = u32::try_from(size.height).ok()?;
    (width > 0 && height > 0).then_some((width, height))
}

/// A BMP's width and height: little-endian at bytes 18 and 22, the height negative when
/// the rows are stored top-down.
fn bmp_dimensions(head: &[u8]) -> Option<(u32, u32)> {
    let le32 = |at: usize| Some(i32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?));
    let (width, height) = (le32(18)?.unsigned_abs(), le32(22)?.unsigned_abs());
    (width > 0 && height > 0).then_some((width, height))
}

/// AVIF and HEIF are ISO-BMFF files told apart by the brands in their `ftyp` box.
fn iso_brand(head: &[u8]) -> Option<ImageFormat> {
    let box_len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = box_len.clamp(12, head.len());
    let brands = std::iter::once(&head[8..12]).chain(head[16.min(end)..end].chunks_exact(4));
    let mut heic = false;
    for brand in brands {
        match brand {
            b"avif" | b"avis" => return Some(ImageFormat::Avif),
            b"heic" | b"heix" | b"heim" | b"heis" | b"mif1" | b"msf1" => heic = true,
            _ => {}
        }
    }
    heic.then_some(ImageFormat::Heic)
}

/// SVG is XML text whose root element is `svg`.
fn looks_like_svg(head: &[u8], content_type: Option<&str>) -> bool {
    if head.contains(&0) {
        return false;
    }
    let Ok(text) = std::str::from_utf8(&head[..head.len().min(4096)]).or_else(|e| {
        // The prefix may end inside a multi-byte character.
        std::str::from_utf8(&head[..e.valid_up_to()])
    }) else {
        return false;
    };
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let declared_svg = content_type.is_some_and(|ct| ct.starts_with("image/svg+xml"));
    let starts_as_xml = text.starts_with("<?xml")
        || text.starts_with("<!--")
        || text.starts_with("<!DOCTYPE")
        || text.starts_with("<svg");
    starts_as_xml && (text.contains("<svg") || (declared_svg && text.len() == 4096))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_sample_images() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/");
        for (file, format) in [
            ("cat.jpg", ImageFormat::Jpeg),
            ("coffee.jpg", ImageFormat::Jpeg),
            ("astronaut.png", ImageFormat::Png),
            ("rocket.webp", ImageFormat::Webp),
        ] {
            let bytes = std::fs::read(format!("{dir}{file}")).unwrap();
            assert_eq!(detect(&bytes[..64], None), Some(format), "{file}");
        }
    }

    #[test]
    fn reads_the_sample_images_dimensions() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/");
        for (file, format, expected) in [
            ("cat.jpg", ImageFormat::Jpeg, Some((451, 300))),
            ("coffee.jpg", ImageFormat::Jpeg, Some((600, 400))),
            ("astronaut.png", ImageFormat::Png, Some((512, 512))),
            ("rocket.webp", ImageFormat::Webp, Some((640, 427))),
        ] {
            let bytes = std::fs::read(format!("{dir}{file}")).unwrap();
            let head = &bytes[..bytes.len().min(64 * 1024)];
            let (w, h) = dimensions(head, format).unwrap_or_else(|| panic!("{file}"));
            if let Some(size) = expected {
                assert_eq!((w, h), size, "{file}");
            }
            assert!(
                (50..=10_000).contains(&w) && (50..=10_000).contains(&h),
                "{file}: {w}×{h}"
            );
        }
        assert_eq!(
            dimensions(b"GIF89a\x20\x03\x58\x02\0\0", ImageFormat::Gif),
            Some((800, 600))
        );
        // A BMP of 40×30 pixels stored top-down: its height is negative.
        let mut bmp = b"BM\0\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0".to_vec();
        bmp.extend(40i32.to_le_bytes());
        bmp.extend((-30i32).to_le_bytes());
        bmp.extend([1, 0, 24, 0]);
        assert_eq!(dimensions(&bmp, ImageFormat::Bmp), Some((40, 30)));
        assert_eq!(dimensions(b"\xff\xd8\xff", ImageFormat::Jpeg), None);
    }

    #[test]
    fn detects_other_formats_by_magic() {
        assert_eq!(detect(b"GIF89a\x01\x00", None), Some(ImageFormat::Gif));
        assert_eq!(
            detect(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", None),
            Some(ImageFormat::Avif)
        );
        assert_eq!(
            detect(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", None),
            Some(ImageFormat::Heic)
        );
        assert_eq!(
            detect(b"\0\0\0\x18ftypisom\0\0\0\0isomiso2", None),
            None,
            "an mp4 is not an image"
        );
        assert_eq!(detect(b"II*\0\x08\0\0\0", None), Some(ImageFormat::Tiff));
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0; 12]);
        bmp.extend_from_slice(&40u32.to_le_bytes());
        bmp.extend_from_slice(&[0; 8]);
        assert_eq!(detect(&bmp, None), Some(ImageFormat::Bmp));
    }

    #[test]
    fn detects_svg_text() {
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>"#;
        assert_eq!(detect(svg, Some("image/svg+xml")), Some(ImageFormat::Svg));
        assert_eq!(
            detect(b"\xef\xbb\xbf  <svg viewBox='0 0 1 1'></svg>", None),
            Some(ImageFormat::Svg)
        );
        assert_eq!(
            detect(
                b"<?xml version=\"1.0\"?><rss></rss>",
                Some("application/xml")
            ),
            None
        );
        assert_eq!(detect(b"<html><svg></svg></html>", Some("text/html")), None);
    }

    #[test]
    fn text_and_names_are_not_images() {
        assert_eq!(detect(b"hello, world\n", Some("text/plain")), None);
        assert_eq!(
            detect(b"%PDF-1.7\n", Some("image/jpeg")),
            None,
            "a lying content type is not enough"
        );
        assert_eq!(detect(b"", None), None);
    }
}
