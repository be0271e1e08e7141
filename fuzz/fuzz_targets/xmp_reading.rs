//! Any bytes as a JPEG, PNG or WebP: format detection, dimensions and the embedded alt-text
//! walker end without a panic, within their read budget.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use s3_alt_text::image::{self, ImageFormat};
use s3_alt_text::image::xmp::{self, RangeReader};

struct Memory {
    bytes: Bytes,
    reads: AtomicUsize,
}

impl RangeReader for Memory {
    type Error = ();
    fn read_range(&self, start: u64, len: u64) -> impl Future<Output = Result<Bytes, ()>> + Send {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let start = (start as usize).min(self.bytes.len());
        let end = start.saturating_add(len as usize).min(self.bytes.len());
        std::future::ready(Ok(self.bytes.slice(start..end)))
    }
}

/// Runs a future that never waits (the reader answers at once).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = image::detect(data, None);
    for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp] {
        let _ = image::dimensions(data, format);
        let reader = Memory {
            bytes: bytes.clone(),
            reads: AtomicUsize::new(0),
        };
        let head = bytes.slice(..bytes.len().min(4096));
        let _ = block_on(xmp::read_alt_text(
            &reader,
            format,
            head,
            data.len() as u64,
            "en",
        ));
        assert!(
            reader.reads.load(Ordering::Relaxed) <= 16,
            "the read budget holds"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = xmp::alt_text_from_xmp(text, "de");
    }
});
