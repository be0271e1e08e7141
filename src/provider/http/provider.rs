//! The provider every HTTP alt-text service runs as: [`HttpProvider`] over the service's
//! [`Wire`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::wire::{Auth, Sent, Wire};
use crate::provider::access::{Access, ImageInput};
use crate::provider::keys::{KeyStore, ServiceKey};
use crate::provider::retry::RetryPolicy;
use crate::provider::{Caption, ImageBytes, ImageRequest, Provider, ProviderError, ProviderKind};
use crate::secret::ApiKey;

/// How often one call builds its request again after a reply that taught the wire
/// something (a server names one refused parameter at a time).
const MAX_RELEARNS: u32 = 3;

/// An HTTP alt-text service: it owns the key (read again from its store when refused),
/// retries within the deadline, sends with the service's timeout, reads the credits, counts
/// the memory a call holds and gives the image as a URL or as prepared bytes.
#[derive(Debug)]
pub struct HttpProvider<W: Wire> {
    wire: W,
    http: reqwest::Client,
    endpoint: String,
    credits_endpoint: Option<String>,
    key: ServiceKey,
    input: ImageInput,
    timeout: Duration,
    retry: RetryPolicy,
}

/// What one request of a call learned from its answer.
#[derive(Default)]
struct Lessons {
    /// The wire learned what this server refuses.
    learned: AtomicBool,
    /// A refusal only the credits left explain.
    ask_credits: AtomicBool,
}

impl<W: Wire> HttpProvider<W> {
    pub fn new(
        wire: W,
        http: reqwest::Client,
        access: &Access,
        keys: Option<Arc<dyn KeyStore>>,
    ) -> HttpProvider<W> {
        let base = W::base(&access.url);
        HttpProvider {
            wire,
            http,
            endpoint: format!("{base}{}", W::PATH),
            credits_endpoint: W::CREDITS_PATH.map(|path| format!("{base}{path}")),
            key: ServiceKey::new(W::SERVICE, access, keys),
            input: access.image_input,
            timeout: access.timeout,
            retry: RetryPolicy::default(),
        }
    }

    fn input_for(&self, image: &ImageRequest<'_>) -> ImageInput {
        self.wire.input(image, self.input)
    }

    fn authorized(
        &self,
        request: reqwest::RequestBuilder,
        key: &ApiKey,
    ) -> reqwest::RequestBuilder {
        match W::AUTH {
            Auth::Header(name) => request.header(name, key.expose()),
            Auth::Bearer => request.bearer_auth(key.expose()),
        }
    }

    /// The image's bytes, for an image that goes as bytes.
    async fn bytes(&self, image: &ImageRequest<'_>) -> Result<Option<ImageBytes>, ProviderError> {
        match self.input_for(image) {
            ImageInput::Url => Ok(None),
            ImageInput::Data => {
                let limits = self.wire.limits(ImageInput::Data);
                Ok(Some(image.bytes_for(&limits).await?))
            }
        }
    }

    /// One caption call: the request is built again (at most [`MAX_RELEARNS`] times) when
    /// an answer taught the wire what this server refuses.
    async fn call(
        &self,
        image: &ImageRequest<'_>,
        bytes: Option<&ImageBytes>,
    ) -> Result<Vec<Caption>, ProviderError> {
        let mut relearns = 0;
        loop {
            let body = bytes
                .map(|b| self.wire.body(image, Sent::Bytes(b)))
                .transpose()?;
            let lessons = Lessons::default();
            let answer = self.with_retries(image, body.as_ref(), &lessons).await;
            let learned = lessons.learned.load(Ordering::Relaxed);
            if learned
                && relearns < MAX_RELEARNS
                && matches!(answer, Err(ProviderError::Permanent(_)))
            {
                relearns += 1;
                continue;
            }
            return answer;
        }
    }

    /// The call with its key (read again once if refused) and its retries within the
    /// image's deadline.
    async fn with_retries(
        &self,
        image: &ImageRequest<'_>,
        body: Option<&Bytes>,
        lessons: &Lessons,
    ) -> Result<Vec<Caption>, ProviderError> {
        self.key
            .with_optional_key(|key| async move {
                self.retry
                    .run(image.deadline, |budget| {
                        self.attempt(key.as_ref(), image, body, lessons, budget)
                    })
                    .await
            })
            .await
    }

    /// One request: the body given (the image's bytes in it), or one with a fresh URL.
    async fn attempt(
        &self,
        key: Option<&ApiKey>,
        image: &ImageRequest<'_>,
        body: Option<&Bytes>,
        lessons: &Lessons,
        budget: Duration,
    ) -> Result<Vec<Caption>, ProviderError> {
        let body = match body {
            Some(body) => body.clone(),
            None => self
                .wire
                .body(image, Sent::Url(&image.fresh_url().await?))?,
        };
        let mut request = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = key {
            request = self.authorized(request, key);
        }
        let answer = super::exchange(
            W::SERVICE,
            request,
            budget.min(self.timeout),
            image.calls,
            |body| self.wire.parse(body, image),
            |reply| {
                if self.wire.learn(reply) {
                    lessons.learned.store(true, Ordering::Relaxed);
                }
                let err = self.wire.classify(reply);
                if self.wire.ask_credits(reply, &err) {
                    lessons.ask_credits.store(true, Ordering::Relaxed);
                }
                err
            },
        )
        .await;
        match (answer, key) {
            (Err(err), Some(key)) if lessons.ask_credits.swap(false, Ordering::Relaxed) => {
                Err(self.explained(key, err).await)
            }
            (answer, _) => answer,
        }
    }

    /// `err` as the credits left explain it, when they can be read.
    async fn explained(&self, key: &ApiKey, err: ProviderError) -> ProviderError {
        match self.credits_with(key).await {
            Ok(Some(left)) => self.wire.with_credits(err, left),
            _ => err,
        }
    }

    async fn credits_with(&self, key: &ApiKey) -> Result<Option<f64>, ProviderError> {
        let Some(url) = &self.credits_endpoint else {
            return Ok(None);
        };
        let request = self.authorized(self.http.get(url), key);
        super::credits_left(W::SERVICE, request, self.timeout).await
    }
}

impl<W: Wire> Provider for HttpProvider<W> {
    fn kind(&self) -> ProviderKind {
        W::KIND
    }

    fn supports_lang(&self, lang: &str) -> bool {
        self.wire.supports_lang(lang)
    }

    fn languages_per_call(&self) -> usize {
        self.wire.languages_per_call()
    }

    fn memory_needed(&self, image: &ImageRequest<'_>) -> u64 {
        match self.input_for(image) {
            ImageInput::Url => 0,
            ImageInput::Data => image.memory_for(
                &self.wire.limits(ImageInput::Data),
                super::base64_body_memory,
            ),
        }
    }

    /// By URL, the image as it is; as bytes, prepared where it is not taken as it is.
    fn accepts(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        if W::KIND.needs_api_key() {
            self.key.require()?;
        }
        let input = self.input_for(image);
        let limits = self.wire.limits(input);
        match input {
            ImageInput::Url => limits.check(image)?,
            ImageInput::Data => drop(image.plan(&limits)?),
        }
        self.wire.declines(image)
    }

    /// The account's credits left, where the service tells.
    fn credits(&self) -> BoxFuture<'_, Result<Option<f64>, ProviderError>> {
        Box::pin(async move {
            if self.credits_endpoint.is_none() {
                return Ok(None);
            }
            self.key
                .with_key(move |key| async move { self.credits_with(&key).await })
                .await
        })
    }

    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
        Box::pin(async move {
            self.accepts(image)?;
            let bytes = self.bytes(image).await?;
            self.call(image, bytes.as_ref()).await
        })
    }
}
