//! The FIX codec a connection runs under `tokio_util::codec::Framed`: [`fix::frame::check`] as a [`Decoder`] of
//! inbound messages, and an [`Encoder`] of outbound messages, which arrive already encoded and numbered.
//!
//! The decoder is pure, as framing is: it looks at the read buffer and hands out what is there, keeping
//! framing's rules: a declared BodyLength over [`FrameConfig::message_bytes_max`] is garbled at once, before more
//! is read; after garbage it resynchronises on the next `8=FIX`; a message with another BeginString is told apart
//! from other garbage. It reads no clock and does no I/O.
//!
//! Invariant: the connection hands a message to the encoder only once the store has made it durable (the
//! durability rule: stored, then written), so the write buffer never holds anything the store does not.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use fix::frame;
use fix::{FrameConfig, Framed, Garble};

use super::READ_CHUNK_BYTES;

/// What the decoder hands out, in the order of the bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// One complete message, BodyLength and CheckSum checked.
    Frame(BytesMut),
    /// Bytes framing refused, already dropped from the buffer.
    Garbled(Garble),
    /// A message that starts `8=FIX` with a BeginString other than FIX.4.4: its bytes, as far as framing read them
    /// (the first message's CompIDs are read from them).
    WrongBeginString(BytesMut),
    /// Every complete message read so far has been handed out; the buffer holds the start of one or nothing.
    /// Handed out once after each read, before the socket is read again: the connection commits the messages of
    /// the read as one batch here, and times a message left half-sent.
    Drained,
}

/// The codec of one connection.
#[derive(Debug, Default)]
pub struct FixCodec {
    config: FrameConfig,
    /// The buffer's length when [`Inbound::Drained`] was last handed out, `None` once anything was since. Reads
    /// only grow the buffer, so a different length means bytes arrived.
    drained_at: Option<usize>,
}

impl Decoder for FixCodec {
    type Item = Inbound;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, io::Error> {
        let item = match frame::check(buf, &self.config) {
            Framed::Complete { len } => Inbound::Frame(buf.split_to(len)),
            Framed::Garbled { skip, reason } => {
                if reason == Garble::BadBeginString && buf.starts_with(b"8=FIX") {
                    Inbound::WrongBeginString(buf.split_to(skip))
                } else {
                    buf.advance(skip);
                    Inbound::Garbled(reason)
                }
            }
            Framed::Incomplete { .. } if self.drained_at == Some(buf.len()) => {
                // Room for the next read.
                buf.reserve(READ_CHUNK_BYTES);
                return Ok(None);
            }
            Framed::Incomplete { .. } => {
                self.drained_at = Some(buf.len());
                return Ok(Some(Inbound::Drained));
            }
        };
        self.drained_at = None;
        Ok(Some(item))
    }

    /// At the end of the stream a message cut off mid-way is dropped with the connection, without a word.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, io::Error> {
        match self.decode(buf)? {
            Some(Inbound::Drained) | None => Ok(None),
            item => Ok(item),
        }
    }
}

impl Encoder<Bytes> for FixCodec {
    type Error = io::Error;

    /// Appends one outbound message, already encoded with its BodyLength and CheckSum, to the write buffer.
    fn encode(&mut self, message: Bytes, buf: &mut BytesMut) -> Result<(), io::Error> {
        buf.extend_from_slice(&message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(seq: u32) -> Vec<u8> {
        frame::from_text(&format!("35=0|49=C|56=V|34={seq}|52=20261122-10:00:00|"))
    }

    /// Everything the codec hands out for `reads`, each appended to the buffer in turn, as `Framed` does.
    fn decode_reads(reads: &[&[u8]]) -> Vec<Inbound> {
        let mut codec = FixCodec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for read in reads {
            buf.extend_from_slice(read);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                out.push(item);
            }
        }
        out
    }

    fn frame_item(bytes: &[u8]) -> Inbound {
        Inbound::Frame(BytesMut::from(bytes))
    }

    #[test]
    fn every_message_of_a_read_then_drained_once() {
        let (one, two) = (heartbeat(1), heartbeat(2));
        let both = [one.clone(), two.clone()].concat();
        assert_eq!(
            decode_reads(&[&both]),
            vec![frame_item(&one), frame_item(&two), Inbound::Drained]
        );
    }

    #[test]
    fn a_message_split_across_reads_is_drained_after_each_read() {
        let one = heartbeat(1);
        let (head, tail) = one.split_at(12);
        let (middle, end) = tail.split_at(5);
        assert_eq!(
            decode_reads(&[head, middle, end]),
            vec![
                Inbound::Drained,
                Inbound::Drained,
                frame_item(&one),
                Inbound::Drained
            ]
        );
    }

    #[test]
    fn garbage_is_skipped_up_to_the_next_message() {
        let one = heartbeat(1);
        let read = [&b"noise"[..], &one].concat();
        assert_eq!(
            decode_reads(&[&read]),
            vec![
                Inbound::Garbled(Garble::BadBeginString),
                frame_item(&one),
                Inbound::Drained
            ]
        );
    }

    #[test]
    fn another_begin_string_is_handed_out_with_its_bytes() {
        let old = b"8=FIX.4.2\x019=5\x0135=A\x0110=000\x01";
        let one = heartbeat(1);
        let read = [&old[..], &one].concat();
        assert_eq!(
            decode_reads(&[&read]),
            vec![
                Inbound::WrongBeginString(BytesMut::from(&old[..])),
                frame_item(&one),
                Inbound::Drained
            ]
        );
    }

    #[test]
    fn a_declared_length_over_the_cap_is_refused_before_the_body_arrives() {
        let items = decode_reads(&[b"8=FIX.4.4\x019=999999\x01"]);
        assert!(matches!(
            items[0],
            Inbound::Garbled(Garble::TooLarge { max }) if max == FrameConfig::default().message_bytes_max
        ));
    }

    #[test]
    fn a_message_cut_off_by_the_end_of_the_stream_is_dropped() {
        let mut codec = FixCodec::default();
        let mut buf = BytesMut::from(&heartbeat(1)[..10]);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(Inbound::Drained));
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    }

    #[test]
    fn the_encoder_writes_the_message_as_it_is() {
        let one = heartbeat(1);
        let mut buf = BytesMut::new();
        FixCodec::default()
            .encode(Bytes::from(one.clone()), &mut buf)
            .unwrap();
        assert_eq!(&buf[..], &one[..]);
    }
}
