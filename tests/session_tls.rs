//! The TLS listener over loopback: certificates made at run time; a trusted client logs on, an untrusted
//! client certificate is refused when NeedClientAuth=Y, plain bytes on the TLS port fail cleanly, TLS 1.1 and
//! (with SocketMinimumTLSVersion=1.3) TLS 1.2 are refused.

use std::path::Path;
use std::sync::Arc;

use conformance::{self, ClientTls, Target};
use fixvenue::net::certs;
use session::config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

struct Venue {
    port: u16,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), fixvenue::net::ServeError>>,
    _data: tempfile::TempDir,
}

async fn start(certs_dir: &Path, extra: &str) -> Venue {
    let text = format!(
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         SocketUseSSL=Y\nSocketCertificateFile={0}/server.pem\nSocketPrivateKeyFile={0}/server.key\n\
         SocketCAFile={0}/ca.pem\n{extra}[SESSION]\nTargetCompID=CLIENT1\n",
        certs_dir.display()
    );
    let settings = config::parse("tls.cfg", &text).unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = fixvenue::runtime::bind(&settings, data.path())
        .await
        .unwrap();
    let bound = server.local_addrs()[0];
    assert!(bound.tls);
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(server.run(rx));
    Venue {
        port: bound.addr.port(),
        shutdown,
        task,
        _data: data,
    }
}

impl Venue {
    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

fn make_certs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let c = certs::generate(&["localhost", "127.0.0.1"], "CLIENT1").unwrap();
    certs::write(dir.path(), &c).unwrap();
    dir
}

const LOGON: &str = "# logon\nconnect\nsend 35=A|98=0|108=30|\nexpect 35=A|108=30|\nsend 35=5|\nexpect 35=5|\nexpect-disconnect\n";

fn target(port: u16, tls: ClientTls) -> Target {
    Target {
        tls: Some(tls),
        ..Target::new("localhost", port, "CLIENT1", "FIXVENUE")
    }
}

#[tokio::test]
async fn a_trusted_client_logs_on_over_tls_with_and_without_client_certificates() {
    let certs = make_certs();
    let venue = start(certs.path(), "NeedClientAuth=Y\n").await;
    let scenario = conformance::script::parse("tls_logon", LOGON).unwrap();
    let with_cert = ClientTls {
        ca_file: certs.path().join("ca.pem"),
        cert_file: Some(certs.path().join("client.pem")),
        key_file: Some(certs.path().join("client.key")),
    };
    conformance::run(&scenario, &target(venue.port, with_cert))
        .await
        .unwrap();
    // Without a client certificate the handshake (or the first read) fails: no Logon answer.
    let without = ClientTls {
        ca_file: certs.path().join("ca.pem"),
        cert_file: None,
        key_file: None,
    };
    assert!(
        conformance::run(&scenario, &target(venue.port, without))
            .await
            .is_err()
    );
    venue.stop().await;

    let venue = start(certs.path(), "NeedClientAuth=N\n").await;
    let without = ClientTls {
        ca_file: certs.path().join("ca.pem"),
        cert_file: None,
        key_file: None,
    };
    conformance::run(&scenario, &target(venue.port, without))
        .await
        .unwrap();
    venue.stop().await;
}

#[tokio::test]
async fn an_untrusted_client_certificate_is_refused() {
    let certs = make_certs();
    let other = make_certs(); // another CA: its client certificate is not trusted by the venue
    let venue = start(certs.path(), "NeedClientAuth=Y\n").await;
    let scenario = conformance::script::parse("tls_logon", LOGON).unwrap();
    let untrusted = ClientTls {
        ca_file: certs.path().join("ca.pem"),
        cert_file: Some(other.path().join("client.pem")),
        key_file: Some(other.path().join("client.key")),
    };
    let failure = conformance::run(&scenario, &target(venue.port, untrusted))
        .await
        .unwrap_err();
    assert!(failure.line >= 2, "{failure}");
    venue.stop().await;
}

/// Reads until EOF (or 5 s); returns what arrived.
async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut out),
    )
    .await;
    out
}

#[tokio::test]
async fn plain_fix_on_the_tls_port_fails_cleanly() {
    let certs = make_certs();
    let venue = start(certs.path(), "").await;
    let mut s = TcpStream::connect(("127.0.0.1", venue.port)).await.unwrap();
    let logon =
        fix::frame::from_text("35=A|49=CLIENT1|56=FIXVENUE|34=1|52=20270101-00:00:00|98=0|108=30|");
    s.write_all(&logon).await.unwrap();
    let answer = read_to_end(&mut s).await;
    // No FIX answer: at most a TLS alert record (content type 21).
    assert!(!answer.windows(5).any(|w| w == b"8=FIX"), "{answer:?}");
    assert!(answer.is_empty() || answer[0] == 0x15, "{answer:?}");
    venue.stop().await;
}

/// A TLS 1.1 ClientHello (no supported_versions extension, one TLS 1.1 cipher suite).
fn tls11_client_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x02]; // client_version TLS 1.1
    hello.extend_from_slice(&[7u8; 32]); // random
    hello.push(0); // session id
    hello.extend_from_slice(&[0x00, 0x02, 0x00, 0x2f]); // TLS_RSA_WITH_AES_128_CBC_SHA
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0x00, 0x00, hello.len() as u8];
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x02, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn tls_1_1_is_refused() {
    let certs = make_certs();
    let venue = start(certs.path(), "").await;
    let mut s = TcpStream::connect(("127.0.0.1", venue.port)).await.unwrap();
    s.write_all(&tls11_client_hello()).await.unwrap();
    let answer = read_to_end(&mut s).await;
    // An alert (21), never a ServerHello (a handshake record, 22).
    assert!(answer.is_empty() || answer[0] == 0x15, "{answer:?}");
    venue.stop().await;
}

#[tokio::test]
async fn minimum_tls_1_3_refuses_a_tls_1_2_client() {
    let certs = make_certs();
    let venue = start(certs.path(), "SocketMinimumTLSVersion=1.3\n").await;
    let mut roots = rustls::RootCertStore::empty();
    for c in fixvenue::net::tls::load_certificates(&certs.path().join("ca.pem")).unwrap() {
        roots.add(c).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls12_only = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", venue.port)).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls12_only));
    assert!(connector.connect(name.clone(), tcp).await.is_err());
    let tls13 = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", venue.port)).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls13));
    assert!(connector.connect(name, tcp).await.is_ok());
    venue.stop().await;
}
