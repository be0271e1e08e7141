//! What a JPEG's frame header says about the memory of its decoding: a progressive JPEG is
//! decoded by holding every DCT coefficient of the whole image (two bytes each), whatever
//! the scale it is decoded at.

/// The bytes a progressive JPEG's coefficients take, from the frame header in `head`;
/// `None` for a baseline JPEG (decoded row by row) or a header not found.
pub fn progressive_coefficient_bytes(head: &[u8]) -> Option<u64> {
    let (marker, frame) = frame_header(head)?;
    if !matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE) {
        return None;
    }
    let height = u64::from(u16::from_be_bytes([*frame.get(1)?, *frame.get(2)?]));
    let width = u64::from(u16::from_be_bytes([*frame.get(3)?, *frame.get(4)?]));
    let count = usize::from(*frame.get(5)?);
    let sampling: Vec<(u64, u64)> = (0..count)
        .map(|i| {
            let factors = *frame.get(6 + i * 3 + 1)?;
            Some((
                u64::from(factors >> 4).max(1),
                u64::from(factors & 0x0F).max(1),
            ))
        })
        .collect::<Option<_>>()?;
    let h_max = sampling.iter().map(|s| s.0).max()?;
    let v_max = sampling.iter().map(|s| s.1).max()?;
    // Each component in 8 × 8 blocks, `h` × `v` of them in each MCU; two bytes a
    // coefficient.
    let (mcus_x, mcus_y) = (width.div_ceil(8 * h_max), height.div_ceil(8 * v_max));
    let bytes = sampling
        .iter()
        .map(|&(h, v)| mcus_x * h * 8 * mcus_y * v * 8 * 2)
        .sum();
    Some(bytes)
}

/// The start-of-frame marker and its segment, found by walking the segments from SOI.
fn frame_header(head: &[u8]) -> Option<(u8, &[u8])> {
    let mut at = 2;
    loop {
        if *head.get(at)? != 0xFF {
            return None;
        }
        let marker = *head.get(at + 1)?;
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([*head.get(at + 2)?, *head.get(at + 3)?]));
        let segment = head.get(at + 4..at + 2 + len)?;
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            return Some((marker, segment));
        }
        at += 2 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(progressive: bool, sampling: jpeg_encoder::SamplingFactor) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 80);
        encoder.set_progressive(progressive);
        encoder.set_sampling_factor(sampling);
        let pixels = vec![128u8; 300 * 200 * 3];
        encoder
            .encode(&pixels, 300, 200, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        bytes
    }

    #[test]
    fn a_progressive_jpeg_counts_its_coefficients() {
        use jpeg_encoder::SamplingFactor::{F_1_1, F_2_2};
        assert_eq!(progressive_coefficient_bytes(&jpeg(false, F_2_2)), None);
        // 4:4:4: three planes of 304 × 200; 4:2:0: one of 304 × 208 and two of 152 × 104.
        assert_eq!(
            progressive_coefficient_bytes(&jpeg(true, F_1_1)),
            Some(3 * 304 * 200 * 2)
        );
        assert_eq!(
            progressive_coefficient_bytes(&jpeg(true, F_2_2)),
            Some((304 * 208 + 2 * 152 * 104) * 2)
        );
        assert_eq!(progressive_coefficient_bytes(b"\xff\xd8\xff"), None);
    }
}
