//! s3-alt-text: gives every image uploaded to an S3 bucket its alt text.
//!
//! An S3 event names an object; the [`pipeline`] claims it, reads its first bytes, asks the
//! configured [`provider`]s for a caption, and writes it back as an object tag and a
//! DynamoDB record. Dependencies point one way, from the entry down:
//!
//! ```text
//! main ─▶ cli ─▶ app ─▶ config ─▶ handler ─▶ pipeline ─▶ provider ─▶ store ─▶ caption
//!                                    │           │            │               event
//!                                    ▼           ▼            ▼               image
//!                                  report ◀── metrics       (image)           env, secret
//! ```
//!
//! - [`app`]: the composition root (clients, stores, providers, handler) and `serve()`;
//! - [`cli`]: the terminal commands (`replay`, `backfill`);
//! - [`config`]: the environment, as nested typed settings;
//! - [`handler`]: one invocation, and the answer each caller expects;
//! - [`pipeline`]: one object, as named steps;
//! - [`provider`]: the captioning services, behind one trait, and their registry;
//! - [`store`]: S3 and DynamoDB behind small traits, with in-memory fakes for tests;
//! - [`caption`]: the record, the tags and the quality guard;
//! - [`event`]: the invocation shapes and object events;
//! - [`image`]: formats, dimensions and embedded alt text;
//! - [`report`] and [`metrics`]: what an invocation did, and its CloudWatch metrics;
//! - [`env`] and [`secret`]: reading variables; keys and URLs that never print.

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
pub mod secret;
pub mod store;
