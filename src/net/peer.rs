//! The names a verified client certificate carries, and whether they bind it to a session: with
//! NeedClientAuth=Y a certificate logs on only to a session whose ClientCertificateNames (by default the
//! client's CompID) include its subject's common name or one of its DNS subjectAltNames, compared exactly.
//!
//! The certificate has been verified against SocketCAFile before this reads it; still, nothing here indexes past
//! a slice: a subject that does not parse yields no common name.

use std::fmt;

use rustls_pki_types::CertificateDer;

/// Names read from one certificate, at most (common names and DNS names each).
pub const CERTIFICATE_NAMES_MAX: usize = 16;

/// The OID of the commonName attribute, 2.5.4.3, as DER content.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
/// UTF8String, PrintableString, IA5String: the DirectoryString forms read as text.
const TEXT_TAGS: [u8; 3] = [0x0c, 0x13, 0x16];

/// A client certificate's subject common names and DNS subjectAltNames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateNames {
    pub common_names: Vec<String>,
    pub dns_names: Vec<String>,
}

impl CertificateNames {
    /// The names of the end-entity certificate `der`; none when it does not parse.
    pub fn of(der: &CertificateDer<'_>) -> CertificateNames {
        let Ok(cert) = webpki::EndEntityCert::try_from(der) else {
            return CertificateNames::default();
        };
        CertificateNames {
            common_names: common_names(cert.subject()),
            dns_names: cert
                .valid_dns_names()
                .take(CERTIFICATE_NAMES_MAX)
                .map(str::to_string)
                .collect(),
        }
    }

    /// Whether one of the names is in `allowed` (a session's ClientCertificateNames).
    pub fn bound_to(&self, allowed: &[String]) -> bool {
        self.common_names
            .iter()
            .chain(&self.dns_names)
            .any(|name| allowed.contains(name))
    }
}

/// `CN=TLSCLIENT1, DNS=desk1.example.com`, or `no name` for a certificate without either.
impl fmt::Display for CertificateNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .common_names
            .iter()
            .map(|n| format!("CN={n}"))
            .chain(self.dns_names.iter().map(|n| format!("DNS={n}")))
            .collect();
        if names.is_empty() {
            f.write_str("no name")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// One DER tag-length-value: `(tag, value, rest)`; `None` for a high tag number, an indefinite or oversized
/// length, or a value running past the input.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    let (value, rest) = rest.split_at_checked(len)?;
    Some((tag, value, rest))
}

/// The commonName values of a Name (the RDNSequence's content, as webpki hands out a subject).
fn common_names(subject: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut rdns = subject;
    while let Some((TAG_SET, set, rest)) = tlv(rdns) {
        rdns = rest;
        let mut attributes = set;
        while let Some((TAG_SEQUENCE, attribute, rest)) = tlv(attributes) {
            attributes = rest;
            let Some((TAG_OID, oid, value)) = tlv(attribute) else {
                continue;
            };
            if oid != OID_COMMON_NAME || names.len() == CERTIFICATE_NAMES_MAX {
                continue;
            }
            if let Some((tag, text, _)) = tlv(value)
                && TEXT_TAGS.contains(&tag)
                && let Ok(text) = std::str::from_utf8(text)
            {
                names.push(text.to_string());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_cert(common_name: &str, sans: &[&str]) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "fixvenue test");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn common_name_and_dns_names_are_read_and_bind_exactly() {
        let names = CertificateNames::of(&client_cert("TLSCLIENT1", &["desk1.example.com"]));
        assert_eq!(names.common_names, ["TLSCLIENT1"]);
        assert_eq!(names.dns_names, ["desk1.example.com"]);
        assert_eq!(names.to_string(), "CN=TLSCLIENT1, DNS=desk1.example.com");
        assert!(names.bound_to(&["TLSCLIENT1".into()]));
        assert!(names.bound_to(&["X".into(), "desk1.example.com".into()]));
        assert!(!names.bound_to(&["tlsclient1".into(), "SOMEONEELSE".into()]));
    }

    #[test]
    fn garbage_yields_no_name_and_binds_nothing() {
        let names = CertificateNames::of(&CertificateDer::from(vec![0x30, 0x82, 0xff]));
        assert_eq!(names, CertificateNames::default());
        assert_eq!(names.to_string(), "no name");
        assert!(!names.bound_to(&["".into()]));
        // Truncated and oversized lengths end the walk instead of reading past the input.
        assert!(common_names(&[TAG_SET, 0x05, TAG_SEQUENCE, 0x03]).is_empty());
        assert!(common_names(&[TAG_SET, 0x85, 0, 0, 0, 0, 1]).is_empty());
        assert_eq!(
            tlv(&[0x04, 0x81, 0x01, 0xaa]),
            Some((0x04, &[0xaa][..], &[][..]))
        );
    }
}
