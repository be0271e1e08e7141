//! Any payload, as the function receives it: the intake recognises its shape or names its
//! keys, and every record parses or fails alone, without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_alt_text::event::{self, Invocation};

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match event::parse(&payload) {
        Ok(Invocation::Async(_) | Invocation::Sqs(_) | Invocation::BatchJob(_)) => {}
        // An unrecognised payload is named by its keys, briefly.
        Err(err) => {
            let text = err.to_string();
            assert!(text.starts_with("unrecognised event"), "{text}");
        }
    }
    // SQS bodies and SNS messages are parsed from strings too.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = event::message(text);
    }
});
