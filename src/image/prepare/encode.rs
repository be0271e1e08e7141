//! From decoded pixels to the bytes sent: scaled to fit the edge, turned upright, encoded as
//! JPEG (`jpeg-encoder`), or as PNG when the image has transparency a JPEG would lose.

use image::{DynamicImage, GenericImageView, ImageEncoder};

use super::decode::Decoded;
use super::{JPEG_QUALITY, Prepared, Target, Unpreparable, fit};
use crate::image::ImageFormat;

/// `decoded`, its longest edge at most `edge`, upright, encoded for `target`.
pub fn encode(decoded: &Decoded, edge: u32, target: &Target) -> Result<Prepared, Unpreparable> {
    let source = &decoded.image;
    let (w, h) = fit(source.dimensions(), edge);
    let mut image = if (w, h) == source.dimensions() {
        source.clone()
    } else {
        // Averages the source pixels each result pixel covers, in integers, with no
        // intermediate image: enough for a caption, and a fraction of a filter's time and
        // memory.
        source.thumbnail_exact(w, h)
    };
    image.apply_orientation(decoded.orientation);
    let png = target.formats.contains(&ImageFormat::Png);
    if png && has_transparency(&image) {
        encode_png(image)
    } else {
        encode_jpeg(image)
    }
}

/// Whether any pixel is not fully opaque.
fn has_transparency(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageLumaA8(i) => i.pixels().any(|p| p.0[1] < u8::MAX),
        DynamicImage::ImageRgba8(i) => i.pixels().any(|p| p.0[3] < u8::MAX),
        DynamicImage::ImageLumaA16(i) => i.pixels().any(|p| p.0[1] < u16::MAX),
        DynamicImage::ImageRgba16(i) => i.pixels().any(|p| p.0[3] < u16::MAX),
        DynamicImage::ImageRgba32F(i) => i.pixels().any(|p| p.0[3] < 1.0),
        _ => false,
    }
}

fn encode_jpeg(image: DynamicImage) -> Result<Prepared, Unpreparable> {
    let (w, h) = image.dimensions();
    let (pixels, color) = match image {
        DynamicImage::ImageLuma8(gray) => (gray.into_raw(), jpeg_encoder::ColorType::Luma),
        other => (other.into_rgb8().into_raw(), jpeg_encoder::ColorType::Rgb),
    };
    let mut bytes = Vec::new();
    let side = |s: u32| {
        u16::try_from(s).map_err(|_| Unpreparable(format!("{s} px is too large for a JPEG")))
    };
    jpeg_encoder::Encoder::new(&mut bytes, JPEG_QUALITY)
        .encode(&pixels, side(w)?, side(h)?, color)
        .map_err(|e| Unpreparable(format!("the image could not be encoded as JPEG: {e}")))?;
    Ok(Prepared {
        bytes,
        format: ImageFormat::Jpeg,
        width: w,
        height: h,
    })
}

fn encode_png(image: DynamicImage) -> Result<Prepared, Unpreparable> {
    let (w, h) = image.dimensions();
    let rgba = image.into_rgba8();
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(rgba.as_raw(), w, h, image::ExtendedColorType::Rgba8)
        .map_err(|e| Unpreparable(format!("the image could not be encoded as PNG: {e}")))?;
    Ok(Prepared {
        bytes,
        format: ImageFormat::Png,
        width: w,
        height: h,
    })
}
