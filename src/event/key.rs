//! Object keys and fields as events carry them: form-URL-encoded keys, the `null` version
//! of an unversioned bucket, quoted ETags.

use super::RecordError;

/// Decodes the key of record `index`.
pub fn decode(index: usize, raw: &str) -> Result<String, RecordError> {
    decode_key(raw).map_err(|reason| RecordError::BadKey {
        index,
        raw: raw.to_string(),
        reason,
    })
}

/// A version id, unless absent or the `null` of an unversioned bucket.
pub fn non_null(version_id: Option<String>) -> Option<String> {
    version_id.filter(|v| !v.is_empty() && v != "null")
}

pub(crate) fn unquote(etag: Option<String>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_string())
        .filter(|e| !e.is_empty())
}

/// Decodes an object key as S3 event notifications encode it (form-URL encoding):
/// `+` is a space and `%XX` are the bytes of UTF-8 text.
pub fn decode_key(raw: &str) -> Result<String, String> {
    if let Some(bad) = malformed_escape(raw) {
        return Err(format!("invalid percent escape at byte {bad}"));
    }
    let with_spaces = raw.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&with_spaces).collect();
    String::from_utf8(bytes).map_err(|_| "percent escapes are not UTF-8".to_string())
}

/// Position of a `%` not followed by two hex digits (percent_decode passes those through).
fn malformed_escape(raw: &str) -> Option<usize> {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().find_map(|(i, &b)| {
        let ok = b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        (!ok).then_some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_encoded_keys() {
        assert_eq!(decode_key("my+photo.jpg").unwrap(), "my photo.jpg");
        assert_eq!(decode_key("a%2Bb.jpg").unwrap(), "a+b.jpg");
        assert_eq!(decode_key("caf%C3%A9.jpg").unwrap(), "café.jpg");
        assert_eq!(
            decode_key("uploads/%C3%A9t%C3%A9/caf%C3%A9+cr%C3%A8me.jpg").unwrap(),
            "uploads/été/café crème.jpg"
        );
        assert_eq!(decode_key("100%25+real.png").unwrap(), "100% real.png");
        assert_eq!(decode_key("plain/key.webp").unwrap(), "plain/key.webp");
    }

    #[test]
    fn rejects_broken_escapes() {
        assert!(decode_key("bad%zzkey.jpg").is_err());
        assert!(decode_key("trailing%2").is_err());
        assert!(decode_key("latin1%E9.jpg").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn null_version_means_unversioned() {
        assert_eq!(non_null(Some("null".into())), None);
        assert_eq!(non_null(Some(String::new())), None);
        assert_eq!(non_null(Some("v1".into())).as_deref(), Some("v1"));
    }
}
