//! Framing: find one complete FIX message at the front of a byte buffer.
//!
//! A frame is `8=FIX.4.4<SOH>9=<n><SOH>35=...<SOH>10=NNN<SOH>` where `n` counts the bytes from the one after the
//! BodyLength SOH up to and including the SOH before `10=`, and NNN is the sum of every byte before `10=` modulo
//! 256, as three digits. [`check`] is cheap and pure: it looks at the buffer and says "here is a frame of this
//! length", "need more bytes" or "garbled, skip this many bytes". It never buffers anything itself, so the size cap
//! is enforced by refusing a frame as soon as its declared length exceeds the cap, before the caller reads more.
//!
//! After a garbled frame the caller drops `skip` bytes; `skip` lands on the next `8=FIX` (or keeps a trailing
//! partial `8=FI` that may become one), so the good messages after garbage are not lost.

use memchr::memmem;

/// The field separator.
pub const SOH: u8 = 0x01;

/// Default cap on one message, header and trailer included.
pub const MESSAGE_BYTES_MAX_DEFAULT: usize = 64 * 1024;

/// The exact bytes every FIX 4.4 frame starts with.
pub const BEGIN_STRING_FIELD: &[u8] = b"8=FIX.4.4\x01";

/// The bytes that mark a possible frame start when resynchronising (any FIX version, so that a wrong
/// BeginString is seen as a frame of its own and reported, not skipped byte by byte).
const RESYNC_MARKER: &[u8] = b"8=FIX";

/// BodyLength has at most this many digits (the cap is far below 10^9).
const BODY_LENGTH_DIGITS_MAX: usize = 9;

/// `10=NNN<SOH>`.
const TRAILER_BYTES: usize = 7;

/// What [`check`] found at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// `buf[..len]` is one complete, well-formed message with a correct BodyLength and CheckSum.
    Complete { len: usize },
    /// More bytes are needed. `frame_len` is the total frame length once the BodyLength is known.
    Incomplete { frame_len: Option<usize> },
    /// The front of the buffer is not a valid message; drop `skip` bytes (always at least 1) and check again.
    Garbled { skip: usize, reason: Garble },
}

/// Why a frame is garbled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Garble {
    #[error("message does not start with 8=FIX.4.4")]
    BadBeginString,
    #[error("BodyLength (9) is not the second field or is not a number")]
    BadBodyLength,
    #[error("declared BodyLength makes the message larger than the limit of {max} bytes")]
    TooLarge { max: usize },
    #[error("MsgType (35) is not the third field")]
    MsgTypeNotThird,
    #[error("BodyLength (9) does not match: no CheckSum (10) field where it says the body ends")]
    BodyLengthMismatch,
    #[error("CheckSum (10) is not three digits followed by SOH")]
    BadCheckSumFormat,
    #[error("CheckSum (10) is {declared:03}, the message sums to {computed:03}")]
    CheckSumMismatch { declared: u8, computed: u8 },
}

/// Framing limits, set once per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameConfig {
    /// Largest accepted frame, header and trailer included.
    pub message_bytes_max: usize,
}

impl Default for FrameConfig {
    fn default() -> Self {
        FrameConfig {
            message_bytes_max: MESSAGE_BYTES_MAX_DEFAULT,
        }
    }
}

/// Looks at the front of `buf` and reports a complete frame, a need for more bytes, or garbage to skip.
pub fn check(buf: &[u8], config: &FrameConfig) -> Framed {
    match check_front(buf, config) {
        Ok(framed) => framed,
        Err(reason) => Framed::Garbled {
            skip: resync_skip(buf),
            reason,
        },
    }
}

fn check_front(buf: &[u8], config: &FrameConfig) -> Result<Framed, Garble> {
    const INCOMPLETE: Framed = Framed::Incomplete { frame_len: None };
    let begin_len = BEGIN_STRING_FIELD.len();
    if buf.len() < begin_len {
        return if BEGIN_STRING_FIELD.starts_with(buf) {
            Ok(INCOMPLETE)
        } else {
            Err(Garble::BadBeginString)
        };
    }
    if &buf[..begin_len] != BEGIN_STRING_FIELD {
        return Err(Garble::BadBeginString);
    }
    let Some((body_len, body_start)) = parse_body_length(buf, begin_len, config.message_bytes_max)?
    else {
        return Ok(INCOMPLETE);
    };
    let frame_len = body_start + body_len + TRAILER_BYTES;
    if frame_len > config.message_bytes_max {
        return Err(Garble::TooLarge {
            max: config.message_bytes_max,
        });
    }
    check_msg_type_prefix(&buf[body_start..])?;
    if buf.len() < frame_len {
        return Ok(Framed::Incomplete {
            frame_len: Some(frame_len),
        });
    }
    let body_end = body_start + body_len;
    if buf[body_end - 1] != SOH || &buf[body_end..body_end + 3] != b"10=" {
        return Err(Garble::BodyLengthMismatch);
    }
    let declared = parse_checksum(&buf[body_end + 3..frame_len])?;
    let computed = checksum(&buf[..body_end]);
    if declared != computed {
        return Err(Garble::CheckSumMismatch { declared, computed });
    }
    Ok(Framed::Complete { len: frame_len })
}

/// Parses `9=<digits><SOH>` at `at`. `Ok(None)` when the field is not complete yet. A length above the cap is
/// refused as soon as its digits say so, without waiting for the rest of the field.
fn parse_body_length(buf: &[u8], at: usize, max: usize) -> Result<Option<(usize, usize)>, Garble> {
    let rest = &buf[at..];
    let prefix_len = rest.len().min(2);
    if rest[..prefix_len] != b"9="[..prefix_len] {
        return Err(Garble::BadBodyLength);
    }
    if rest.len() < 2 {
        return Ok(None);
    }
    let mut body_len: usize = 0;
    for (i, &b) in rest[2..].iter().enumerate() {
        match b {
            b'0'..=b'9' if i < BODY_LENGTH_DIGITS_MAX => {
                body_len = body_len * 10 + usize::from(b - b'0');
                if body_len > max {
                    return Err(Garble::TooLarge { max });
                }
            }
            SOH if i > 0 => return Ok(Some((body_len, at + 2 + i + 1))),
            _ => return Err(Garble::BadBodyLength),
        }
    }
    Ok(None)
}

/// The body must start with `35=`; checks as much of that as the buffer holds.
fn check_msg_type_prefix(body: &[u8]) -> Result<(), Garble> {
    let n = body.len().min(3);
    if body[..n] == b"35="[..n] {
        Ok(())
    } else {
        Err(Garble::MsgTypeNotThird)
    }
}

fn parse_checksum(field: &[u8]) -> Result<u8, Garble> {
    match field {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', SOH] => {
            let value = u32::from(a - b'0') * 100 + u32::from(b - b'0') * 10 + u32::from(c - b'0');
            u8::try_from(value).map_err(|_| Garble::BadCheckSumFormat)
        }
        _ => Err(Garble::BadCheckSumFormat),
    }
}

/// The FIX CheckSum: the sum of the bytes modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    // Summing into u32 lanes lets the compiler vectorise; a chunk of 2^24 bytes cannot overflow a u32.
    let mut total: u32 = 0;
    for chunk in bytes.chunks(1 << 24) {
        total = total.wrapping_add(chunk.iter().map(|&b| u32::from(b)).sum::<u32>());
    }
    (total & 0xff) as u8
}

/// Builds a complete frame around a body written as text with `|` for SOH (the readable form tests, scenario
/// files and log exports use), computing BodyLength and CheckSum. The body starts at `35=` and ends with `|`.
pub fn from_text(body: &str) -> Vec<u8> {
    wrap_body(body.replace('|', "\x01").as_bytes())
}

/// Builds a complete frame around raw body bytes (from `35=` to the SOH before `10=`).
pub fn wrap_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 32);
    out.extend_from_slice(BEGIN_STRING_FIELD);
    out.extend_from_slice(format!("9={}\x01", body.len()).as_bytes());
    out.extend_from_slice(body);
    let sum = checksum(&out);
    out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    out
}

/// How many bytes to drop after garbage at the front: up to the next `8=FIX` after the first byte, or all but a
/// trailing partial marker.
fn resync_skip(buf: &[u8]) -> usize {
    if let Some(pos) = memmem::find(&buf[1.min(buf.len())..], RESYNC_MARKER) {
        return pos + 1;
    }
    let keep = (1..RESYNC_MARKER.len())
        .rev()
        .find(|&k| k < buf.len() && buf.ends_with(&RESYNC_MARKER[..k]))
        .unwrap_or(0);
    (buf.len() - keep).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::from_text as frame;

    fn cfg() -> FrameConfig {
        FrameConfig::default()
    }

    #[test]
    fn complete_frame() {
        let f = frame("35=0|49=A|56=B|34=1|52=20261122-10:00:00|");
        assert_eq!(check(&f, &cfg()), Framed::Complete { len: f.len() });
        let mut two = f.clone();
        two.extend_from_slice(&f);
        assert_eq!(check(&two, &cfg()), Framed::Complete { len: f.len() });
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let f = frame("35=0|49=A|56=B|34=1|52=20261122-10:00:00|");
        for n in 0..f.len() {
            assert!(
                matches!(check(&f[..n], &cfg()), Framed::Incomplete { .. }),
                "prefix {n}"
            );
        }
        assert_eq!(
            check(&f[..30], &cfg()),
            Framed::Incomplete {
                frame_len: Some(f.len())
            }
        );
    }

    #[test]
    fn oversized_body_length_is_refused_at_once() {
        assert_eq!(
            check(b"8=FIX.4.4\x019=999999999\x01", &cfg()),
            Framed::Garbled {
                skip: 22,
                reason: Garble::TooLarge { max: 65536 }
            }
        );
        // Neither the SOH after the digits nor all the digits are needed to refuse it.
        assert!(matches!(
            check(b"8=FIX.4.4\x019=999999", &cfg()),
            Framed::Garbled {
                reason: Garble::TooLarge { .. },
                ..
            }
        ));
        assert!(matches!(
            check(b"8=FIX.4.4\x019=65536", &cfg()),
            Framed::Incomplete { .. }
        ));
        let huge = FrameConfig {
            message_bytes_max: usize::MAX,
        };
        assert!(matches!(
            check(b"8=FIX.4.4\x019=9999999999", &huge),
            Framed::Garbled {
                reason: Garble::BadBodyLength,
                ..
            }
        ));
        let small = FrameConfig {
            message_bytes_max: 40,
        };
        let f = frame("35=0|49=A|56=B|34=1|52=20261122-10:00:00|");
        assert!(matches!(
            check(&f[..16], &small),
            Framed::Garbled {
                reason: Garble::TooLarge { .. },
                ..
            }
        ));
    }

    #[test]
    fn frame_at_exactly_the_cap_is_accepted() {
        let f = frame("35=0|49=A|56=B|34=1|52=20261122-10:00:00|");
        let exact = FrameConfig {
            message_bytes_max: f.len(),
        };
        assert_eq!(check(&f, &exact), Framed::Complete { len: f.len() });
        let below = FrameConfig {
            message_bytes_max: f.len() - 1,
        };
        assert!(matches!(
            check(&f, &below),
            Framed::Garbled {
                reason: Garble::TooLarge { .. },
                ..
            }
        ));
    }

    #[test]
    fn wrong_begin_string_and_order_of_first_fields() {
        let cases: [(&[u8], Garble); 5] = [
            (
                b"8=FIX.4.2\x019=5\x0135=0\x0110=000\x01",
                Garble::BadBeginString,
            ),
            (b"9=5\x018=FIX.4.4\x01", Garble::BadBeginString),
            (b"8=FIX.4.4\x0135=0\x019=5\x01", Garble::BadBodyLength),
            (b"8=FIX.4.4\x019=x\x01", Garble::BadBodyLength),
            (
                b"8=FIX.4.4\x019=5\x0149=A\x0135=0\x01",
                Garble::MsgTypeNotThird,
            ),
        ];
        for (input, reason) in cases {
            match check(input, &cfg()) {
                Framed::Garbled { reason: got, .. } => assert_eq!(got, reason, "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn body_length_mismatch() {
        let good = frame("35=0|49=A|56=B|34=1|52=20261122-10:00:00|");
        let text = String::from_utf8(good.clone()).unwrap();
        for delta in [-1i64, 1] {
            let declared: i64 = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
            let bad = text.replacen(
                &format!("9={declared}"),
                &format!("9={}", declared + delta),
                1,
            );
            let mut bad = bad.into_bytes();
            bad.extend_from_slice(b"8=FIX.4.4\x01");
            assert!(
                matches!(
                    check(&bad, &cfg()),
                    Framed::Garbled {
                        reason: Garble::BodyLengthMismatch,
                        ..
                    }
                ),
                "delta {delta}"
            );
        }
    }

    #[test]
    fn checksum_rules() {
        let mut f = frame("35=0|49=A|56=B|34=1|");
        let n = f.len();
        let declared = f[n - 4];
        f[n - 4] = if declared == b'9' { b'0' } else { declared + 1 };
        assert!(matches!(
            check(&f, &cfg()),
            Framed::Garbled {
                reason: Garble::CheckSumMismatch { .. },
                ..
            }
        ));
        f[n - 4] = b'x';
        assert!(matches!(
            check(&f, &cfg()),
            Framed::Garbled {
                reason: Garble::BadCheckSumFormat,
                ..
            }
        ));
        let mut f = frame("35=0|49=A|56=B|34=1|");
        let n = f.len();
        f[n - 1] = b'|';
        assert!(matches!(
            check(&f, &cfg()),
            Framed::Garbled {
                reason: Garble::BadCheckSumFormat,
                ..
            }
        ));
    }

    #[test]
    fn checksum_is_sum_mod_256() {
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(&[255, 1]), 0);
        assert_eq!(checksum(&[200; 3]), (600 % 256) as u8);
    }

    #[test]
    fn resynchronises_after_garbage() {
        let good = frame("35=0|49=A|56=B|34=1|");
        let mut buf = b"garbage 8=FI 8=FIX.4.4\x019=3\x0135=0\x0110=000\x01".to_vec();
        buf.extend_from_slice(&good);
        let mut found = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match check(&buf[at..], &cfg()) {
                Framed::Complete { len } => {
                    found.push(buf[at..at + len].to_vec());
                    at += len;
                }
                Framed::Garbled { skip, .. } => at += skip,
                Framed::Incomplete { .. } => break,
            }
        }
        assert_eq!(found, vec![good]);
    }

    #[test]
    fn resync_keeps_a_trailing_partial_marker() {
        assert_eq!(resync_skip(b"xyz8=FI"), 3);
        assert_eq!(resync_skip(b"x8"), 1);
        assert_eq!(resync_skip(b"xyz"), 3);
        assert_eq!(resync_skip(b"8"), 1);
        assert_eq!(resync_skip(b"8=FIX.4.4 8=FIX"), 10);
    }
}
