//! Encoding: messages written into a `bytes::BytesMut`, BodyLength and CheckSum computed.
//!
//! [`Encoder::begin`] writes the standard header; body fields follow through the `put_*` methods; [`finish`]
//! writes BodyLength into the space reserved for it and appends CheckSum. No allocation beyond the buffer's own
//! growth.
//!
//! [`finish`]: MessageWriter::finish

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::frame::{BEGIN_STRING_FIELD, SOH, checksum};
use super::tags;
use super::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};

/// Digits reserved for BodyLength; the largest encodable body is below 10^6 bytes.
const BODY_LENGTH_DIGITS: usize = 6;

/// The standard header of an outgoing message.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub msg_type: &'a [u8],
    pub sender_comp_id: &'a str,
    pub target_comp_id: &'a str,
    pub msg_seq_num: u64,
    pub sending_time: DateTime<Utc>,
    /// PossDupFlag (43)=Y.
    pub poss_dup: bool,
    /// PossResend (97)=Y.
    pub poss_resend: bool,
    /// OrigSendingTime (122), set on a resent message.
    pub orig_sending_time: Option<DateTime<Utc>>,
    /// OnBehalfOfCompID (115).
    pub on_behalf_of_comp_id: Option<&'a str>,
    /// DeliverToCompID (128).
    pub deliver_to_comp_id: Option<&'a str>,
    /// OnBehalfOfSubID (116), OnBehalfOfLocationID (144), DeliverToSubID (129), DeliverToLocationID (145): the
    /// rest of third-party routing, which the session layer reflects.
    pub on_behalf_of_sub_id: Option<&'a str>,
    pub on_behalf_of_location_id: Option<&'a str>,
    pub deliver_to_sub_id: Option<&'a str>,
    pub deliver_to_location_id: Option<&'a str>,
}

impl<'a> Header<'a> {
    /// A header with only the required fields.
    pub fn new(
        msg_type: &'a [u8],
        sender: &'a str,
        target: &'a str,
        seq: u64,
        sending_time: DateTime<Utc>,
    ) -> Self {
        Header {
            msg_type,
            sender_comp_id: sender,
            target_comp_id: target,
            msg_seq_num: seq,
            sending_time,
            poss_dup: false,
            poss_resend: false,
            orig_sending_time: None,
            on_behalf_of_comp_id: None,
            deliver_to_comp_id: None,
            on_behalf_of_sub_id: None,
            on_behalf_of_location_id: None,
            deliver_to_sub_id: None,
            deliver_to_location_id: None,
        }
    }
}

/// Encoding settings for a session.
#[derive(Debug, Clone, Copy, Default)]
pub struct Encoder {
    /// Precision of SendingTime and OrigSendingTime (milliseconds by default).
    pub header_time_precision: TimePrecision,
}

/// The message is too large to encode (BodyLength would need more than six digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message body of {body_len} bytes is too large to encode")]
pub struct TooLarge {
    pub body_len: usize,
}

impl Encoder {
    /// Starts a message at the end of `buf`: BeginString, a placeholder BodyLength, then the header.
    pub fn begin<'b>(&self, buf: &'b mut BytesMut, header: &Header) -> MessageWriter<'b> {
        let start = buf.len();
        buf.put_slice(BEGIN_STRING_FIELD);
        buf.put_slice(b"9=");
        let length_at = buf.len();
        buf.put_slice(&[b'0'; BODY_LENGTH_DIGITS]);
        buf.put_u8(SOH);
        let mut w = MessageWriter {
            fields: FieldWriter { buf },
            start,
            length_at,
            precision: self.header_time_precision,
        };
        w.put_bytes(tags::MSG_TYPE, header.msg_type);
        w.put_str(tags::SENDER_COMP_ID, header.sender_comp_id);
        w.put_str(tags::TARGET_COMP_ID, header.target_comp_id);
        if let Some(v) = header.on_behalf_of_comp_id {
            w.put_str(tags::ON_BEHALF_OF_COMP_ID, v);
        }
        if let Some(v) = header.deliver_to_comp_id {
            w.put_str(tags::DELIVER_TO_COMP_ID, v);
        }
        w.put_u64(tags::MSG_SEQ_NUM, header.msg_seq_num);
        let routing = [
            (tags::ON_BEHALF_OF_SUB_ID, header.on_behalf_of_sub_id),
            (
                tags::ON_BEHALF_OF_LOCATION_ID,
                header.on_behalf_of_location_id,
            ),
            (tags::DELIVER_TO_SUB_ID, header.deliver_to_sub_id),
            (tags::DELIVER_TO_LOCATION_ID, header.deliver_to_location_id),
        ];
        for (tag, value) in routing {
            if let Some(v) = value {
                w.put_str(tag, v);
            }
        }
        if header.poss_dup {
            w.put_bool(tags::POSS_DUP_FLAG, true);
        }
        if header.poss_resend {
            w.put_bool(tags::POSS_RESEND, true);
        }
        let precision = w.precision;
        w.put_timestamp(tags::SENDING_TIME, &header.sending_time, precision);
        if let Some(t) = header.orig_sending_time {
            w.put_timestamp(tags::ORIG_SENDING_TIME, &t, precision);
        }
        w
    }
}

/// Writes the body of one message (the `put_*` methods of [`FieldWriter`]); [`MessageWriter::finish`]
/// completes it.
#[derive(Debug)]
pub struct MessageWriter<'b> {
    fields: FieldWriter<'b>,
    start: usize,
    length_at: usize,
    precision: TimePrecision,
}

impl<'b> std::ops::Deref for MessageWriter<'b> {
    type Target = FieldWriter<'b>;

    fn deref(&self) -> &FieldWriter<'b> {
        &self.fields
    }
}

impl<'b> std::ops::DerefMut for MessageWriter<'b> {
    fn deref_mut(&mut self) -> &mut FieldWriter<'b> {
        &mut self.fields
    }
}

/// Appends `tag=value<SOH>` fields to a buffer: the body of a message, or fields an application layer
/// encodes ahead of the header (an ExecutionReport's body).
#[derive(Debug)]
pub struct FieldWriter<'b> {
    buf: &'b mut BytesMut,
}

impl<'b> FieldWriter<'b> {
    /// Writes fields at the end of `buf`.
    pub fn new(buf: &'b mut BytesMut) -> FieldWriter<'b> {
        FieldWriter { buf }
    }

    /// The bytes written so far (the whole buffer).
    pub fn bytes(&self) -> &[u8] {
        self.buf
    }

    #[inline]
    fn put_tag(&mut self, tag: u32) {
        match TAG_PREFIXES.get(tag as usize) {
            // A fixed eight-byte store (no copy call), then the unused tail given back.
            Some(&(word, len)) => {
                self.buf.put_slice(&word.to_le_bytes());
                self.buf.truncate(self.buf.len() - (8 - usize::from(len)));
            }
            None => {
                put_uint(self.buf, u64::from(tag));
                self.buf.put_u8(b'=');
            }
        }
    }

    /// A raw value. The caller guarantees it holds no SOH (use [`MessageWriter::put_data`] for DATA fields).
    #[inline]
    pub fn put_bytes(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        debug_assert!(!value.contains(&SOH), "tag {tag}: SOH in a non-data value");
        self.put_tag(tag);
        self.buf.put_slice(value);
        self.buf.put_u8(SOH);
        self
    }

    /// Pre-encoded fields (`tag=value<SOH>...`, ending with SOH), copied as they are: a stored body replayed, or
    /// a body the application layer encoded. The caller guarantees the bytes are whole fields.
    pub fn put_raw_fields(&mut self, fields: &[u8]) -> &mut Self {
        debug_assert!(
            fields.is_empty() || fields.last() == Some(&SOH),
            "raw fields end with SOH"
        );
        self.buf.put_slice(fields);
        self
    }

    #[inline]
    pub fn put_str(&mut self, tag: u32, value: &str) -> &mut Self {
        self.put_bytes(tag, value.as_bytes())
    }

    pub fn put_u64(&mut self, tag: u32, value: u64) -> &mut Self {
        self.put_tag(tag);
        put_uint(self.buf, value);
        self.buf.put_u8(SOH);
        self
    }

    pub fn put_i64(&mut self, tag: u32, value: i64) -> &mut Self {
        self.put_tag(tag);
        if value < 0 {
            self.buf.put_u8(b'-');
        }
        put_uint(self.buf, value.unsigned_abs());
        self.buf.put_u8(SOH);
        self
    }

    pub fn put_char(&mut self, tag: u32, value: u8) -> &mut Self {
        self.put_bytes(tag, &[value])
    }

    pub fn put_bool(&mut self, tag: u32, value: bool) -> &mut Self {
        self.put_bytes(tag, if value { b"Y" } else { b"N" })
    }

    pub fn put_enum<E: tags::FixEnum>(&mut self, tag: u32, value: E) -> &mut Self {
        self.put_bytes(tag, value.to_fix())
    }

    /// PRICE, QTY, AMT: the decimal as it is scaled (no exponent, no `+`).
    pub fn put_decimal(&mut self, tag: u32, value: Decimal) -> &mut Self {
        self.put_tag(tag);
        put_decimal(self.buf, value);
        self.buf.put_u8(SOH);
        self
    }

    pub fn put_timestamp(
        &mut self,
        tag: u32,
        value: &DateTime<Utc>,
        precision: TimePrecision,
    ) -> &mut Self {
        let mut text = [0u8; UTC_TIMESTAMP_BYTES_MAX];
        let n = format_utc_timestamp(value, precision, &mut text);
        self.put_bytes(tag, &text[..n])
    }

    /// A Length+Data pair: the length field, then the data, which may contain SOH.
    pub fn put_data(&mut self, length_tag: u32, data_tag: u32, data: &[u8]) -> &mut Self {
        self.put_u64(length_tag, data.len() as u64);
        self.put_tag(data_tag);
        self.buf.put_slice(data);
        self.buf.put_u8(SOH);
        self
    }
}

impl MessageWriter<'_> {
    /// Writes BodyLength and CheckSum. Returns the message's byte range start (the message is `buf[start..]`).
    pub fn finish(self) -> Result<usize, TooLarge> {
        let FieldWriter { buf } = self.fields;
        let body_start = self.length_at + BODY_LENGTH_DIGITS + 1;
        let body_len = buf.len() - body_start;
        let mut digits = [0u8; 20];
        let n = uint_digits(body_len as u64, &mut digits);
        if n > BODY_LENGTH_DIGITS {
            buf.truncate(self.start);
            return Err(TooLarge { body_len });
        }
        // Shift the body left over the unused placeholder digits, then write the real digits before the SOH.
        let unused = BODY_LENGTH_DIGITS - n;
        let length_at = self.length_at;
        buf.copy_within(length_at + BODY_LENGTH_DIGITS.., length_at + n);
        buf.truncate(buf.len() - unused);
        buf[length_at..length_at + n].copy_from_slice(&digits[20 - n..]);
        let sum = checksum(&buf[self.start..]);
        buf.put_slice(b"10=");
        buf.put_slice(&[b'0' + sum / 100, b'0' + sum / 10 % 10, b'0' + sum % 10, SOH]);
        Ok(self.start)
    }
}

/// Tags below this have their `tag=` bytes precomputed.
const TAG_PREFIXES_MAX: usize = 1024;

/// For each tag below [`TAG_PREFIXES_MAX`]: `tag=` as little-endian bytes of a word, and its length.
static TAG_PREFIXES: [(u64, u8); TAG_PREFIXES_MAX] = tag_prefixes();

const fn tag_prefixes() -> [(u64, u8); TAG_PREFIXES_MAX] {
    let mut table = [(0u64, 0u8); TAG_PREFIXES_MAX];
    let mut tag = 1;
    while tag < TAG_PREFIXES_MAX {
        let mut digits = [0u8; 4];
        let mut n = tag;
        let mut count = 0;
        while n > 0 {
            digits[count] = b'0' + (n % 10) as u8;
            n /= 10;
            count += 1;
        }
        let mut word = 0u64;
        let mut i = 0;
        while i < count {
            word |= (digits[count - 1 - i] as u64) << (8 * i);
            i += 1;
        }
        word |= (b'=' as u64) << (8 * count);
        table[tag] = (word, count as u8 + 1);
        tag += 1;
    }
    table
}

/// Writes the digits of `n` at the end of `out`, returning how many.
fn uint_digits(mut n: u64, out: &mut [u8; 20]) -> usize {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return out.len() - i;
        }
    }
}

#[inline]
fn put_uint(buf: &mut BytesMut, n: u64) {
    let mut digits = [0u8; 20];
    let len = uint_digits(n, &mut digits);
    buf.put_slice(&digits[20 - len..]);
}

/// Writes a decimal as FIX wants it: digits, a point where the scale puts it, no exponent.
fn put_decimal(buf: &mut BytesMut, value: Decimal) {
    let mantissa = value.mantissa();
    if mantissa < 0 {
        buf.put_u8(b'-');
    }
    match u64::try_from(mantissa.unsigned_abs()) {
        // Prices and quantities fit 64 bits: digit them with u64 arithmetic (u128 division is a library call).
        Ok(small) => {
            let mut digits = [0u8; 20];
            let n = uint_digits(small, &mut digits);
            put_scaled(buf, &digits[20 - n..], value.scale() as usize);
        }
        // Beyond 2^64 in the mantissa: rare enough for `Display`, which prints the same form.
        Err(_) => {
            use std::fmt::Write;
            write!(buf, "{}", value.abs()).expect("writing to a BytesMut cannot fail");
        }
    }
}

/// Writes `digits` with a decimal point `scale` digits from the right.
fn put_scaled(buf: &mut BytesMut, digits: &[u8], scale: usize) {
    if scale == 0 {
        buf.put_slice(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        buf.put_slice(int);
        buf.put_u8(b'.');
        buf.put_slice(frac);
    } else {
        buf.put_slice(b"0.");
        for _ in digits.len()..scale {
            buf.put_u8(b'0');
        }
        buf.put_slice(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameConfig, Framed, check};
    use chrono::TimeZone;

    fn time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
            + chrono::Duration::microseconds(123_456)
    }

    fn text(buf: &[u8]) -> String {
        String::from_utf8_lossy(buf).replace('\x01', "|")
    }

    #[test]
    fn header_and_trailer() {
        let mut buf = BytesMut::new();
        let mut w =
            Encoder::default().begin(&mut buf, &Header::new(b"0", "VENUE", "CLIENT", 7, time()));
        w.put_str(tags::TEST_REQ_ID, "T1");
        let start = w.finish().unwrap();
        assert_eq!(start, 0);
        let body = "35=0|49=VENUE|56=CLIENT|34=7|52=20261122-10:00:00.123|112=T1|";
        let prefix = format!("8=FIX.4.4|9={}|", body.len());
        let sum = checksum(format!("{prefix}{body}").replace('|', "\x01").as_bytes());
        assert_eq!(text(&buf), format!("{prefix}{body}10={sum:03}|"));
        assert_eq!(
            check(&buf, &FrameConfig::default()),
            Framed::Complete { len: buf.len() }
        );
    }

    #[test]
    fn optional_header_fields_and_micros() {
        let mut buf = BytesMut::from(&b"previous"[..]);
        let mut header = Header::new(b"8", "V", "C", 3, time());
        header.poss_dup = true;
        header.poss_resend = true;
        header.orig_sending_time = Some(time() - chrono::Duration::seconds(1));
        header.on_behalf_of_comp_id = Some("OBO");
        header.deliver_to_comp_id = Some("DTC");
        header.on_behalf_of_sub_id = Some("OS");
        header.deliver_to_location_id = Some("DL");
        let encoder = Encoder {
            header_time_precision: TimePrecision::Micros,
        };
        let start = encoder.begin(&mut buf, &header).finish().unwrap();
        assert_eq!(start, 8);
        let msg = text(&buf[start..]);
        assert!(msg.contains("|35=8|49=V|56=C|115=OBO|128=DTC|34=3|116=OS|145=DL|43=Y|97=Y|52=20261122-10:00:00.123456|122=20261122-09:59:59.123456|10="), "{msg}");
        assert_eq!(
            check(&buf[start..], &FrameConfig::default()),
            Framed::Complete {
                len: buf.len() - start
            }
        );
    }

    #[test]
    fn raw_fields_are_copied() {
        let mut buf = BytesMut::new();
        let mut w = Encoder::default().begin(&mut buf, &Header::new(b"j", "V", "C", 2, time()));
        w.put_raw_fields(b"45=7\x01372=D\x01").put_u64(380, 4);
        w.finish().unwrap();
        assert!(
            text(&buf).contains("|52=20261122-10:00:00.123|45=7|372=D|380=4|10="),
            "{}",
            text(&buf)
        );
        assert_eq!(
            check(&buf, &FrameConfig::default()),
            Framed::Complete { len: buf.len() }
        );
    }

    #[test]
    fn decimals_and_ints() {
        let mut buf = BytesMut::new();
        let mut w = Encoder::default().begin(&mut buf, &Header::new(b"8", "V", "C", 1, time()));
        w.put_decimal(44, Decimal::new(23835, 2))
            .put_decimal(38, Decimal::new(10, 0))
            .put_decimal(6, Decimal::new(-5, 3))
            .put_decimal(31, Decimal::ZERO)
            .put_decimal(151, Decimal::new(5, 4))
            .put_decimal(
                132,
                Decimal::from_i128_with_scale(-123_456_789_012_345_678_901_234_567, 5),
            )
            .put_i64(99, -42)
            .put_u64(14, 0)
            .put_data(95, 96, b"a\x01b");
        w.finish().unwrap();
        assert!(
            text(&buf).contains("|44=238.35|38=10|6=-0.005|31=0|151=0.0005|132=-1234567890123456789012.34567|99=-42|14=0|95=3|96=a|b|10="),
            "{}",
            text(&buf)
        );
    }

    proptest::proptest! {
        #[test]
        fn decimals_round_trip(mantissa in proptest::num::i128::ANY, scale in 0u32..=28) {
            let mantissa = mantissa % 79_228_162_514_264_337_593_543_950_335i128;
            let value = Decimal::from_i128_with_scale(mantissa, scale);
            let mut buf = BytesMut::new();
            put_decimal(&mut buf, value);
            let parsed = crate::types::parse_decimal(&buf);
            proptest::prop_assert_eq!(parsed, Some(value), "{}", String::from_utf8_lossy(&buf));
        }
    }

    #[test]
    fn tag_prefixes_match_their_tags() {
        assert_eq!(TAG_PREFIXES[0].1, 0, "tag 0 is never written");
        for (tag, &(word, len)) in TAG_PREFIXES.iter().enumerate().skip(1) {
            assert_eq!(
                &word.to_le_bytes()[..usize::from(len)],
                format!("{tag}=").as_bytes()
            );
        }
        // Tags beyond the table take the general path.
        let mut buf = BytesMut::new();
        let mut w = Encoder::default().begin(&mut buf, &Header::new(b"A", "V", "C", 1, time()));
        w.put_bool(5001, true).put_u64(1023, 7).put_u64(1024, 8);
        w.finish().unwrap();
        assert!(
            text(&buf).contains("|5001=Y|1023=7|1024=8|10="),
            "{}",
            text(&buf)
        );
    }

    #[test]
    fn body_length_digit_boundaries() {
        // Bodies whose length needs 1..=6 digits all shift correctly; 7 digits is refused and leaves nothing.
        for filler in [0usize, 5, 90, 900, 9_000, 99_000, 900_000] {
            let mut buf = BytesMut::new();
            let mut w = Encoder::default().begin(&mut buf, &Header::new(b"0", "V", "C", 1, time()));
            w.put_bytes(58, &vec![b'x'; filler]);
            let cfg = FrameConfig {
                message_bytes_max: usize::MAX,
            };
            match w.finish() {
                Ok(_) => assert_eq!(
                    check(&buf, &cfg),
                    Framed::Complete { len: buf.len() },
                    "filler {filler}"
                ),
                Err(TooLarge { body_len }) => {
                    assert!(body_len >= 1_000_000);
                    assert!(buf.is_empty());
                }
            }
        }
    }
}
