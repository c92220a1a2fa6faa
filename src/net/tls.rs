//! TLS for a listener: rustls (ring), TLS 1.2 and 1.3 only, a PEM certificate chain and key, optional client
//! certificates verified against SocketCAFile (NeedClientAuth=Y). SSLKEYLOGFILE is honoured for debugging.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use session::config::TlsSettings;

use crate::BUNDLED_BASE_DIR;

/// Most certificates read from one PEM file.
pub const PEM_CERTIFICATES_MAX: usize = 16;
/// Largest PEM file read.
pub const PEM_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// The development certificates of `certs/`, built into the binary. The bundled session configuration names
/// them (resolved under the repository the binary was built from), so that `fixvenue serve` runs on its defaults
/// from any directory, and still after the clone is gone (`cargo install`). Never use them in production.
const BUNDLED_DEV_FILES: [(&str, &[u8]); 3] = [
    ("certs/server.pem", include_bytes!("../../certs/server.pem")),
    ("certs/server.key", include_bytes!("../../certs/server.key")),
    ("certs/ca.pem", include_bytes!("../../certs/ca.pem")),
];

// The messages carry the errors the variants hold, so none is a `source`: a chain would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {error}")]
    Pem { path: String, error: pem::Error },
    #[error("{path}: more than {PEM_CERTIFICATES_MAX} certificates")]
    TooManyCertificates { path: String },
    #[error("{path}: no certificate in the file")]
    NoCertificate { path: String },
    #[error("{path}: {error}")]
    CaCertificate { path: String, error: rustls::Error },
    #[error("TLS configuration: {0}")]
    Rustls(rustls::Error),
    #[error("client certificate verifier: NeedClientAuth=Y needs SocketCAFile")]
    NoCaFile,
    #[error("client certificate verifier: {0}")]
    Verifier(VerifierBuilderError),
}

// Not `#[from]`: the message already carries the rustls error, and a source would print it twice.
impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Rustls(e)
    }
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

fn pem_err(path: &Path) -> impl FnOnce(pem::Error) -> TlsError {
    move |error| TlsError::Pem {
        path: path_text(path),
        error,
    }
}

/// The built-in copy of the bundled development file that `path` names under `base`, when that file is missing.
fn bundled_copy(base: &Path, path: &Path) -> Option<&'static [u8]> {
    if path.exists() {
        return None;
    }
    BUNDLED_DEV_FILES
        .iter()
        .find(|(name, _)| base.join(name) == path)
        .map(|(_, bytes)| *bytes)
}

/// The bytes of a PEM file (at most [`PEM_FILE_BYTES_MAX`]), or the built-in copy of a missing bundled one.
fn pem_bytes(base: &Path, path: &Path) -> Result<Cow<'static, [u8]>, TlsError> {
    if let Some(bytes) = bundled_copy(base, path) {
        tracing::info!(
            "{} is missing: using the development copy built into the binary",
            path.display()
        );
        return Ok(Cow::Borrowed(bytes));
    }
    let io = |e| pem_err(path)(pem::Error::Io(e));
    if std::fs::metadata(path).map_err(io)?.len() > PEM_FILE_BYTES_MAX {
        return Err(TlsError::Pem {
            path: path_text(path),
            error: pem::Error::Io(std::io::Error::other(format!(
                "larger than {PEM_FILE_BYTES_MAX} bytes"
            ))),
        });
    }
    Ok(Cow::Owned(std::fs::read(path).map_err(io)?))
}

/// Reads every certificate of a PEM file (at least one).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certificates_in(&pem_bytes(Path::new(BUNDLED_BASE_DIR), path)?, path)
}

/// Every certificate of PEM text read from `path` (at least one).
fn certificates_in(bytes: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(bytes) {
        if out.len() == PEM_CERTIFICATES_MAX {
            return Err(TlsError::TooManyCertificates {
                path: path_text(path),
            });
        }
        out.push(cert.map_err(pem_err(path))?);
    }
    if out.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path_text(path),
        });
    }
    Ok(out)
}

/// A rustls server configuration from a session's TLS settings.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if settings.minimum_version_13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let certs = load_certificates(&settings.certificate_file)?;
    let key_pem = pem_bytes(Path::new(BUNDLED_BASE_DIR), &settings.private_key_file)?;
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(pem_err(&settings.private_key_file))?;
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = if settings.need_client_auth {
        let ca_file = settings.ca_file.as_deref().ok_or(TlsError::NoCaFile)?;
        let mut roots = RootCertStore::empty();
        for cert in load_certificates(ca_file)? {
            roots.add(cert).map_err(|error| TlsError::CaCertificate {
                path: path_text(ca_file),
                error,
            })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(TlsError::Verifier)?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(certs, key)?;
    // Writes session secrets only when SSLKEYLOGFILE is set, for Wireshark; a no-op otherwise.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(config)
}

/// A TLS acceptor for a listener.
pub fn acceptor(settings: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(Arc::new(server_config(settings)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bundled_development_file_comes_from_the_binary() {
        let gone = tempfile::tempdir().expect("tempdir");
        let base = gone.path().join("clone-that-was-deleted");
        for (name, bytes) in BUNDLED_DEV_FILES {
            let path = base.join(name);
            assert_eq!(bundled_copy(&base, &path), Some(bytes), "{name}");
            assert_eq!(
                pem_bytes(&base, &path).expect("built-in copy").as_ref(),
                bytes
            );
        }
        let certs = certificates_in(
            &pem_bytes(&base, &base.join("certs/server.pem")).unwrap(),
            &base,
        )
        .expect("the built-in server certificate parses");
        assert!(!certs.is_empty());
    }

    #[test]
    fn a_file_that_exists_or_is_not_bundled_is_read_from_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let own = dir.path().join("certs/server.pem");
        std::fs::create_dir_all(own.parent().unwrap()).unwrap();
        std::fs::write(&own, b"not the bundled one").unwrap();
        assert_eq!(bundled_copy(dir.path(), &own), None);
        assert_eq!(
            pem_bytes(dir.path(), &own).unwrap().as_ref(),
            b"not the bundled one"
        );
        let other = dir.path().join("certs/other.pem");
        assert_eq!(bundled_copy(dir.path(), &other), None);
        let missing = pem_bytes(dir.path(), &other).expect_err("a missing file is an error");
        assert!(missing.to_string().contains("other.pem"), "{missing}");
    }

    #[test]
    fn the_bundled_tls_settings_load() {
        let base = Path::new(BUNDLED_BASE_DIR);
        let settings = TlsSettings {
            certificate_file: base.join("certs/server.pem"),
            private_key_file: base.join("certs/server.key"),
            ca_file: Some(base.join("certs/ca.pem")),
            need_client_auth: true,
            minimum_version_13: false,
        };
        server_config(&settings)
            .expect("the bundled development certificates make a server configuration");
    }
}
