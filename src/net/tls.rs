//! TLS for a listener: rustls (ring), TLS 1.2 and 1.3 only, a PEM certificate chain and key, optional client
//! certificates verified against SocketCAFile (NeedClientAuth=Y). SSLKEYLOGFILE is honoured for debugging.

use std::path::Path;
use std::sync::Arc;

use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use session::config::TlsSettings;

/// Most certificates read from one PEM file.
pub const PEM_CERTIFICATES_MAX: usize = 16;

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

/// Reads every certificate of a PEM file (at least one).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for cert in CertificateDer::pem_file_iter(path).map_err(pem_err(path))? {
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
    let key = PrivateKeyDer::from_pem_file(&settings.private_key_file)
        .map_err(pem_err(&settings.private_key_file))?;
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
