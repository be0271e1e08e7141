//! Decoding within a memory cap: a JPEG at the smallest DCT scale that still covers the size
//! wanted (`jpeg-decoder`), the other formats by the `image` crate (a GIF's first frame, a
//! TIFF's first page); and the EXIF orientation the pixels are to be turned by.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageBuffer, ImageDecoder, ImageReader, RgbImage};

use super::{Unpreparable, dct_scaled, fit};
use crate::image::ImageFormat;

/// Decoded pixels and how to turn them upright.
pub struct Decoded {
    pub image: DynamicImage,
    pub orientation: Orientation,
}

/// Decodes `bytes` (an image of `format`) for a result whose longest edge is `edge`, never
/// allocating more than `memory` bytes for it.
pub fn decode(
    bytes: &[u8],
    format: ImageFormat,
    edge: u32,
    memory: u64,
) -> Result<Decoded, Unpreparable> {
    let cap = usize::try_from(memory).unwrap_or(usize::MAX);
    match format {
        ImageFormat::Jpeg => decode_jpeg(bytes, edge, cap),
        _ => decode_other(bytes, format, memory),
    }
}

fn undecodable(format: &str, e: impl std::fmt::Display) -> Unpreparable {
    Unpreparable(format!("the {format} could not be decoded: {e}"))
}

fn decode_jpeg(bytes: &[u8], edge: u32, cap: usize) -> Result<Decoded, Unpreparable> {
    let fail = |e: jpeg_decoder::Error| undecodable("JPEG", e);
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(cap);
    decoder.read_info().map_err(fail)?;
    let info = decoder.info().expect("read_info read the frame");
    if info.coding_process == jpeg_decoder::CodingProcess::Lossless
        || info.pixel_format == jpeg_decoder::PixelFormat::L16
    {
        // Decoded at full size and 16 bits whatever the scale asked: not converted.
        return Err(Unpreparable(
            "a lossless or 12-bit JPEG is not converted here: a service given its URL that takes it can caption it".into(),
        ));
    }
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let (tw, th) = fit((w, h), edge);
    let (sw, sh) = dct_scaled((w, h), (tw, th));
    // The decoder's own reading of the frame, checked again before any pixel is decoded:
    // its planes and output at this scale, and a progressive JPEG's coefficients.
    let needed = 2 * 4 * u64::from(sw) * u64::from(sh)
        + super::jpeg::progressive_coefficient_bytes(bytes).unwrap_or(0);
    if needed > cap as u64 {
        return Err(Unpreparable(format!(
            "the JPEG's frame ({w}×{h}) needs {} MB to decode, more than the {} MB counted for it; it was not decoded",
            needed.div_ceil(1 << 20),
            (cap as u64) >> 20
        )));
    }
    let (sw, sh) = decoder.scale(clamp16(sw), clamp16(sh)).map_err(fail)?;
    let pixels = decoder.decode().map_err(fail)?;
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8)
        }
        jpeg_decoder::PixelFormat::L16 => None,
        jpeg_decoder::PixelFormat::RGB24 => {
            RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8)
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            ImageBuffer::from_raw(sw, sh, cmyk_to_rgb(&pixels)).map(DynamicImage::ImageRgb8)
        }
    }
    .ok_or_else(|| {
        Unpreparable("the JPEG decoded to fewer pixels than its header claims".into())
    })?;
    Ok(Decoded { image, orientation })
}

fn clamp16(side: u32) -> u16 {
    u16::try_from(side).unwrap_or(u16::MAX)
}

/// RGB of the CMYK `jpeg-decoder` gives (the inks themselves, 255 the most ink).
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for p in cmyk.chunks_exact(4) {
        let k = 255 - u16::from(p[3]);
        rgb.extend(
            p[..3]
                .iter()
                .map(|&c| ((255 - u16::from(c)) * k / 255) as u8),
        );
    }
    rgb
}

/// The `image` crate's codec of a format decoded by it.
fn codec(format: ImageFormat) -> Option<image::ImageFormat> {
    Some(match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Webp => image::ImageFormat::WebP,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        ImageFormat::Tiff => image::ImageFormat::Tiff,
        _ => return None,
    })
}

/// The bytes the pixels of an image (not a JPEG) decode to, as its decoder reads them from
/// the header in `head`; `None` if `head` does not hold it.
pub fn header_total_bytes(head: &[u8], format: ImageFormat) -> Option<u64> {
    let mut reader = ImageReader::new(Cursor::new(head));
    reader.set_format(codec(format)?);
    Some(reader.into_decoder().ok()?.total_bytes())
}

fn decode_other(bytes: &[u8], format: ImageFormat, memory: u64) -> Result<Decoded, Unpreparable> {
    let label = format.label();
    let fail = |e: image::ImageError| undecodable(label, e);
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(
        codec(format).ok_or_else(|| Unpreparable(format!("{label} is not decoded here")))?,
    );
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(memory);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(fail)?;
    // The pixels count against the cap, the decoder's own buffers against what is left.
    limits.reserve(decoder.total_bytes()).map_err(fail)?;
    decoder.set_limits(limits).map_err(fail)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    Ok(Decoded { image, orientation })
}
