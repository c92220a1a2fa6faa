//! TLS for a listener: rustls (ring), TLS 1.2 and 1.3 only, a PEM certificate chain and key, optional client
//! certificates verified against SocketCAFile (NeedClientAuth=Y). SSLKEYLOGFILE is honoured for debugging.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use session::config::TlsSettings;

/// Most certificates read from one PEM file.
pub const PEM_CERTIFICATES_MAX: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Rustls(rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

// Not `#[from]`: the message already carries the rustls error, and a source would print it twice.
impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Rustls(e)
    }
}

fn file_err(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Reads every certificate of a PEM file (at least one).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_err(path, e))? {
        if out.len() == PEM_CERTIFICATES_MAX {
            return Err(file_err(
                path,
                format!("more than {PEM_CERTIFICATES_MAX} certificates"),
            ));
        }
        out.push(cert.map_err(|e| file_err(path, e))?);
    }
    if out.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
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
        .map_err(|e| file_err(&settings.private_key_file, e))?;
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = if settings.need_client_auth {
        let ca_file = settings
            .ca_file
            .as_deref()
            .ok_or_else(|| TlsError::Verifier("NeedClientAuth=Y needs SocketCAFile".into()))?;
        let mut roots = RootCertStore::empty();
        for cert in load_certificates(ca_file)? {
            roots.add(cert).map_err(|e| file_err(ca_file, e))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
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
