//! The roots of trust of every HTTPS client of the function (the AWS SDK's and the
//! providers'): Mozilla's root certificates, compiled in, so that a cold start reads no
//! certificate store from disk; plus, for a provider behind a private certificate
//! authority, the PEM bundle named by `ALT_TEXT_CA_BUNDLE`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_sdk_s3::config::{RuntimeComponents, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpConnector,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use thiserror::Error;

/// The extra bundle could not be used.
#[derive(Debug, Error)]
pub enum TrustError {
    #[error("cannot read the certificate bundle {path} (ALT_TEXT_CA_BUNDLE): {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error("the certificate bundle {path} (ALT_TEXT_CA_BUNDLE) holds no PEM certificate")]
    Empty { path: PathBuf },
    #[error("the certificate bundle {path} (ALT_TEXT_CA_BUNDLE) is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The certificates every HTTPS connection is checked against.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    /// DER certificates: Mozilla's (borrowed from the binary), then the extra bundle's.
    certs: Vec<Cow<'static, [u8]>>,
}

impl TrustRoots {
    /// Mozilla's roots, and those of the PEM file at `extra` if given.
    pub fn load(extra: Option<&Path>) -> Result<TrustRoots, TrustError> {
        let mut certs: Vec<Cow<'static, [u8]>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Cow::Borrowed(&**c))
            .collect();
        if let Some(path) = extra {
            let pem = std::fs::read(path).map_err(|e| TrustError::Unreadable {
                path: path.into(),
                message: e.to_string(),
            })?;
            let added = pem_certificates(&pem).map_err(|message| TrustError::Invalid {
                path: path.into(),
                message,
            })?;
            if added.is_empty() {
                return Err(TrustError::Empty { path: path.into() });
            }
            certs.extend(added.into_iter().map(Cow::Owned));
        }
        Ok(TrustRoots { certs })
    }

    /// How many root certificates are trusted.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The roots for `reqwest` (the providers' HTTP client): these only, no system store.
    pub fn for_reqwest(&self) -> Vec<reqwest::Certificate> {
        self.certs
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect()
    }

    /// The HTTP client of the AWS SDK: its default (rustls with aws-lc), with these roots
    /// instead of the system store, built on the first request (see [`LazySdkClient`]).
    pub fn sdk_http_client(&self) -> SharedHttpClient {
        let roots = self.clone();
        LazySdkClient::shared(move || roots.sdk_client())
    }

    /// The SDK's default HTTPS client over these roots.
    fn sdk_client(&self) -> SharedHttpClient {
        let store = TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(self.pem());
        let context = TlsContext::builder()
            .with_trust_store(store)
            .build()
            .expect("a TLS context of PEM roots builds");
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https()
    }

    /// All roots as one PEM bundle.
    fn pem(&self) -> Vec<u8> {
        let mut pem = String::with_capacity(self.certs.iter().map(|c| c.len() * 4 / 3 + 70).sum());
        for der in &self.certs {
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            let body = STANDARD.encode(der);
            for line in body.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
        }
        pem.into_bytes()
    }
}

/// The SDK's HTTPS client, built when the first request needs a connection. The SDK's own
/// client builds a TLS connector at each client's construction to check it (and throws it
/// away), then again on the first request: with every root decoded from PEM each time, that
/// was most of the function's start. This one builds it once, on first use, and the
/// connectors it makes are the SDK's own, cached per connector settings as before.
struct LazySdkClient {
    build: Box<dyn Fn() -> SharedHttpClient + Send + Sync>,
    client: OnceLock<SharedHttpClient>,
}

impl LazySdkClient {
    fn shared(build: impl Fn() -> SharedHttpClient + Send + Sync + 'static) -> SharedHttpClient {
        SharedHttpClient::new(LazySdkClient {
            build: Box::new(build),
            client: OnceLock::new(),
        })
    }
}

impl std::fmt::Debug for LazySdkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySdkClient")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

impl HttpClient for LazySdkClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client
            .get_or_init(|| (self.build)())
            .http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// The DER bytes of every `CERTIFICATE` block of a PEM file (other blocks, such as a
/// key, are ignored), each checked to be a certificate a TLS client can trust: a block
/// that is not would otherwise fail later, inside the SDK, on the first connection.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut certs = Vec::new();
    for (n, block) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = block.map_err(|e| format!("certificate {}: {e}", n + 1))?;
        webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| format!("certificate {} is not an X.509 certificate: {e:?}", n + 1))?;
        certs.push(cert.as_ref().to_vec());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sdk_builds_its_tls_client_on_the_first_request_only() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let built = Arc::new(AtomicUsize::new(0));
        let roots = TrustRoots::load(None).unwrap();
        let counted = Arc::clone(&built);
        let http = LazySdkClient::shared(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            roots.sdk_client()
        });
        // A port nobody answers on: the request fails, after its connector is made.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::for_tests())
            .endpoint_url(endpoint)
            .force_path_style(true)
            .http_client(http)
            .build();
        let clients = [
            aws_sdk_s3::Client::from_conf(config.clone()),
            aws_sdk_s3::Client::from_conf(config),
        ];
        assert_eq!(
            built.load(Ordering::SeqCst),
            0,
            "nothing built with the clients"
        );
        for client in &clients {
            let sent = client.head_bucket().bucket("photos").send().await;
            assert!(sent.is_err());
        }
        assert_eq!(
            built.load(Ordering::SeqCst),
            1,
            "built once, for both clients"
        );
    }

    #[test]
    fn mozillas_roots_are_compiled_in() {
        let roots = TrustRoots::load(None).unwrap();
        assert!(roots.len() > 100, "{} roots", roots.len());
        assert_eq!(roots.for_reqwest().len(), roots.len());
    }

    #[test]
    fn the_pem_form_round_trips() {
        let roots = TrustRoots::load(None).unwrap();
        let certs: Vec<&[u8]> = roots.certs.iter().map(|c| &**c).collect();
        assert_eq!(pem_certificates(&roots.pem()).unwrap(), certs);
    }

    #[test]
    fn an_extra_bundle_adds_its_certificates() {
        let first = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref();
        let pem = TrustRoots {
            certs: vec![Cow::Borrowed(first)],
        }
        .pem();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private-ca.pem");
        std::fs::write(&path, [b"# a private CA\n".as_slice(), &pem].concat()).unwrap();
        let base = TrustRoots::load(None).unwrap().len();
        let roots = TrustRoots::load(Some(&path)).unwrap();
        assert_eq!(roots.len(), base + 1);
        assert_eq!(&**roots.certs.last().unwrap(), first);
    }

    #[test]
    fn a_bad_bundle_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = TrustRoots::load(Some(&missing)).unwrap_err();
        assert!(matches!(err, TrustError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let err = TrustRoots::load(Some(&empty)).unwrap_err();
        assert!(matches!(err, TrustError::Empty { .. }), "{err}");
        // Base64 that is no certificate, and a block that is not base64.
        let bogus = dir.path().join("bogus.pem");
        std::fs::write(
            &bogus,
            "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = TrustRoots::load(Some(&bogus)).unwrap_err();
        assert!(matches!(err, TrustError::Invalid { .. }), "{err}");
        assert!(
            err.to_string().contains("not an X.509 certificate"),
            "{err}"
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = TrustRoots::load(Some(&broken)).unwrap_err();
        assert!(matches!(err, TrustError::Invalid { .. }), "{err}");
    }
}
