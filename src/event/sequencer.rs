//! Ordering the events of one key by their `sequencer`, as S3 documents it.

/// then they compare as (hexadecimal) strings.
pub fn sequencer_order(a: &str, b: &str) -> std::cmp::Ordering {
    let width = a.len().max(b.len());
    let pad = |s: &str| format!("{:0<width$}", s.to_ascii_uppercase());
    pad(a).cmp(&pad(b))
}

/// A sequencer as a fixed-width string that orders like [`sequencer_order`]: uppercase,
/// right-padded with zeros to 64 characters (S3 sequencers are far shorter). Stored in the
/// record so that a conditional write can compare sequencers.
pub fn sequencer_key(sequencer: &str) -> String {
    format!("{:0<64}", sequencer.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencers_compare_after_padding() {
        use std::cmp::Ordering::*;
        assert_eq!(
            sequencer_order("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
            Less
        );
        assert_eq!(
            sequencer_order("0055AED6DCD9028", "0055AED6DCD90281E5"),
            Less
        );
        assert_eq!(
            sequencer_order("0055AED6DCD90290", "0055AED6DCD90281E5"),
            Greater
        );
        assert_eq!(
            sequencer_order("617f08299329d189", "617F08299329D189"),
            Equal
        );
    }
}
