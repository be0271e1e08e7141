//! The stores: S3 for the objects, DynamoDB for the records. Each sits behind a small
//! trait ([`ObjectStore`], [`RecordStore`]) so the pipeline is generic over them; the
//! in-memory fakes of the unit tests live beside them.

pub mod dynamodb;
mod dynamodb_ledger;
pub mod error;
pub mod ledger;
pub mod memory;
mod memory_records;
pub mod objects;
pub mod records;
pub mod s3;

pub use dynamodb::DynamoRecords;
pub use error::StoreError;
pub use ledger::{Ledger, Pause, Period};
pub use objects::{Listed, ObjectHead, ObjectId, ObjectStore, Page};
pub use records::{Claim, ClaimRequest, Condition, RecordPage, RecordStore};
pub use s3::S3Store;
