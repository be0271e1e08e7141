//! A provider that answers from a script and counts its calls, for unit tests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Caption, ImageRequest, Provider, ProviderError};

/// A provider that answers from a script and counts its calls.
pub struct ScriptedProvider {
    pub name: &'static str,
    pub answers: Mutex<VecDeque<Result<Caption, ProviderError>>>,
    pub calls: AtomicUsize,
    /// How long each answer takes.
    pub delay: Duration,
    /// The languages it writes (all when empty).
    pub writes: Vec<&'static str>,
    /// Whether its answers follow a request sent (false: it fails before sending any).
    pub sends: bool,
}

impl ScriptedProvider {
    pub fn new(
        name: &'static str,
        answers: Vec<Result<Caption, ProviderError>>,
    ) -> ScriptedProvider {
        ScriptedProvider {
            name,
            answers: Mutex::new(answers.into()),
            calls: AtomicUsize::new(0),
            delay: Duration::ZERO,
            writes: Vec::new(),
            sends: true,
        }
    }

    /// The same provider, failing before it sends anything (a presign or read error).
    pub fn sending_nothing(self) -> ScriptedProvider {
        ScriptedProvider {
            sends: false,
            ..self
        }
    }

    /// The same provider, writing only `langs`.
    pub fn writing(self, langs: &[&'static str]) -> ScriptedProvider {
        ScriptedProvider {
            writes: langs.to_vec(),
            ..self
        }
    }

    /// The same provider, taking `delay` for each answer.
    pub fn slow(self, delay: Duration) -> ScriptedProvider {
        ScriptedProvider { delay, ..self }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Provider for ScriptedProvider {
    /// A paid service's kind; its own name in records.
    fn kind(&self) -> super::ProviderKind {
        super::ProviderKind::AltTextLab
    }
    fn name(&self) -> &'static str {
        self.name
    }

    fn supports_lang(&self, lang: &str) -> bool {
        self.writes.is_empty() || self.writes.contains(&lang)
    }

    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Err(ProviderError::Permanent("script exhausted".into())));
        // As a service would: one request sent, answered unless the script says otherwise.
        if self.sends {
            image
                .calls
                .sent(!matches!(answer, Err(ProviderError::Uncertain(_))));
        }
        // One caption, in the language asked for.
        let lang = image.lang().to_string();
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            answer.map(|c| vec![Caption { lang, ..c }])
        })
    }
}

pub fn caption(text: &str) -> Caption {
    Caption {
        request_id: Some("req-1".into()),
        ..Caption::new(text, "en")
    }
}
