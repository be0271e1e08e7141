use image::{DynamicImage, GenericImageView, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

use super::*;

const RED: Rgb<u8> = Rgb([230, 20, 20]);
const GREY: Rgb<u8> = Rgb([128, 128, 128]);

/// What Bedrock takes (3.75 MB, 8000 px a side, no BMP or TIFF).
const BEDROCK: Target = Target {
    formats: &[
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::Webp,
    ],
    max_bytes: 3_750_000,
    max_side: 8000,
};

fn prep() -> Preparation {
    Preparation {
        max_edge: 1568,
        max_memory: 128 << 20,
    }
}

/// An upright `w`×`h` picture, grey with a red block in its top-left corner.
fn upright(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| if x < w / 8 && y < h / 8 { RED } else { GREY })
}

/// EXIF holding only an orientation, as an APP1 payload.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
    exif.extend(value.to_le_bytes());
    exif.extend([0, 0, 0, 0, 0, 0]);
    exif
}

fn jpeg(image: &RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
    if let Some(o) = orientation {
        encoder.add_app_segment(1, exif_orientation(o)).unwrap();
    }
    let (w, h) = image.dimensions();
    encoder
        .encode(
            image.as_raw(),
            w as u16,
            h as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    bytes
}

fn png(image: &DynamicImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            image.as_bytes(),
            image.width(),
            image.height(),
            image.color().into(),
        )
        .unwrap();
    bytes
}

fn plan_of(bytes: &[u8], format: ImageFormat, target: &Target) -> Result<Plan, Unpreparable> {
    let dims = crate::image::dimensions(bytes, format);
    plan(format, bytes.len() as u64, dims, bytes, target, &prep())
}

fn prepared(bytes: &[u8], format: ImageFormat, target: &Target) -> Prepared {
    let Plan::Convert { edge, memory, sent } = plan_of(bytes, format, target).unwrap() else {
        panic!("{format:?} is converted for this target");
    };
    let prepared = prepare(bytes, format, target, edge, memory).unwrap();
    assert!(
        prepared.bytes.len() as u64 <= sent,
        "within the plan's estimate"
    );
    prepared
}

fn decoded(prepared: &Prepared) -> DynamicImage {
    image::load_from_memory(&prepared.bytes)
        .or_else(|_| {
            let mut d = jpeg_decoder::Decoder::new(&prepared.bytes[..]);
            let pixels = d.decode().unwrap();
            let info = d.info().unwrap();
            Ok::<_, ()>(DynamicImage::ImageRgb8(
                RgbImage::from_raw(info.width.into(), info.height.into(), pixels).unwrap(),
            ))
        })
        .unwrap()
}

fn is_red(p: Rgba<u8>) -> bool {
    p.0[0] > 180 && p.0[1] < 80 && p.0[2] < 80
}

#[test]
fn sizes_fit_the_edge_and_the_dct_scale_covers_them() {
    assert_eq!(fit((8000, 6000), 1568), (1568, 1176));
    assert_eq!(fit((6000, 8000), 1568), (1176, 1568));
    assert_eq!(fit((1200, 800), 1568), (1200, 800), "never upscaled");
    assert_eq!(fit((100_000, 1), 1568), (1568, 1));
    assert_eq!(dct_scaled((8000, 6000), (1568, 1176)), (2000, 1500));
    assert_eq!(dct_scaled((3000, 2000), (1568, 1045)), (3000, 2000));
    assert_eq!(dct_scaled((20_000, 500), (1568, 39)), (2500, 63));
}

#[test]
fn an_image_that_fits_goes_as_it_is() {
    let small = jpeg(&upright(800, 600), Some(6));
    assert_eq!(plan_of(&small, ImageFormat::Jpeg, &BEDROCK), Ok(Plan::AsIs));
    // Too many pixels, too many bytes or a format it does not take: converted.
    let large = jpeg(&upright(2000, 1500), None);
    assert!(matches!(
        plan_of(&large, ImageFormat::Jpeg, &BEDROCK),
        Ok(Plan::Convert { edge: 1568, .. })
    ));
    let tight = Target {
        max_bytes: small.len() as u64 - 1,
        ..BEDROCK
    };
    assert!(matches!(
        plan_of(&small, ImageFormat::Jpeg, &tight),
        Ok(Plan::Convert { .. })
    ));
    let jpeg_only = Target {
        formats: &[ImageFormat::Jpeg],
        ..BEDROCK
    };
    let opaque = png(&DynamicImage::ImageRgb8(upright(64, 64)));
    assert!(matches!(
        plan_of(&opaque, ImageFormat::Png, &jpeg_only),
        Ok(Plan::Convert { .. })
    ));
    // A service's own side limit wins over a larger edge.
    let narrow = Target {
        max_side: 500,
        ..BEDROCK
    };
    assert!(matches!(
        plan_of(&small, ImageFormat::Jpeg, &narrow),
        Ok(Plan::Convert { edge: 500, .. })
    ));
}

#[test]
fn a_header_claiming_too_many_pixels_is_refused_before_any_decode() {
    // A PNG header claiming 100,000 × 100,000 pixels, and nothing else: decoding it would
    // fail, so a refusal proves no decode was tried.
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bomb.extend(100_000u32.to_be_bytes());
    bomb.extend(100_000u32.to_be_bytes());
    bomb.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    let Err(Unpreparable(reason)) = plan_of(&bomb, ImageFormat::Png, &BEDROCK) else {
        panic!("a bomb is refused");
    };
    assert!(
        reason.contains("100000×100000") && reason.contains("not decoded"),
        "{reason}"
    );
    // A file with no dimensions in its first bytes is read whole only if it fits half the
    // budget.
    let Err(Unpreparable(reason)) =
        plan(ImageFormat::Tiff, 100 << 20, None, &[], &BEDROCK, &prep())
    else {
        panic!("a 100 MB file of unknown size is refused");
    };
    assert!(reason.contains("no dimensions"), "{reason}");
    assert!(matches!(
        plan(ImageFormat::Tiff, 30 << 20, None, &[], &BEDROCK, &prep()),
        Ok(Plan::Convert { memory, .. }) if memory == 128 << 20
    ));
    // A 48 MP JPEG fits: it is decoded at a quarter of its size.
    let Ok(Plan::Convert { memory, .. }) = plan(
        ImageFormat::Jpeg,
        12 << 20,
        Some((8000, 6000)),
        &[],
        &BEDROCK,
        &prep(),
    ) else {
        panic!("a 48 MP JPEG is converted");
    };
    assert!(memory < 64 << 20, "{memory}");
}

#[test]
fn formats_without_a_decoder_here_say_where_they_can_go() {
    for (format, expected) in [
        (ImageFormat::Heic, "HEIC is not converted here"),
        (ImageFormat::Avif, "AltTextLab takes AVIF"),
        (ImageFormat::Svg, "only a service given its URL"),
    ] {
        let Err(Unpreparable(reason)) = plan(format, 1000, Some((10, 10)), &[], &BEDROCK, &prep())
        else {
            panic!("{format:?} is refused");
        };
        assert!(reason.contains(expected), "{reason}");
    }
}

#[test]
fn a_sideways_jpeg_is_scaled_and_turned_upright() {
    // Stored 3000 × 2000, to be shown turned 90° clockwise (EXIF orientation 6).
    let picture = upright(2000, 3000);
    let stored = image::imageops::rotate270(&picture);
    let bytes = jpeg(&stored, Some(6));
    let out = prepared(&bytes, ImageFormat::Jpeg, &BEDROCK);
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Jpeg, 1045, 1568)
    );
    let image = decoded(&out);
    assert_eq!(image.dimensions(), (1045, 1568));
    assert!(is_red(image.get_pixel(10, 10)), "the marker is top left");
    for (x, y) in [(1035, 10), (10, 1558), (1035, 1558)] {
        assert!(
            !is_red(image.get_pixel(x, y)),
            "({x}, {y}) is not the marker"
        );
    }
}

#[test]
fn transparency_is_kept_as_png_and_opaque_pixels_become_jpeg() {
    let clear = RgbaImage::from_fn(2000, 1000, |x, _| {
        Rgba([0, 90, 200, if x < 1000 { 0 } else { 255 }])
    });
    let out = prepared(
        &png(&DynamicImage::ImageRgba8(clear)),
        ImageFormat::Png,
        &BEDROCK,
    );
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Png, 1568, 784)
    );
    let image = decoded(&out);
    assert_eq!(
        image.get_pixel(5, 5).0[3],
        0,
        "transparent stays transparent"
    );
    assert_eq!(image.get_pixel(1560, 5).0[3], 255);

    let opaque = png(&DynamicImage::ImageRgba8(RgbaImage::from_pixel(
        2000,
        1000,
        Rgba([1, 2, 3, 255]),
    )));
    let out = prepared(&opaque, ImageFormat::Png, &BEDROCK);
    assert_eq!(
        out.format,
        ImageFormat::Jpeg,
        "an alpha channel that is all opaque"
    );
}

#[test]
fn a_gif_is_sent_as_its_first_frame_and_tiff_and_bmp_are_converted() {
    let frames = [RED, Rgb([20, 20, 230])].map(|colour| {
        let frame =
            RgbaImage::from_pixel(120, 80, Rgba([colour.0[0], colour.0[1], colour.0[2], 255]));
        image::Frame::new(frame)
    });
    let mut gif = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut gif)
        .encode_frames(frames)
        .unwrap();
    let no_gif = Target {
        formats: &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp],
        ..BEDROCK
    };
    let out = prepared(&gif, ImageFormat::Gif, &no_gif);
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Jpeg, 120, 80)
    );
    assert!(is_red(decoded(&out).get_pixel(60, 40)), "the first frame");

    let picture = DynamicImage::ImageRgb8(upright(300, 200));
    for (format, codec) in [
        (ImageFormat::Tiff, image::ImageFormat::Tiff),
        (ImageFormat::Bmp, image::ImageFormat::Bmp),
    ] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        picture.write_to(&mut bytes, codec).unwrap();
        let out = prepared(bytes.get_ref(), format, &BEDROCK);
        assert_eq!(
            (out.format, out.width, out.height),
            (ImageFormat::Jpeg, 300, 200),
            "{format:?}"
        );
        assert!(is_red(decoded(&out).get_pixel(5, 5)), "{format:?}");
    }
}

#[test]
fn a_result_larger_than_the_service_takes_is_scaled_further() {
    // Noise with transparency: a PNG of it hardly compresses.
    let mut seed = 7u32;
    let noise = RgbaImage::from_fn(1500, 1500, |_, _| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let [a, b, c, d] = seed.to_le_bytes();
        Rgba([a, b, c, d | 1])
    });
    let small = Target {
        max_bytes: 1 << 20,
        ..BEDROCK
    };
    let bytes = png(&DynamicImage::ImageRgba8(noise));
    let out = prepared(&bytes, ImageFormat::Png, &small);
    assert_eq!(out.format, ImageFormat::Png);
    assert!(out.bytes.len() <= 1 << 20, "{}", out.bytes.len());
    assert!(out.width < 1500, "{}", out.width);
}

#[test]
fn decoding_is_capped_and_broken_images_are_refused() {
    let bytes = png(&DynamicImage::ImageRgb8(upright(600, 600)));
    let Err(Unpreparable(reason)) = prepare(&bytes, ImageFormat::Png, &BEDROCK, 1568, 100_000)
    else {
        panic!("a decode past its cap is refused");
    };
    assert!(reason.contains("could not be decoded"), "{reason}");
    let big = jpeg(&upright(600, 600), None);
    let Err(Unpreparable(reason)) = prepare(&big, ImageFormat::Jpeg, &BEDROCK, 1568, 100_000)
    else {
        panic!("a JPEG decode past its cap is refused");
    };
    assert!(
        reason.contains("needs 3 MB to decode") && reason.contains("not decoded"),
        "{reason}"
    );
    let mut broken = b"\xff\xd8\xff\xe0".to_vec();
    broken.extend([0x5a; 4000]);
    let Err(Unpreparable(reason)) = prepare(&broken, ImageFormat::Jpeg, &BEDROCK, 1568, 1 << 26)
    else {
        panic!("a broken JPEG is refused");
    };
    assert!(reason.contains("could not be decoded"), "{reason}");
}

#[test]
fn the_memory_counted_is_what_the_header_says_the_pixels_take() {
    let picture = DynamicImage::ImageRgb8(upright(600, 400));
    let mut tiff = std::io::Cursor::new(Vec::new());
    picture
        .write_to(&mut tiff, image::ImageFormat::Tiff)
        .unwrap();
    let tiff = tiff.into_inner();
    let Ok(Plan::Convert { memory, .. }) = plan_of(&tiff, ImageFormat::Tiff, &BEDROCK) else {
        panic!("a TIFF is converted for Bedrock");
    };
    // The file, and its 8-bit RGB pixels with the scaled and turned copies and the result
    // (more than the decoder's three copies of the pixels).
    assert_eq!(
        memory,
        tiff.len() as u64 + 600 * 400 * 3 + 3 * 4 * 600 * 400
    );
    // Where the header is not in the bytes given, eight bytes a pixel are counted, for the
    // copies too.
    let Ok(Plan::Convert { memory, .. }) = plan(
        ImageFormat::Tiff,
        tiff.len() as u64,
        Some((600, 400)),
        &tiff[..4],
        &BEDROCK,
        &prep(),
    ) else {
        panic!("a TIFF is converted for Bedrock");
    };
    assert_eq!(
        memory,
        tiff.len() as u64 + 8 * 600 * 400 + 3 * 8 * 600 * 400
    );
    // A large TIFF: the decoder's three copies are the most.
    let roomy = Preparation {
        max_memory: 1 << 30,
        ..prep()
    };
    let big = plan(
        ImageFormat::Tiff,
        30 << 20,
        Some((3200, 3200)),
        &[],
        &BEDROCK,
        &roomy,
    );
    let Ok(Plan::Convert { memory, .. }) = big else {
        panic!("{big:?}");
    };
    assert_eq!(memory, (30 << 20) + 3 * 8 * 3200 * 3200);
}

#[test]
fn a_cmyk_jpeg_keeps_its_colours() {
    // Red ink-wise: no cyan, full magenta and yellow, no black.
    let inks = [0u8, 255, 255, 0].repeat(64 * 64);
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 95)
        .encode(&inks, 64, 64, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let out = prepare(&bytes, ImageFormat::Jpeg, &BEDROCK, 1568, 1 << 24).unwrap();
    let pixel = decoded(&out).get_pixel(32, 32);
    assert!(is_red(pixel), "{pixel:?}");
}
