//! The integration tests, in one binary: the function against the local stack it starts
//! on free ports (SeaweedFS for S3, dynalite for DynamoDB, moto for SSM and Secrets
//! Manager), fakes of the captioning services, the release binary under a Lambda Runtime
//! API emulator, and property tests of the functions that take untrusted text. The helpers
//! they share are in `support`.

mod support;

mod backfill;
mod cli;
mod context;
mod deliveries;
mod event_sources;
mod events;
mod faults;
mod handler;
mod images;
mod key_store;
mod lambda_binary;
mod presign;
mod properties;
mod providers;
mod record_store;
mod shown;
mod soak;
mod spend;
mod tags;
mod thumbnails;
