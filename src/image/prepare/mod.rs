//! Preparing an image for a service that is sent its bytes: what it takes ([`Target`]), whether
//! the image goes as it is or is converted ([`plan`]), and the conversion ([`prepare`]):
//! decoded (a JPEG straight to about the size wanted, by DCT scaling), turned the right way up
//! by its EXIF orientation, downscaled so that its longest edge is at most `ALT_TEXT_MAX_EDGE`,
//! and re-encoded as JPEG (PNG where it has transparency).
//!
//! The plan is made from the header alone: an image whose decoding would not fit the memory
//! budget (a decompression bomb) is refused before any decode, and every decode is capped at
//! what the plan counted.

mod decode;
mod encode;
mod jpeg;

use super::ImageFormat;

/// The longest edge of a prepared image by default, in pixels. The language-model services
/// see no more: Claude on Bedrock downsizes an image whose long edge exceeds 1,568 px, OpenAI's
/// models work on at most about 1.5 megapixels (1,536 patches of 32 px, or a short side of
/// 768 px), and the captioning services describe a 1,568 px photograph as well as its 48 MP
/// original.
pub const DEFAULT_MAX_EDGE: u32 = 1568;
/// Quality of a re-encoded JPEG: artefacts stay well below what a caption notices.
pub const JPEG_QUALITY: u8 = 85;

/// What a service takes as bytes.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub formats: &'static [ImageFormat],
    pub max_bytes: u64,
    /// The longest side it takes, in pixels.
    pub max_side: u32,
}

/// How images are prepared: the longest edge wanted, and the most memory one preparation may
/// take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preparation {
    /// `ALT_TEXT_MAX_EDGE`.
    pub max_edge: u32,
    /// The memory budget: an image whose preparation needs more is refused, not decoded.
    pub max_memory: u64,
}

impl Default for Preparation {
    fn default() -> Preparation {
        Preparation {
            max_edge: DEFAULT_MAX_EDGE,
            max_memory: 1 << 30,
        }
    }
}

/// What is done with an image before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Sent as it is: an accepted format, small enough.
    AsIs,
    /// Decoded and re-encoded, its longest edge at most `edge`; the work holds at most
    /// `memory` bytes (the original's bytes included), and the result at most `sent`.
    Convert { edge: u32, memory: u64, sent: u64 },
}

impl Plan {
    /// The memory the preparation holds, beyond the bytes read.
    pub fn memory(self) -> u64 {
        match self {
            Plan::AsIs => 0,
            Plan::Convert { memory, .. } => memory,
        }
    }

    /// The most bytes a converted image has (nothing for one sent as it is).
    pub fn sent_at_most(self) -> u64 {
        match self {
            Plan::AsIs => 0,
            Plan::Convert { sent, .. } => sent,
        }
    }
}

/// An image ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// Why an image could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unpreparable(pub String);

/// The formats decoded here (pure Rust); HEIC and AVIF need C libraries, SVG a renderer.
pub fn can_decode(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::Gif
            | ImageFormat::Webp
            | ImageFormat::Bmp
            | ImageFormat::Tiff
    )
}

/// What to do with an image of `format`, `size` bytes and `dims` (from its header; `head` is
/// its first bytes) for `target`.
pub fn plan(
    format: ImageFormat,
    size: u64,
    dims: Option<(u32, u32)>,
    head: &[u8],
    target: &Target,
    prep: &Preparation,
) -> Result<Plan, Unpreparable> {
    let edge = prep.max_edge.min(target.max_side);
    let accepted = target.formats.contains(&format) && size <= target.max_bytes;
    let small = dims.is_none_or(|(w, h)| w.max(h) <= edge);
    if accepted && small {
        // Without dimensions in the header, the whole image is looked at again once read.
        return Ok(Plan::AsIs);
    }
    if !can_decode(format) {
        return Err(Unpreparable(not_decodable(format)));
    }
    let (memory, sent) = match dims {
        Some((w, h)) => {
            let (tw, th) = fit((w, h), edge);
            // A JPEG of a photograph takes under a byte a pixel; a PNG kept for its
            // transparency, up to four.
            let per_pixel = if format == ImageFormat::Jpeg { 1 } else { 4 };
            let sent = (u64::from(tw) * u64::from(th) * per_pixel).min(target.max_bytes);
            (memory_to_convert(format, size, (w, h), head, edge), sent)
        }
        // Unknown until the whole image is read: counted as all of the budget, of which
        // the file may take half.
        None if size <= prep.max_memory / 2 => (prep.max_memory, target.max_bytes),
        None => {
            return Err(Unpreparable(format!(
                "the image has {} MB and no dimensions in its first bytes: reading it whole to prepare it could take more than the {} MB the function keeps for images",
                size.div_ceil(1 << 20),
                prep.max_memory >> 20
            )));
        }
    };
    if memory > prep.max_memory {
        let (w, h) = dims.unwrap_or_default();
        return Err(Unpreparable(format!(
            "the image claims {w}×{h} pixels: preparing it would take {} MB, more than the {} MB the function keeps for images (a decompression bomb, or raise the function's memory); it was not decoded",
            memory.div_ceil(1 << 20),
            prep.max_memory >> 20
        )));
    }
    Ok(Plan::Convert { edge, memory, sent })
}

/// Why an image of `format` is not converted.
fn not_decodable(format: ImageFormat) -> String {
    match format {
        ImageFormat::Svg => {
            "SVG is a drawing, not pixels: only a service given its URL (AltTextLab) can caption it"
                .into()
        }
        other => format!(
            "{0} is not converted here (its decoders need C libraries): a service given the image's URL that takes {0} can caption it (AltTextLab takes AVIF)",
            other.label()
        ),
    }
}

/// The most memory converting an image of `dims` holds: its bytes throughout, and the more
/// of the decoder's peak (see [`decoding_memory`]) and of the decoded pixels with the scaled
/// and turned copies and the result.
fn memory_to_convert(
    format: ImageFormat,
    size: u64,
    (w, h): (u32, u32),
    head: &[u8],
    edge: u32,
) -> u64 {
    let (tw, th) = fit((w, h), edge);
    let (decoded, peak) = decoding_memory(format, (w, h), (tw, th), head);
    // The copies have the decoded pixels' depth: 4 bytes a pixel, 8 for 16-bit samples.
    let depth = (decoded / (u64::from(w) * u64::from(h)).max(1)).clamp(4, 16);
    let copies = 3 * depth * u64::from(tw) * u64::from(th);
    size.saturating_add(peak.max(decoded.saturating_add(copies)))
}

/// The decoded pixels of an image, and the most its decoding holds at once.
fn decoding_memory(
    format: ImageFormat,
    (w, h): (u32, u32),
    want: (u32, u32),
    head: &[u8],
) -> (u64, u64) {
    if format == ImageFormat::Jpeg {
        // At the DCT scale chosen, up to four components, held as planes and then
        // interleaved; a progressive JPEG's coefficients besides, at full size.
        let (dw, dh) = dct_scaled((w, h), want);
        let decoded = 4 * u64::from(dw) * u64::from(dh);
        let coefficients = jpeg::progressive_coefficient_bytes(head).unwrap_or(0);
        return (decoded, 2 * decoded + coefficients);
    }
    let pixels = u64::from(w) * u64::from(h);
    // What the decoder's reading of the header says the pixels take; eight bytes a pixel
    // (16-bit RGBA) where the header is beyond the first bytes.
    let decoded = decode::header_total_bytes(head, format).unwrap_or(pixels.saturating_mul(8));
    let peak = match format {
        // A GIF's canvas and frame; a TIFF's strip, the decoder's buffer and the copy out.
        ImageFormat::Gif => decoded.saturating_mul(2),
        ImageFormat::Tiff => decoded.saturating_mul(3),
        _ => decoded,
    };
    (decoded, peak)
}

/// `dims` scaled down (never up) so that the longest edge is at most `edge`.
pub fn fit((w, h): (u32, u32), edge: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= edge {
        return (w, h);
    }
    let scale = |side: u32| {
        ((u64::from(side) * u64::from(edge) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    (scale(w), scale(h))
}

/// The size a JPEG of `dims` decodes to at the smallest DCT scale (1/8, 1/4, 1/2, 1) that
/// still gives at least `want` on one side (as `jpeg-decoder` chooses it).
pub fn dct_scaled((w, h): (u32, u32), want: (u32, u32)) -> (u32, u32) {
    for denominator in [8, 4, 2] {
        let (dw, dh) = (w.div_ceil(denominator), h.div_ceil(denominator));
        if dw >= want.0 || dh >= want.1 {
            return (dw, dh);
        }
    }
    (w, h)
}

/// Converts `bytes`, an image of `format`, for `target`: decoded within `plan`'s memory,
/// turned upright, scaled to fit `edge`, re-encoded; scaled further while the result is
/// larger than the service takes. Runs on a blocking thread: it is all CPU.
pub fn prepare(
    bytes: &[u8],
    format: ImageFormat,
    target: &Target,
    edge: u32,
    memory: u64,
) -> Result<Prepared, Unpreparable> {
    let image = decode::decode(bytes, format, edge, memory)?;
    let mut edge = edge;
    loop {
        let prepared = encode::encode(&image, edge, target)?;
        if prepared.bytes.len() as u64 <= target.max_bytes {
            return Ok(prepared);
        }
        if edge <= 256 {
            return Err(Unpreparable(format!(
                "even at {edge} px the image is {} bytes, more than the {} this service takes",
                prepared.bytes.len(),
                target.max_bytes
            )));
        }
        edge = edge * 3 / 4;
    }
}

#[cfg(test)]
mod tests;
