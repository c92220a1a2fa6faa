//! The client side of TLS: trust roots and client certificates from PEM files.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Most certificates read from one PEM file.
pub const PEM_CERTIFICATES_MAX: usize = 16;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PemError {
    pub path: String,
    pub message: String,
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
