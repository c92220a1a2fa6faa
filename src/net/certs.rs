//! Development certificates (`fixvenue certs`, rcgen): a CA, a server certificate for localhost and
//! 127.0.0.1, and a client certificate, all ECDSA P-256. For development and tests only: the keys are written
//! unencrypted.

use std::path::{Path, PathBuf};

use chrono::Datelike;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// How long generated certificates stay valid, in years.
pub const VALIDITY_YEARS: i32 = 5;

/// PEM text of a generated set.
#[derive(Debug, Clone)]
pub struct DevCerts {
    pub ca_pem: String,
    pub ca_key_pem: String,
    pub server_pem: String,
    pub server_key_pem: String,
    pub client_pem: String,
    pub client_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("certificate generation")]
    Rcgen(#[from] rcgen::Error),
    #[error("cannot write {path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

fn params(names: &[&str], common_name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    p.distinguished_name.push(DnType::CommonName, common_name);
    p.distinguished_name
        .push(DnType::OrganizationName, "fixvenue development");
    let year = chrono::Utc::now().year();
    p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(year + VALIDITY_YEARS, 1, 1);
    Ok(p)
}

fn ca(common_name: &str) -> Result<(Certificate, KeyPair), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut p = params(&[], common_name)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok((p.self_signed(&key)?, key))
}

fn leaf(
    names: &[&str],
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    ca: &(Certificate, KeyPair),
) -> Result<(Certificate, KeyPair), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut p = params(names, common_name)?;
    p.extended_key_usages = vec![usage];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    Ok((p.signed_by(&key, &ca.0, &ca.1)?, key))
}

/// A new CA, a server certificate for `hosts` (DNS names or IP addresses) and a client certificate with
/// common name `client_name`.
pub fn generate(hosts: &[&str], client_name: &str) -> Result<DevCerts, CertsError> {
    let ca = ca("fixvenue development CA")?;
    let server = leaf(
        hosts,
        hosts.first().copied().unwrap_or("localhost"),
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca,
    )?;
    let client = leaf(&[], client_name, ExtendedKeyUsagePurpose::ClientAuth, &ca)?;
    Ok(DevCerts {
        ca_pem: ca.0.pem(),
        ca_key_pem: ca.1.serialize_pem(),
        server_pem: server.0.pem(),
        server_key_pem: server.1.serialize_pem(),
        client_pem: client.0.pem(),
        client_key_pem: client.1.serialize_pem(),
    })
}

/// Writes a generated set into `dir`: ca.pem, ca.key, server.pem, server.key, client.pem, client.key.
pub fn write(dir: &Path, certs: &DevCerts) -> Result<Vec<PathBuf>, CertsError> {
    std::fs::create_dir_all(dir).map_err(|source| CertsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let files = [
        ("ca.pem", &certs.ca_pem),
        ("ca.key", &certs.ca_key_pem),
        ("server.pem", &certs.server_pem),
        ("server.key", &certs.server_key_pem),
        ("client.pem", &certs.client_pem),
        ("client.key", &certs.client_key_pem),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| CertsError::Write {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use session::config::TlsSettings;

    #[test]
    fn generated_certificates_make_a_valid_server_config() {
        let dir = tempfile::tempdir().unwrap();
        let certs = generate(&["localhost", "127.0.0.1"], "CLIENT").unwrap();
        write(dir.path(), &certs).unwrap();
        let settings = TlsSettings {
            certificate_file: dir.path().join("server.pem"),
            private_key_file: dir.path().join("server.key"),
            ca_file: Some(dir.path().join("ca.pem")),
            need_client_auth: true,
            minimum_version_13: false,
        };
        crate::net::tls::server_config(&settings).unwrap();
        let bad = TlsSettings {
            certificate_file: dir.path().join("missing.pem"),
            ..settings
        };
        let e = crate::net::tls::server_config(&bad).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
    }
}
