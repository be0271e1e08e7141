//! s3-alt-text: gives every image uploaded to an S3 bucket its alt text.
//!
//! An S3 `ObjectCreated` notification names the object; the [`pipeline`] reads its first
//! bytes, asks the configured [`provider`]s for a caption, and writes it back as an object
//! tag and a DynamoDB record. `main.rs` only builds the clients and starts the runtime.

pub mod app;
pub mod backfill;
pub mod cli;
pub mod config;
pub mod event;
#[cfg(test)]
mod fakes;
pub mod handler;
pub mod image;
pub mod intake;
pub mod key_store;
pub mod metrics;
pub mod object_store;
pub mod pipeline;
pub mod provider;
pub mod quality;
pub mod record;
pub mod record_store;
pub mod retry;
pub mod secret;
pub mod store_error;
pub mod tags;
pub mod trust;
pub mod xmp;
