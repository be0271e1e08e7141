//! s3-alt-text: gives every image uploaded to an S3 bucket its alt text.
//!
//! An S3 event names an object; the [`pipeline`] claims it, reads its first bytes, asks the
//! configured [`provider`]s for a caption, and writes it back as an object tag and a
//! DynamoDB record. Each module uses only the layers below its own (checked by
//! `scripts/check_structure.py`):
//!
//! ```text
//! main
//! cli                       the terminal commands
//! app                       the composition root, and `serve()`
//! config      handler       the settings │ one invocation
//! pipeline                  one object, as named steps
//! provider    metrics       the captioning services │ CloudWatch metrics
//! store       report        S3 and DynamoDB │ what an invocation did
//! caption     event  image  the record, tags, guard │ invocations │ formats, metadata
//! env  retry  secret  time   variables │ what a retry can help │ keys and URLs that never
//!                           print │ clock, deadlines
//! ```

pub mod app;
pub mod caption;
pub mod cli;
pub mod config;
pub mod env;
pub mod event;
pub mod handler;
pub mod image;
pub mod metrics;
pub mod pipeline;
pub mod provider;
pub mod report;
pub mod retry;
pub mod secret;
pub mod store;
pub mod time;
