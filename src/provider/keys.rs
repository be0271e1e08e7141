//! A service's API key: read from SSM Parameter Store or Secrets Manager when the function
//! starts, kept in memory, and read again when the service refuses it (the key was
//! rotated), at most once a minute per container.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use futures_util::future::BoxFuture;
use thiserror::Error;

use super::{Access, KeySource, ProviderError};
use crate::secret::ApiKey;

/// The key could not be read. The message names the parameter or secret, never the value.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read the API key from SSM parameter {name}: {message}")]
    Parameter { name: String, message: String },
    #[error("cannot read the API key from Secrets Manager secret {id}: {message}")]
    Secret { id: String, message: String },
    #[error("reading the API key from {0:?} timed out")]
    TimedOut(KeySource),
}

/// Where keys are read from.
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    fn read<'a>(&'a self, source: &'a KeySource) -> BoxFuture<'a, Result<ApiKey, KeyError>>;
}

/// SSM Parameter Store and Secrets Manager, their clients built once.
#[derive(Debug, Clone)]
pub struct AwsKeyStore {
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

impl AwsKeyStore {
    pub fn new(sdk: &aws_config::SdkConfig) -> AwsKeyStore {
        AwsKeyStore {
            ssm: aws_sdk_ssm::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
}

impl KeyStore for AwsKeyStore {
    fn read<'a>(&'a self, source: &'a KeySource) -> BoxFuture<'a, Result<ApiKey, KeyError>> {
        Box::pin(async move {
            match source {
                KeySource::SsmParameter(name) => from_parameter(&self.ssm, name).await,
                KeySource::SecretsManager(id) => from_secret(&self.secrets, id).await,
            }
        })
    }
}

/// Reads a (SecureString) parameter, decrypted.
async fn from_parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<ApiKey, KeyError> {
    let fail = |message: String| KeyError::Parameter {
        name: name.to_string(),
        message,
    };
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| fail(error_code(&e)))?;
    let value = output
        .parameter()
        .and_then(|p| p.value())
        .unwrap_or_default();
    key_from_value(value).ok_or_else(|| fail("the parameter is empty".into()))
}

/// Reads a secret: a plain string, or JSON with the key under `api_key`, `apiKey` or
/// `ALT_TEXT_API_KEY`.
async fn from_secret(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<ApiKey, KeyError> {
    let fail = |message: String| KeyError::Secret {
        id: id.to_string(),
        message,
    };
    let output = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| fail(error_code(&e)))?;
    let value = output.secret_string().unwrap_or_default();
    if value.trim_start().starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(value).map_err(|_| fail("the secret is not valid JSON".into()))?;
        let field = ["api_key", "apiKey", "ALT_TEXT_API_KEY"]
            .into_iter()
            .find_map(|f| json.get(f)?.as_str());
        return field.and_then(key_from_value).ok_or_else(|| {
            fail("the JSON secret has no api_key, apiKey or ALT_TEXT_API_KEY string".into())
        });
    }
    key_from_value(value).ok_or_else(|| fail("the secret has no string value".into()))
}

/// The service's error code (`ParameterNotFound`, `AccessDeniedException`, …), or the whole
/// error when it has none (a network failure).
fn error_code<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    err.code()
        .map_or_else(|| DisplayErrorContext(err).to_string(), String::from)
}

fn key_from_value(value: &str) -> Option<ApiKey> {
    let value = value.trim();
    (!value.is_empty()).then(|| ApiKey::new(value))
}

/// How often a container may read a refused key's store again.
pub const REREAD_INTERVAL: Duration = Duration::from_secs(60);
/// Longest wait for that read: the requests waiting on it hold their objects' time.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The key a provider sends: the one configured or read at start, replaced when the
/// service refuses it and its store holds another. Shared by every request of the
/// container, so that one re-read serves them all.
#[derive(Debug, Clone)]
pub struct ServiceKey {
    service: &'static str,
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    current: RwLock<Option<ApiKey>>,
    missing: Option<ProviderError>,
    store: Option<(KeySource, Arc<dyn KeyStore>)>,
    /// When the store was last read after a refusal (held while reading, so concurrent
    /// refusals wait for that one read).
    last_reread: tokio::sync::Mutex<Option<Instant>>,
    interval: Duration,
}

impl ServiceKey {
    /// `service`'s key from `access`; read again from `store` (the key's store, when it
    /// has one) after a refusal.
    pub fn new(
        service: &'static str,
        access: &Access,
        store: Option<Arc<dyn KeyStore>>,
    ) -> ServiceKey {
        ServiceKey::with_interval(service, access, store, REREAD_INTERVAL)
    }

    fn with_interval(
        service: &'static str,
        access: &Access,
        store: Option<Arc<dyn KeyStore>>,
        interval: Duration,
    ) -> ServiceKey {
        let source = access.key_source.clone();
        ServiceKey {
            service,
            inner: Arc::new(Inner {
                current: RwLock::new(access.api_key.clone()),
                missing: access.key(service).err(),
                store: source.zip(store),
                last_reread: tokio::sync::Mutex::new(None),
                interval,
            }),
        }
    }

    /// The key now, if there is one.
    pub fn get(&self) -> Option<ApiKey> {
        self.inner.current.read().expect("key lock").clone()
    }

    /// Whether there is a key, or why the service declines without one.
    pub fn require(&self) -> Result<(), ProviderError> {
        match (self.get(), &self.inner.missing) {
            (None, Some(missing)) => Err(missing.clone()),
            _ => Ok(()),
        }
    }

    /// Runs `call` with the key (declining without one).
    pub async fn with_key<T, F, Fut>(&self, call: F) -> Result<T, ProviderError>
    where
        F: Fn(ApiKey) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        self.require()?;
        self.with_optional_key(|key| {
            let key = key.expect("a key, required above and never removed");
            call(key)
        })
        .await
    }

    /// Runs `call` with the key, if any. When the service refuses the key, the key's store
    /// is read again (at most once per minute) and, if it holds another key, `call` runs
    /// once more with it: only then is the refusal final.
    pub async fn with_optional_key<T, F, Fut>(&self, call: F) -> Result<T, ProviderError>
    where
        F: Fn(Option<ApiKey>) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let key = self.get();
        let first = call(key.clone()).await;
        let (Err(ProviderError::KeyRejected(_)), Some(refused)) = (&first, &key) else {
            return first;
        };
        match self.replacement(refused).await {
            Some(replacement) => call(Some(replacement)).await,
            None => first,
        }
    }

    /// A key other than `refused`: one another request already read, or a new one from the
    /// store if it was not read in the last minute.
    async fn replacement(&self, refused: &ApiKey) -> Option<ApiKey> {
        let (source, store) = self.inner.store.as_ref()?;
        let mut last = self.inner.last_reread.lock().await;
        if let Some(current) = self.get().filter(|k| k != refused) {
            return Some(current);
        }
        if last.is_some_and(|at| at.elapsed() < self.inner.interval) {
            return None;
        }
        *last = Some(Instant::now());
        let service = self.service;
        let read = tokio::time::timeout(READ_TIMEOUT, store.read(source))
            .await
            .unwrap_or_else(|_| Err(KeyError::TimedOut(source.clone())));
        match read {
            Ok(key) if key != *refused => {
                tracing::info!(
                    service,
                    "the service refused the API key; a new key was read from its store"
                );
                *self.inner.current.write().expect("key lock") = Some(key.clone());
                Some(key)
            }
            Ok(_) => {
                tracing::warn!(
                    service,
                    "the service refused the API key, and its store still holds the same key"
                );
                None
            }
            Err(err) => {
                tracing::warn!(service, error = %err, "the service refused the API key, and its store could not be read");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A store holding one value per source, counting reads.
    #[derive(Debug, Default)]
    struct MemoryKeys {
        value: Mutex<String>,
        reads: AtomicUsize,
    }

    impl MemoryKeys {
        fn holding(value: &str) -> Arc<MemoryKeys> {
            Arc::new(MemoryKeys {
                value: Mutex::new(value.into()),
                reads: AtomicUsize::new(0),
            })
        }
        fn set(&self, value: &str) {
            *self.value.lock().unwrap() = value.into();
        }
        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    impl KeyStore for MemoryKeys {
        fn read<'a>(&'a self, _: &'a KeySource) -> BoxFuture<'a, Result<ApiKey, KeyError>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let value = self.value.lock().unwrap().clone();
            Box::pin(async move { Ok(ApiKey::new(value)) })
        }
    }

    fn access(key: Option<&str>, source: bool) -> Access {
        Access {
            env_prefix: "ALTTEXTLAB",
            api_key: key.map(ApiKey::new),
            key_source: source.then(|| KeySource::SsmParameter("/k".into())),
            url: "https://example.test".into(),
            image_input: super::super::ImageInput::Url,
            timeout: Duration::from_secs(5),
        }
    }

    /// A service accepting only `accepted`; records the keys it was sent.
    async fn call_service(
        accepted: &str,
        key: ApiKey,
        sent: &Mutex<Vec<String>>,
    ) -> Result<&'static str, ProviderError> {
        sent.lock().unwrap().push(key.expose().into());
        if key.expose() == accepted {
            Ok("caption")
        } else {
            Err(ProviderError::KeyRejected("refused (401)".into()))
        }
    }

    #[tokio::test]
    async fn a_refused_key_is_read_again_and_the_request_sent_once_more() {
        let store = MemoryKeys::holding("new");
        let key = ServiceKey::new("S", &access(Some("old"), true), Some(store.clone()));
        let sent = Mutex::new(Vec::new());
        let result = key.with_key(|k| call_service("new", k, &sent)).await;
        assert_eq!(result, Ok("caption"));
        assert_eq!(*sent.lock().unwrap(), ["old", "new"]);
        assert_eq!(store.reads(), 1);
        assert_eq!(key.get().unwrap().expose(), "new");
        // Later requests send the new key straight away, without reading the store.
        sent.lock().unwrap().clear();
        key.with_key(|k| call_service("new", k, &sent))
            .await
            .unwrap();
        assert_eq!(*sent.lock().unwrap(), ["new"]);
        assert_eq!(store.reads(), 1);
    }

    #[tokio::test]
    async fn the_store_is_read_at_most_once_per_interval() {
        let store = MemoryKeys::holding("old");
        let key = ServiceKey::with_interval(
            "S",
            &access(Some("old"), true),
            Some(store.clone()),
            Duration::from_millis(300),
        );
        let sent = Mutex::new(Vec::new());
        // The store holds the refused key: the refusal is final.
        let first = key.with_key(|k| call_service("newer", k, &sent)).await;
        assert!(matches!(first, Err(ProviderError::KeyRejected(_))));
        assert_eq!(store.reads(), 1);
        // Rotated now, but within the interval: not read again, one request only.
        store.set("newer");
        sent.lock().unwrap().clear();
        let second = key.with_key(|k| call_service("newer", k, &sent)).await;
        assert!(matches!(second, Err(ProviderError::KeyRejected(_))));
        assert_eq!((store.reads(), sent.lock().unwrap().len()), (1, 1));
        // After the interval, it is.
        tokio::time::sleep(Duration::from_millis(350)).await;
        let third = key.with_key(|k| call_service("newer", k, &sent)).await;
        assert_eq!(third, Ok("caption"));
        assert_eq!(store.reads(), 2);
    }

    #[tokio::test]
    async fn concurrent_refusals_share_one_read() {
        let store = MemoryKeys::holding("new");
        let key = ServiceKey::new("S", &access(Some("old"), true), Some(store.clone()));
        let sent = Mutex::new(Vec::new());
        let results = futures_util::future::join_all(
            (0..8).map(|_| key.with_key(|k| call_service("new", k, &sent))),
        )
        .await;
        assert!(results.iter().all(|r| r == &Ok("caption")), "{results:?}");
        assert_eq!(store.reads(), 1);
    }

    #[tokio::test]
    async fn a_key_without_a_store_or_other_errors_are_not_retried() {
        let store = MemoryKeys::holding("new");
        let fixed = ServiceKey::new("S", &access(Some("old"), false), Some(store.clone()));
        let sent = Mutex::new(Vec::new());
        let refused = fixed.with_key(|k| call_service("new", k, &sent)).await;
        assert!(matches!(refused, Err(ProviderError::KeyRejected(_))));
        assert_eq!((store.reads(), sent.lock().unwrap().len()), (0, 1));

        let stored = ServiceKey::new("S", &access(Some("old"), true), Some(store.clone()));
        let calls = AtomicUsize::new(0);
        let other = stored
            .with_key(|_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(ProviderError::Permanent("refused the image".into())) }
            })
            .await;
        assert!(matches!(other, Err(ProviderError::Permanent(_))));
        assert_eq!((store.reads(), calls.load(Ordering::SeqCst)), (0, 1));
    }

    #[tokio::test]
    async fn without_a_key_the_service_declines() {
        let key = ServiceKey::new("AltTextLab", &access(None, false), None);
        let result = key.with_key(|_| async { Ok(()) }).await;
        assert!(
            matches!(result, Err(ProviderError::Declined(m)) if m.contains("ALTTEXTLAB_API_KEY"))
        );
    }
}
