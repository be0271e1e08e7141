//! Which captions become tags on the object: each caption's tag value (or why it cannot be
//! a faithful one), merged after the user's tags while there is room; and, when S3 still
//! refuses the set, the write again without our tags one at a time, so that one language's
//! value never costs another language's tag or the user's tags.

use super::Settings;
use super::answer::{Answer, Author};
use crate::caption::{Tag, TagStatus, tags};
use crate::store::{ObjectId, ObjectStore, StoreError};

/// Where one caption's tag stands, and why it is not on the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placement {
    pub status: TagStatus,
    pub reason: Option<String>,
}

impl Placement {
    fn written() -> Placement {
        Placement {
            status: TagStatus::Written,
            reason: None,
        }
    }
}

/// The tags of a write-back.
#[derive(Debug, Clone)]
pub(super) struct TagPlan {
    /// The tag set to write; `None` when nothing changes.
    pub new_tags: Option<Vec<Tag>>,
    /// Each answer's tag, if it has a faithful value.
    ours: Vec<Option<Tag>>,
    /// Each answer's placement.
    pub placements: Vec<Placement>,
}

/// The tag set with our captions merged after `existing` (the user's come first).
pub(super) fn plan(existing: &[Tag], answers: &[Answer], settings: &Settings) -> TagPlan {
    let mut placements = Vec::with_capacity(answers.len());
    let mut ours = Vec::with_capacity(answers.len());
    for answer in answers {
        let key = settings.tag_key_for(&answer.caption.lang);
        if answer.on_object && existing.iter().any(|t| t.key == key) {
            // The person's tag is on the object already, as they wrote it.
            ours.push(None);
            placements.push(Placement::written());
            continue;
        }
        // A decorative image's alt text is empty: so is its tag.
        if answer.author == Author::Decorative {
            ours.push(Some(Tag::new(key, "")));
            placements.push(Placement::written());
            continue;
        }
        // Any other caption, a person's from the record among them (a new version of the
        // same bytes, a tag write that failed), gets its tag.
        match tags::tag_value(&answer.caption.text) {
            Ok(value) => {
                ours.push(Some(Tag::new(key, value)));
                placements.push(Placement::written());
            }
            Err(reason) => {
                ours.push(None);
                placements.push(Placement {
                    status: TagStatus::NotFaithful,
                    reason: Some(reason),
                });
            }
        }
    }
    let wanted: Vec<Tag> = ours.iter().flatten().cloned().collect();
    let (new_tags, placed) = tags::merge_all(existing, &wanted);
    let mut placed = placed.into_iter();
    for (tag, placement) in ours.iter().zip(&mut placements) {
        if tag.is_some() && placed.next() == Some(false) {
            *placement = Placement {
                status: TagStatus::NoRoom,
                reason: Some(format!("the object already has {} tags", tags::MAX_TAGS)),
            };
        }
    }
    TagPlan {
        new_tags,
        ours,
        placements,
    }
}

/// S3 refused the tag set (`InvalidTag`) although every value follows its pattern: our
/// tags are left out one at a time, the last language first, until S3 takes the rest.
/// Those left out are marked refused. The user's tags are always in the set.
pub(super) async fn without_refused_tags(
    store: &impl ObjectStore,
    id: &ObjectId,
    existing: &[Tag],
    mut plan: TagPlan,
) -> Result<TagPlan, StoreError> {
    let written: Vec<usize> = (0..plan.ours.len())
        .filter(|&i| plan.ours[i].is_some() && plan.placements[i].status == TagStatus::Written)
        .collect();
    for keep in (0..written.len()).rev() {
        for &i in &written[keep..] {
            plan.placements[i] = Placement {
                status: TagStatus::Refused,
                reason: Some("S3 refused the tag value".into()),
            };
        }
        let kept: Vec<Tag> = written[..keep]
            .iter()
            .filter_map(|&i| plan.ours[i].clone())
            .collect();
        let (new_tags, _) = tags::merge_all(existing, &kept);
        let Some(new_tags) = new_tags else {
            plan.new_tags = None;
            return Ok(plan);
        };
        match store.put_tags(id, &new_tags).await {
            Ok(()) => {
                plan.new_tags = Some(new_tags);
                return Ok(plan);
            }
            Err(StoreError::InvalidTag { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    plan.new_tags = None;
    Ok(plan)
}
