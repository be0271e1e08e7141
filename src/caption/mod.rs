//! The caption as data: the [`record`] kept per object, the object [`tags`] it is written
//! to, and the [`quality`] guard every provider's caption passes.

pub mod quality;
pub mod record;
pub mod tags;

pub use record::{LangCaption, PaidAttempt, Record, Source, State, TagStatus};
pub use tags::Tag;
