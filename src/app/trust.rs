//! The roots of trust of every HTTPS client of the function (the AWS SDK's and the
//! providers'): Mozilla's root certificates, compiled in, so that a cold start reads no
//! certificate store from disk; plus, for a provider behind a private certificate
//! authority, the PEM bundle named by `ALT_TEXT_CA_BUNDLE`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
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
    /// instead of the system store.
    pub fn sdk_http_client(&self) -> aws_sdk_s3::config::SharedHttpClient {
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
