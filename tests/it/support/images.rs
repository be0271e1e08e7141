//! Test images made at run time: a photograph-sized JPEG stored sideways with its EXIF
//! orientation and a red marker in its (upright) top-left corner, a PNG with transparency,
//! an animated GIF, BMP, TIFF and WebP, the headers of HEIC and AVIF files, an SVG, and a
//! PNG whose header claims more pixels than any memory holds.

use std::io::Cursor;

use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

const RED: Rgb<u8> = Rgb([230, 20, 20]);

/// An upright `w`×`h` picture: a grey gradient with a red block in its top-left corner.
pub fn upright(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if x < w / 8 && y < h / 8 {
            RED
        } else {
            let v = (60 + (x + y) * 120 / (w + h)) as u8;
            Rgb([v, v, v.saturating_add(20)])
        }
    })
}

/// A JPEG of `upright` stored turned 90° anticlockwise, with EXIF orientation 6 saying it is
/// shown turned back clockwise, as a phone held upright stores it.
pub fn sideways_jpeg(w: u32, h: u32) -> Vec<u8> {
    let stored = image::imageops::rotate270(&upright(w, h));
    let exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
    encoder.add_app_segment(1, exif).unwrap();
    let (sw, sh) = stored.dimensions();
    encoder
        .encode(
            stored.as_raw(),
            sw as u16,
            sh as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    bytes
}

fn encoded(image: DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// A PNG whose left half is transparent.
pub fn transparent_png(w: u32, h: u32) -> Vec<u8> {
    let picture = upright(w, h);
    let rgba = RgbaImage::from_fn(w, h, |x, y| {
        let Rgb([r, g, b]) = *picture.get_pixel(x, y);
        Rgba([r, g, b, if x < w / 2 && y > h / 4 { 0 } else { 255 }])
    });
    encoded(DynamicImage::ImageRgba8(rgba), image::ImageFormat::Png)
}

/// A GIF of two frames: red, then blue.
pub fn animated_gif(w: u32, h: u32) -> Vec<u8> {
    let frames = [Rgba([230, 20, 20, 255]), Rgba([20, 20, 230, 255])]
        .map(|colour| image::Frame::new(RgbaImage::from_pixel(w, h, colour)));
    let mut bytes = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut bytes)
        .encode_frames(frames)
        .unwrap();
    bytes
}

pub fn bmp(w: u32, h: u32) -> Vec<u8> {
    encoded(
        DynamicImage::ImageRgb8(upright(w, h)),
        image::ImageFormat::Bmp,
    )
}

pub fn tiff(w: u32, h: u32) -> Vec<u8> {
    encoded(
        DynamicImage::ImageRgb8(upright(w, h)),
        image::ImageFormat::Tiff,
    )
}

pub fn webp(w: u32, h: u32) -> Vec<u8> {
    encoded(
        DynamicImage::ImageRgb8(upright(w, h)),
        image::ImageFormat::WebP,
    )
}

/// The start of an ISO-BMFF image of `brand` (`heic`, `avif`): enough to be recognised.
pub fn iso_image(brand: &[u8; 4]) -> Vec<u8> {
    let mut bytes = b"\0\0\0\x1cftyp".to_vec();
    bytes.extend(brand);
    bytes.extend(b"\0\0\0\0mif1miaf");
    bytes.extend([0x42; 2000]);
    bytes
}

pub fn svg() -> Vec<u8> {
    br#"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="red"/></svg>"#.to_vec()
}

/// A PNG header claiming `side` × `side` RGBA pixels, followed by a scrap of data: a
/// decompression bomb's shape (no decoder could read it, so a refusal that names its size
/// shows it was refused from the header).
pub fn bomb_png(side: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0d".to_vec();
    bytes.extend(&ihdr);
    bytes.extend(crc32(&ihdr).to_be_bytes());
    bytes.extend(b"\0\0\0\x10IDAT");
    bytes.extend([
        0x78, 0x9c, 0xed, 0xc1, 0x01, 0x01, 0, 0, 0, 0x80, 0x90, 0xfe, 0xaf, 0xee, 0, 0,
    ]);
    bytes
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The pixels of a JPEG, PNG or GIF a fake received.
pub fn pixels(bytes: &[u8]) -> DynamicImage {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut decoder = jpeg_decoder::Decoder::new(bytes);
        let raw = decoder.decode().expect("a JPEG");
        let info = decoder.info().unwrap();
        let (w, h) = (u32::from(info.width), u32::from(info.height));
        return match info.pixel_format {
            jpeg_decoder::PixelFormat::L8 => {
                DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, raw).unwrap())
            }
            _ => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, raw).unwrap()),
        };
    }
    image::load_from_memory(bytes).expect("an image")
}

/// Whether the picture is the right way up: the red marker in its top-left corner, in no
/// other.
pub fn marker_top_left(image: &DynamicImage) -> bool {
    use image::GenericImageView;
    let (w, h) = image.dimensions();
    let red = |x: u32, y: u32| {
        let [r, g, b, _] = image.get_pixel(x, y).0;
        r > 180 && g < 80 && b < 80
    };
    red(w / 32, h / 32)
        && !red(w - w / 32, h / 32)
        && !red(w / 32, h - h / 32)
        && !red(w - w / 32, h - h / 32)
}
