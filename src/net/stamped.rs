//! The read stamp of a connection: its socket (or TLS stream) wrapped so that every read that brings bytes notes
//! the time. The FIX codec hands out every complete message of a read before the socket is read again
//! ([`super::codec::Inbound::Drained`]), so when a message comes out of the codec, the last read noted is the one
//! that brought its last byte: that time is the message's stamp in the session log ("received").
//!
//! The clock is the system's real-time clock (`chrono::Utc::now`, CLOCK_REALTIME: UTC, nanosecond resolution on
//! Linux; it follows NTP adjustments and may step). Writes pass through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream that notes when a read last brought bytes.
pub struct ReadStamped<S> {
    inner: S,
    last_read: DateTime<Utc>,
}

impl<S> ReadStamped<S> {
    pub fn new(inner: S) -> ReadStamped<S> {
        ReadStamped {
            inner,
            last_read: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// When the last read that brought bytes returned.
    pub fn last_read(&self) -> DateTime<Utc> {
        self.last_read
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadStamped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.last_read = Utc::now();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadStamped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_read_that_brings_bytes_is_stamped_and_writes_pass_through() {
        let (client, server) = tokio::io::duplex(64);
        let mut stamped = ReadStamped::new(server);
        let mut client = client;
        assert_eq!(stamped.last_read(), DateTime::<Utc>::MIN_UTC);
        let before = Utc::now();
        client.write_all(b"abc").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(stamped.read(&mut buf).await.unwrap(), 3);
        let first = stamped.last_read();
        assert!(first >= before && first <= Utc::now());
        stamped.write_all(b"xyz").await.unwrap();
        let mut back = [0u8; 3];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"xyz");
        assert_eq!(stamped.last_read(), first, "a write is no read");
        drop(client);
        assert_eq!(stamped.read(&mut buf).await.unwrap(), 0);
        assert_eq!(stamped.last_read(), first, "end of stream brings no bytes");
    }
}
