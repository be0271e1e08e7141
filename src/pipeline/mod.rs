//! The pipeline: what happens to one object, as named steps.
//!
//! For a created object ([`caption`]): claim it and read its head together; reuse a caption
//! already paid for, or examine the bytes; ask the provider chain for the languages still
//! missing ([`chain`]); confirm the object is unchanged; write the tags and the record
//! ([`write_back`]). A deleted object's record goes too ([`forget`]). [`plan`] says what
//! processing would cost, for a dry-run backfill.
//!
//! Generic over the object store and the record store, so it runs against S3 and DynamoDB
//! in production and against in-memory fakes in unit tests.

mod answer;
mod attempt;
mod budget;
mod caption;
mod chain;
mod claim;
mod decorative;
pub mod edit;
mod forget;
mod keep;
pub mod memory;
mod outcome;
mod person;
mod plan;
mod settings;
mod settle;
mod source;
mod spend;
pub use spend::Allowance;
mod tagging;
mod write_back;

pub use attempt::CLAIM_GRACE_SECS;
pub use budget::{Budget, OverBudget, Per, SpendSettings};
pub use edit::{EditError, Edited, Shown};
use memory::MemoryBudget;
pub use outcome::Outcome;
pub use plan::Plan;
#[cfg(test)]
pub(crate) use settings::test_settings;
pub use settings::{MAX_LANGS, Settings};

use crate::event::{Action, ObjectEvent};
use crate::metrics::UsageMeter;
use crate::provider::Provider;
use crate::store::{ObjectId, ObjectStore, RecordStore};
use crate::time::Deadlines;

/// Bytes read at the start of every object: enough to recognise any image format and,
/// for most JPEGs and PNGs, to hold the XMP packet too.
pub const HEAD_BYTES: u64 = 64 * 1024;

/// Captions objects with a chain of providers, writing to an object store and a record store.
pub struct Pipeline<S, R> {
    store: S,
    records: R,
    providers: Vec<Box<dyn Provider>>,
    settings: Settings,
    usage: UsageMeter,
    memory: MemoryBudget,
}

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    pub fn new(
        store: S,
        records: R,
        providers: Vec<Box<dyn Provider>>,
        settings: Settings,
    ) -> Pipeline<S, R> {
        Pipeline {
            store,
            records,
            providers,
            memory: MemoryBudget::new(settings.memory_budget),
            settings,
            usage: UsageMeter::default(),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn records(&self) -> &R {
        &self.records
    }

    /// Processes one object event within `deadlines`.
    pub async fn process(&self, event: &ObjectEvent, deadlines: Deadlines) -> Outcome {
        match event.action {
            Action::Created => self.caption(event, deadlines).await,
            Action::Removed => forget::forget(&self.records, event).await,
        }
    }

    /// What processing has used since the last take (provider calls, bytes read…).
    pub fn usage(&self) -> &UsageMeter {
        &self.usage
    }
}

fn object_id(event: &ObjectEvent) -> ObjectId {
    ObjectId {
        bucket: event.bucket.clone(),
        key: event.key.clone(),
        version_id: event.version_id.clone(),
    }
}

#[cfg(test)]
mod spend_tests;
#[cfg(test)]
mod tests;
