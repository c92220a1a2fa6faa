//! The transport: a TCP connection to an acceptor, plain or TLS, as one [`Stream`] type.
//!
//! A [`Connector`] holds what every connection of a run shares (the TLS configuration, read once); `connect`
//! opens one connection with Nagle off (FIX messages are small and latency is what the tests and benchmarks
//! look at) and a deadline on both the TCP connect and the TLS handshake.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::tls::{ClientTls, TlsConfigError, client_config};

/// Deadline for the TCP connect, and again for the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// TLS with this material; `None`: plain TCP.
    pub tls: Option<ClientTls>,
}

impl Endpoint {
    /// Plain TCP to `host:port`.
    pub fn plain(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.to_string(),
            port,
            tls: None,
        }
    }

    /// Plain TCP to 127.0.0.1: a venue the test started.
    pub fn local(port: u16) -> Endpoint {
        Endpoint::plain("127.0.0.1", port)
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {addr}: {source}")]
    Tcp {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("connecting to {addr} timed out")]
    Timeout { addr: String },
    #[error("TLS: {0}")]
    Config(#[from] TlsConfigError),
    #[error("TLS: {0:?} is not a server name")]
    ServerName(String),
    #[error("TLS: {0}")]
    Handshake(#[source] io::Error),
    #[error("TLS: handshake timed out")]
    HandshakeTimeout,
}

/// One connection, plain or TLS.
// The TLS stream is boxed: it is some hundreds of bytes, the plain one a handle.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Opens connections to one kind of endpoint; the TLS configuration is read once and shared.
#[derive(Clone)]
pub struct Connector {
    tls: Option<TlsConnector>,
}

impl Connector {
    /// Plain TCP, or TLS with `tls`.
    pub fn new(tls: Option<&ClientTls>) -> Result<Connector, ConnectError> {
        let tls = match tls {
            Some(tls) => Some(TlsConnector::from(client_config(tls)?)),
            None => None,
        };
        Ok(Connector { tls })
    }

    /// Opens a connection to `host:port`; with TLS, `host` is also the name the certificate must carry.
    pub async fn connect(&self, host: &str, port: u16) -> Result<Stream, ConnectError> {
        let addr = format!("{host}:{port}");
        let tcp = match timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(source)) => return Err(ConnectError::Tcp { addr, source }),
            Err(_) => return Err(ConnectError::Timeout { addr }),
        };
        // Best effort: a socket that refuses TCP_NODELAY still works, only slower.
        let _ = tcp.set_nodelay(true);
        let Some(connector) = &self.tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = rustls_pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| ConnectError::ServerName(host.to_string()))?;
        match timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(tls))),
            Ok(Err(e)) => Err(ConnectError::Handshake(e)),
            Err(_) => Err(ConnectError::HandshakeTimeout),
        }
    }
}

/// Opens one connection to `endpoint` (reading its TLS material for this connection alone).
pub async fn connect(endpoint: &Endpoint) -> Result<Stream, ConnectError> {
    Connector::new(endpoint.tls.as_ref())?
        .connect(&endpoint.host, endpoint.port)
        .await
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
