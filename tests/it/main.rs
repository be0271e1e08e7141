//! The integration tests, in one binary: the function against a moto server it starts on a
//! free port, fakes of the captioning services, the release binary under a Lambda Runtime
//! API emulator, and property tests of the functions that take untrusted text. The helpers
//! they share are in `support`.

mod support;

mod backfill;
mod event_sources;
mod events;
mod faults;
mod key_store;
mod lambda_binary;
mod local_stack;
mod presign;
mod properties;
mod providers;
