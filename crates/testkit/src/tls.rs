//! The client side of TLS: trust roots and an optional client certificate from PEM files, made into the rustls
//! configuration every connection of a run shares.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Most certificates read from one PEM file.
pub const PEM_CERTIFICATES_MAX: usize = 16;

/// Where the client's TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// Trust roots (PEM): the acceptor's certificate must chain to one of them.
    pub ca_file: PathBuf,
    /// A client certificate and its key (PEM), for acceptors that ask for one; both or neither.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl ClientTls {
    /// Trust roots only, no client certificate.
    pub fn new(ca_file: impl Into<PathBuf>) -> ClientTls {
        ClientTls {
            ca_file: ca_file.into(),
            cert_file: None,
            key_file: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PemError {
    pub path: String,
    pub message: String,
}

/// Why the client's TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("{path}: {source}")]
    Key {
        path: String,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// Reads every certificate of a PEM file (at least one, at most [`PEM_CERTIFICATES_MAX`]).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let error = |message: String| PemError {
        path: path.display().to_string(),
        message,
    };
    let mut out = Vec::new();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| error(e.to_string()))? {
        if out.len() == PEM_CERTIFICATES_MAX {
            return Err(error(format!(
                "more than {PEM_CERTIFICATES_MAX} certificates"
            )));
        }
        out.push(cert.map_err(|e| error(e.to_string()))?);
    }
    if out.is_empty() {
        return Err(error("no certificate in the file".into()));
    }
    Ok(out)
}

/// The rustls client configuration for `tls`: the ring provider, the safe default protocol versions, the trust
/// roots, and the client certificate when both its files are given.
pub fn client_config(tls: &ClientTls) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certificates(&tls.ca_file)? {
        roots.add(cert)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let certs = load_certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsConfigError::Key {
                path: key.display().to_string(),
                source,
            })?;
            builder.with_client_auth_cert(certs, key)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
