//! What a service takes of an image, and the caption the fakes give of one.

/// What a service documents it takes: formats (by their bytes), a size, sides in pixels, and
/// whether an animated GIF.
pub struct Takes {
    pub formats: &'static [&'static str],
    pub max_bytes: usize,
    pub max_side: u32,
    pub min_side: u32,
    pub animated: bool,
}

impl Takes {
    /// Why the service would refuse `image`, if it would.
    pub fn check(&self, image: &[u8]) -> Result<(), String> {
        let kind = kind(image);
        if !self.formats.contains(&kind) {
            return Err(format!("{kind} is not a format it takes"));
        }
        if image.len() > self.max_bytes {
            return Err(format!("{} bytes is over {}", image.len(), self.max_bytes));
        }
        if let Ok(size) = imagesize::blob_size(image) {
            let (w, h) = (size.width as u32, size.height as u32);
            if w.max(h) > self.max_side || w.min(h) < self.min_side {
                return Err(format!("{w}×{h} pixels is outside what it takes"));
            }
        }
        if !self.animated && kind == "gif" && gif_frames(image) > 1 {
            return Err("an animated GIF is not taken".into());
        }
        Ok(())
    }
}

/// The format of an image by its first bytes, named as in its media type (`image/...`).
pub fn kind(image: &[u8]) -> &'static str {
    let at = |offset: usize, magic: &[u8]| image.get(offset..offset + magic.len()) == Some(magic);
    match image {
        [0xFF, 0xD8, 0xFF, ..] => "jpeg",
        [0x89, b'P', b'N', b'G', ..] => "png",
        [b'G', b'I', b'F', b'8', ..] => "gif",
        _ if at(0, b"RIFF") && at(8, b"WEBP") => "webp",
        [b'B', b'M', ..] => "bmp",
        [b'I', b'I', b'*', 0, ..] | [b'M', b'M', 0, b'*', ..] => "tiff",
        _ if at(4, b"ftypavif") => "avif",
        _ if at(4, b"ftypheic") => "heic",
        [b'<', ..] => "svg+xml",
        _ => "unknown",
    }
}

/// The frames of a GIF.
fn gif_frames(image: &[u8]) -> usize {
    use image::AnimationDecoder;
    image::codecs::gif::GifDecoder::new(std::io::Cursor::new(image))
        .map_or(0, |d| d.into_frames().count())
}

/// The caption the fakes give: the image's format and size, in a few languages.
pub fn describe(image: &[u8], lang: &str) -> String {
    let kind = match image.first() {
        Some(0xFF) => "JPEG",
        Some(0x89) => "PNG",
        Some(b'R') => "WebP",
        Some(b'G') => "GIF",
        _ => "unknown",
    };
    let n = image.len();
    match lang {
        "de" => format!("Ein {kind}-Foto mit {n} Bytes."),
        "fr" => format!("Une photo {kind} de {n} octets."),
        "en" => format!("A {kind} photograph of {n} bytes."),
        other => format!("({other}) A {kind} photograph of {n} bytes."),
    }
}
