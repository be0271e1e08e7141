//! The provider chain: each provider in turn is asked for the languages still missing; the
//! first caption of each language that passes the quality guard wins. Captions already
//! paid for this very object are reused, so a retry asks only for the rest.

use std::time::Instant;

use super::answer::{Answer, Author};
use super::spend::{CountedCalls, Hold, Spend};
use super::{Pipeline, Settings};
use crate::caption::{Record, quality};
use crate::provider::{Caption, ImageRequest, Provider, ProviderError};
use crate::store::{ObjectHead, ObjectStore, RecordStore};

/// What the provider chain produced.
#[derive(Default)]
pub(super) struct ChainResult {
    /// Accepted captions, one per language.
    pub answers: Vec<Answer>,
    /// Why providers passed (declined, or could not write a language).
    pub declined: Vec<String>,
    /// Permanent failures, rejected captions, and providers held (paused, over budget).
    pub errors: Vec<String>,
    /// Why the chain stopped.
    pub stop: Stop,
    /// What is new in `answers`: not yet in the record.
    pub fresh: Fresh,
}

/// Why the provider chain stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) enum Stop {
    /// Every provider that could was asked, or none had to be.
    #[default]
    Asked,
    /// A provider was paused or held by the budget, and languages are still missing: the
    /// object is retried once someone has acted, or the budget allows.
    Held,
    /// A transient failure: asking the next provider now could pay for a caption this one
    /// gives on the retry.
    Transient,
    /// The request to this provider may have been billed without an answer: asking another
    /// could pay twice for the image.
    Uncertain { provider: String },
    /// No request was sent: earlier ones for these bytes may all have been billed.
    Exhausted,
}

/// What the chain's captions are, beside those the record or the object held already.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fresh {
    /// Nothing new: every caption was reused (from the record, or a person's on the object).
    #[default]
    Nothing,
    /// New and free: embedded text, or the decorative mark's empty alt text.
    Free,
    /// A paid provider gave captions this time.
    Paid,
}

impl ChainResult {
    /// Takes one call's answer: accepted captions leave `missing`. `false` when the chain
    /// must stop (a transient failure: asking the next provider now could pay for a
    /// caption this one will give on the retry).
    fn take(
        &mut self,
        name: &str,
        answer: Result<Vec<Caption>, ProviderError>,
        call: &ImageRequest<'_>,
        missing: &mut Vec<String>,
    ) -> bool {
        match answer {
            Ok(captions) => {
                for caption in captions {
                    if missing.contains(&caption.lang) && call.langs.contains(&caption.lang) {
                        self.review(name, caption, call, missing);
                    }
                }
            }
            Err(ProviderError::Declined(reason)) => self.declined.push(format!("{name}: {reason}")),
            Err(ProviderError::Permanent(error)) => self.errors.push(format!("{name}: {error}")),
            // The account cannot work: the provider is paused, the next one asked, and the
            // object retried once someone has acted.
            Err(ProviderError::KeyRejected(error) | ProviderError::OutOfCredits(error)) => {
                self.errors.push(format!("{name}: {error}"));
                self.stop = Stop::Held;
            }
            Err(ProviderError::Transient { message, .. }) => {
                self.errors.push(format!("{name}: {message}"));
                self.stop = Stop::Transient;
                return false;
            }
            Err(ProviderError::Uncertain(message)) => {
                self.errors.push(format!("{name}: {message}"));
                self.stop = Stop::Uncertain {
                    provider: name.into(),
                };
                return false;
            }
        }
        true
    }

    /// A provider not called: paused, or held by the budget (skipped when the user asked).
    fn hold(&mut self, name: &str, hold: Hold) {
        match hold {
            Hold::Paused(reason)
            | Hold::Budget {
                reason,
                retry: true,
            } => {
                self.errors.push(format!("{name}: {reason}"));
                self.stop = Stop::Held;
            }
            Hold::Budget {
                reason,
                retry: false,
            } => self.declined.push(format!("{name}: {reason}")),
        }
    }

    /// Passes a caption through the quality guard.
    fn review(
        &mut self,
        name: &str,
        caption: Caption,
        call: &ImageRequest<'_>,
        missing: &mut Vec<String>,
    ) {
        match quality::review(&caption.text, call.key, call.max_chars) {
            Ok(text) => {
                missing.retain(|l| *l != caption.lang);
                self.answers.push(Answer {
                    author: Author::Provider(name.into()),
                    caption: Caption { text, ..caption },
                    on_object: false,
                });
            }
            Err(reason) => self.errors.push(format!(
                "{name}: {} caption rejected: {reason}",
                caption.lang
            )),
        }
    }
}

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// Every language's caption: a person's where the object carries one, reused from
    /// `existing` where paid for already, the rest from the chain; in language order.
    /// `tried` requests for these bytes may have been billed already: at the limit, the
    /// chain is not asked.
    pub(super) async fn collect_answers(
        &self,
        existing: Option<&Record>,
        head: &ObjectHead,
        people: Vec<Answer>,
        request: &ImageRequest<'_>,
        tried: usize,
        spend: Spend,
    ) -> ChainResult {
        let decorative = request.context.decorative;
        let mut reused = people;
        for answer in reusable_answers(&self.settings, existing, head) {
            // The empty alt text of a decorative mark holds only while the mark does; a
            // marked image keeps only a person's words.
            let fits = match decorative {
                true => matches!(answer.author, Author::Person | Author::Decorative),
                false => answer.author != Author::Decorative,
            };
            if fits && !reused.iter().any(|a| a.caption.lang == answer.caption.lang) {
                reused.push(answer);
            }
        }
        let missing: Vec<String> = self
            .settings
            .langs
            .iter()
            .filter(|l| !reused.iter().any(|a| &a.caption.lang == *l))
            .cloned()
            .collect();
        let mut chain = if missing.is_empty() {
            ChainResult::default()
        } else if decorative {
            // A person captioned some languages of a decorative image: the others are
            // empty, and no service is asked.
            ChainResult {
                answers: missing.iter().map(|l| Answer::decorative(l)).collect(),
                ..ChainResult::default()
            }
        } else if tried >= self.settings.max_attempts {
            ChainResult {
                errors: vec![format!(
                    "gave up: {tried} requests for these bytes may have been billed without an answer (ALT_TEXT_MAX_ATTEMPTS {}); replay after checking the provider",
                    self.settings.max_attempts
                )],
                stop: Stop::Exhausted,
                ..ChainResult::default()
            }
        } else {
            self.run_chain(request, missing, spend).await
        };
        if chain.fresh == Fresh::Nothing && !chain.answers.is_empty() {
            chain.fresh = Fresh::Free;
        }
        let mut answers = reused;
        answers.append(&mut chain.answers);
        let langs = &self.settings.langs;
        answers.sort_by_key(|a| langs.iter().position(|l| *l == a.caption.lang));
        chain.answers = answers;
        chain
    }

    /// Asks each provider in turn for the languages still missing.
    async fn run_chain(
        &self,
        request: &ImageRequest<'_>,
        mut missing: Vec<String>,
        mut spend: Spend,
    ) -> ChainResult {
        let mut result = ChainResult::default();
        for provider in &self.providers {
            if missing.is_empty() {
                break;
            }
            let Some(langs) = languages_for(provider.as_ref(), request, &missing, &mut result)
            else {
                continue;
            };
            for langs in langs.chunks(provider.languages_per_call().max(1)) {
                let counted = CountedCalls::new(request.calls);
                let call = ImageRequest {
                    calls: &counted,
                    ..request.for_langs(langs)
                };
                let ticket = match self.admit(provider.as_ref(), &mut spend).await {
                    Ok(ticket) => ticket,
                    Err(hold) => {
                        result.hold(provider.name(), hold);
                        break;
                    }
                };
                let answer = self.call(provider.as_ref(), &call).await;
                self.account(
                    provider.as_ref(),
                    ticket,
                    &answer,
                    counted.requests(),
                    &mut spend,
                )
                .await;
                let before = result.answers.len();
                let go_on = result.take(provider.name(), answer, &call, &mut missing);
                if !provider.is_free() && result.answers.len() > before {
                    result.fresh = Fresh::Paid;
                }
                if !go_on {
                    return result;
                }
            }
        }
        if result.stop == Stop::Held && missing.is_empty() {
            // Another provider gave what the held one would have.
            result.stop = Stop::Asked;
        }
        result
    }

    /// One provider call, once the memory it needs is free; counted and timed when it is
    /// paid for.
    async fn call(
        &self,
        provider: &dyn Provider,
        call: &ImageRequest<'_>,
    ) -> Result<Vec<Caption>, ProviderError> {
        let _room = self
            .memory
            .reserve(provider.memory_needed(call), call.deadline)
            .await?;
        let started = Instant::now();
        let answer = provider.caption(call).await;
        if !provider.is_free() {
            let credits = answer
                .as_ref()
                .ok()
                .and_then(|c| c.iter().find_map(|c| c.credits_remaining));
            self.usage.provider_call(started.elapsed(), credits);
        }
        answer
    }
}

/// The missing languages `provider` is asked for, or `None` when it does not take the
/// image; why it passes goes into `result`.
fn languages_for(
    provider: &dyn Provider,
    request: &ImageRequest<'_>,
    missing: &[String],
    result: &mut ChainResult,
) -> Option<Vec<String>> {
    let name = provider.name();
    if let Err(err) = provider.accepts(request) {
        match err {
            ProviderError::Declined(reason) => result.declined.push(format!("{name}: {reason}")),
            other => result.errors.push(format!("{name}: {other}")),
        }
        return None;
    }
    let (langs, unsupported): (Vec<String>, Vec<String>) = missing
        .iter()
        .cloned()
        .partition(|l| provider.supports_lang(l));
    if !unsupported.is_empty() {
        result
            .declined
            .push(format!("{name}: does not write {}", unsupported.join(", ")));
    }
    Some(langs)
}

/// The captions of `existing` for the object of `head` (same ETag), in language order.
pub(super) fn reusable_answers(
    settings: &Settings,
    existing: Option<&Record>,
    head: &ObjectHead,
) -> Vec<Answer> {
    let Some(record) = existing.filter(|r| r.etag.is_some() && r.etag == head.etag) else {
        return Vec::new();
    };
    let mut captions = record.all_captions();
    settings
        .langs
        .iter()
        .filter_map(|lang| {
            let c = captions.remove(lang)?;
            Some(Answer {
                author: Author::of(&c),
                on_object: false,
                caption: Caption {
                    request_id: c.request_id,
                    ..Caption::new(c.text, lang.clone())
                },
            })
        })
        .collect()
}
