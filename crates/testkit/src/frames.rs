//! Reading: bytes from a connection into whole FIX messages, through `fix::frame` (BodyLength, CheckSum, size
//! cap), in a buffer that never holds more than one message under construction plus one read.
//!
//! Frames are lent, not copied: [`FrameReader::next`] and [`FrameReader::buffered`] return the frame at the
//! front of the buffer, which is dropped on the next call. A benchmark decodes it in place; a test parses it
//! into an owned [`Msg`](crate::msg::Msg).

use std::io;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};
use tokio::time::{Instant, timeout_at};

use fix::frame::{self, FrameConfig, Framed, Garble};

/// Bytes asked of the connection per read.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Why no frame could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the acceptor closed the connection")]
    Closed,
    #[error("the acceptor sent a garbled message: {0}")]
    Garbled(Garble),
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// A connection (or its read half) with the bytes read from it and not yet taken as frames.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    config: FrameConfig,
    /// The length of the frame lent out last, dropped from the front of `buf` on the next call.
    lent: usize,
}

impl<R> FrameReader<R> {
    /// Frames with the default size cap.
    pub fn new(io: R) -> FrameReader<R> {
        FrameReader::with_config(io, FrameConfig::default())
    }

    pub fn with_config(io: R, config: FrameConfig) -> FrameReader<R> {
        FrameReader {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
            config,
            lent: 0,
        }
    }

    /// The most bytes the buffer ever holds: one message short of complete, plus one read.
    pub fn buffer_bytes_max(&self) -> usize {
        self.config.message_bytes_max + READ_CHUNK_BYTES
    }

    /// The connection, for writing on it.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }

    pub fn get_ref(&self) -> &R {
        &self.io
    }

    /// The connection, and what was read from it beyond the frames taken.
    pub fn into_parts(mut self) -> (R, BytesMut) {
        self.drop_lent();
        (self.io, self.buf)
    }

    /// Bytes read and not yet taken as frames (a part of a message, or messages not asked for yet).
    pub fn unread(&mut self) -> &[u8] {
        self.drop_lent();
        &self.buf
    }

    fn drop_lent(&mut self) {
        self.buf.advance(std::mem::take(&mut self.lent));
    }

    /// The length of the complete frame at the front of the buffer, if there is one.
    fn complete(&mut self) -> Result<Option<usize>, ReadError> {
        self.drop_lent();
        match frame::check(&self.buf, &self.config) {
            Framed::Complete { len } => Ok(Some(len)),
            Framed::Incomplete { .. } => Ok(None),
            Framed::Garbled { reason, .. } => Err(ReadError::Garbled(reason)),
        }
    }

    fn lend(&mut self, len: usize) -> &[u8] {
        self.lent = len;
        &self.buf[..len]
    }

    /// The next frame if one is already read, without reading; it is lent until the next call.
    pub fn buffered(&mut self) -> Result<Option<&[u8]>, ReadError> {
        match self.complete()? {
            Some(len) => Ok(Some(self.lend(len))),
            None => Ok(None),
        }
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads once from the connection (at least one byte), unless a complete frame is already buffered; the
    /// connection's end is [`ReadError::Closed`].
    pub async fn fill(&mut self) -> Result<(), ReadError> {
        if self.complete()?.is_some() {
            return Ok(());
        }
        // The framer refuses a message over the cap as soon as its BodyLength says so, and reading waits until
        // no complete frame is buffered: what is buffered is less than one message.
        assert!(
            self.buf.len() < self.config.message_bytes_max,
            "{} bytes buffered without a complete frame",
            self.buf.len()
        );
        self.buf.reserve(READ_CHUNK_BYTES);
        match self.io.read_buf(&mut self.buf).await? {
            0 => Err(ReadError::Closed),
            _ => Ok(()),
        }
    }

    /// The next frame, reading as needed; lent until the next call.
    pub async fn next(&mut self) -> Result<&[u8], ReadError> {
        loop {
            if let Some(len) = self.complete()? {
                return Ok(self.lend(len));
            }
            self.fill().await?;
        }
    }

    /// The next frame, or `None` when `deadline` passes first; lent until the next call.
    pub async fn next_before(&mut self, deadline: Instant) -> Result<Option<&[u8]>, ReadError> {
        loop {
            if let Some(len) = self.complete()? {
                return Ok(Some(self.lend(len)));
            }
            match timeout_at(deadline, self.fill()).await {
                Ok(read) => read?,
                Err(_) => return Ok(None),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite> FrameReader<S> {
    /// Splits the connection: this reader (with what it has buffered) on the read half, and the write half.
    pub fn split(self) -> (FrameReader<ReadHalf<S>>, WriteHalf<S>) {
        let config = self.config;
        let (io, buf) = self.into_parts();
        let (read, write) = tokio::io::split(io);
        let reader = FrameReader {
            io: read,
            buf,
            config,
            lent: 0,
        };
        (reader, write)
    }
}
