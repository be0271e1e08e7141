//! Object keys as notifications encode them: decoding never panics, and what it decodes
//! round-trips through the same form-URL encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_alt_text::event::{decode_key, sequencer_key, sequencer_order};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = decode_key(raw) {
        let encoded: String = key
            .bytes()
            .map(|b| match b {
                b' ' => "+".to_string(),
                b if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect();
        assert_eq!(decode_key(&encoded).as_deref(), Ok(key.as_str()));
    }
    // Sequencers: the stored key orders like the comparison S3 documents.
    if let Some((a, b)) = raw.split_once(',')
        && a.len() <= 64
        && b.len() <= 64
        && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_hexdigit())
    {
        assert_eq!(
            sequencer_key(a).cmp(&sequencer_key(b)),
            sequencer_order(a, b)
        );
    }
});
