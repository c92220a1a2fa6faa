//! The FIX 4.4 wire format, pure: no tokio, no sockets, no clock.
//!
//! - [`frame`]: find a complete message in a byte buffer (BeginString, BodyLength, CheckSum, size cap, resync).
//! - [`decode`]: zero-copy view of a frame, typed accessors, repeating groups through the dictionary.
//! - [`encode`]: write a message into `bytes::BytesMut` with BodyLength and CheckSum computed.
//! - [`dictionary`]: `fix-spec/FIX44.xml` (QuickFIX format) loaded into lookup tables.
//! - [`validate`]: the dictionary's rules, yielding the exact SessionRejectReason and RefTagID.
//! - [`types`]: value formats (INT, decimals, UTCTimestamp, ...); [`tags`]: tag numbers and enumerations.
//! - [`limits`]: the longest identifiers (ClOrdID, Account, Symbol) the venue accepts, for every crate.
//!
//! Invariants: nothing here panics on bytes from outside; nothing here allocates per message once its reusable
//! buffers have grown; nothing here knows of tokio, time sources or sessions.

pub mod decode;
pub mod dictionary;
pub mod encode;
pub mod frame;
pub mod limits;
pub mod tags;
pub mod types;
pub mod validate;

pub use decode::{DecodeError, Decoder, FieldError, FieldValue, Message};
pub use dictionary::Dictionary;
pub use encode::{Encoder, Header, MessageWriter};
pub use frame::{FrameConfig, Framed, Garble};
pub use validate::{Invalid, Reject, ValidationOptions, Validator};

/// What happened to one chunk of untrusted bytes pushed through framing, decoding and validation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    pub valid: usize,
    pub rejected: usize,
    pub unsupported: usize,
    pub undecodable: usize,
    pub garbled: usize,
}

/// Frames, decodes and validates every message in `bytes`, the way a connection does. The fuzz target and its
/// corpus replay test call this; it must never panic.
pub fn process_untrusted(dict: &Dictionary, bytes: &[u8]) -> Processed {
    let config = FrameConfig::default();
    let mut decoder = Decoder::new();
    let mut validator = Validator::default();
    let mut out = Processed::default();
    let mut at = 0;
    while at < bytes.len() {
        match frame::check(&bytes[at..], &config) {
            Framed::Complete { len } => {
                match decoder.decode(dict, &bytes[at..at + len]) {
                    Ok(msg) => match validator.validate(dict, &msg) {
                        Ok(_) => out.valid += 1,
                        Err(Invalid::Reject(_)) => out.rejected += 1,
                        Err(Invalid::UnsupportedMsgType) => out.unsupported += 1,
                    },
                    Err(_) => out.undecodable += 1,
                }
                at += len;
            }
            Framed::Garbled { skip, .. } => {
                out.garbled += 1;
                at += skip;
            }
            Framed::Incomplete { .. } => break,
        }
    }
    out
}
