//! Writing: what the client puts on every message it sends (its CompIDs, its next MsgSeqNum, SendingTime), and
//! the two ways a message is made, both through `fix`:
//! - typed, for benchmarks: [`Stamp::begin`] starts a message with `fix::Encoder` and the caller adds body fields
//!   with the encoder's `put_*`, allocation-free once the buffer has grown;
//! - from text, for tests and scenarios: [`Stamp::put_text`] takes `35=D|11=A|...|` (`|` for SOH) and fills in
//!   the header; 49, 56, 34 or 52 written in the text are sent as written instead, so a test can send a wrong
//!   CompID, number or time.
//!
//! Every message is appended to a caller's buffer, so many can go out in one write.

use bytes::BytesMut;
use chrono::{DateTime, Utc};

use fix::encode::{Encoder, FieldWriter, Header, MessageWriter};
use fix::frame;
use fix::tags;
use fix::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};

/// The header fields [`Stamp::put_text`] fills in unless the text gives them.
const STAMPED_TAGS: [&str; 5] = ["35", "49", "56", "34", "52"];

/// One side's identity and outgoing numbers.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// SenderCompID (49): who the client is.
    pub sender: String,
    /// TargetCompID (56): the acceptor.
    pub target: String,
    /// The MsgSeqNum the next message takes.
    pub next_out: u64,
    /// SendingTime's precision (milliseconds, as FIX 4.4 defines, unless set).
    pub encoder: Encoder,
}

impl Stamp {
    pub fn new(sender: &str, target: &str) -> Stamp {
        Stamp {
            sender: sender.to_string(),
            target: target.to_string(),
            next_out: 1,
            encoder: Encoder::default(),
        }
    }

    /// The same with SendingTime to `precision`.
    pub fn with_precision(mut self, precision: TimePrecision) -> Stamp {
        self.encoder.header_time_precision = precision;
        self
    }

    /// Takes the next MsgSeqNum.
    pub fn take_seq(&mut self) -> u64 {
        self.next_out += 1;
        self.next_out - 1
    }

    /// A header from this side numbered `seq` (for a message numbered otherwise than the next, such as a gap fill).
    pub fn header<'a>(&'a self, msg_type: &'a [u8], seq: u64, now: DateTime<Utc>) -> Header<'a> {
        Header::new(msg_type, &self.sender, &self.target, seq, now)
    }

    /// Starts the next message at the end of `buf`: it takes the next MsgSeqNum. The caller adds the body and
    /// calls `finish`.
    pub fn begin<'b>(
        &mut self,
        buf: &'b mut BytesMut,
        msg_type: &[u8],
        now: DateTime<Utc>,
    ) -> MessageWriter<'b> {
        let seq = self.take_seq();
        self.encoder.begin(buf, &self.header(msg_type, seq, now))
    }

    /// A SequenceReset-GapFill answering a ResendRequest from `begin`: numbered `begin`, PossDupFlag=Y, and it
    /// says our next MsgSeqNum is the one we have (nothing of ours needs resending). It takes no number.
    pub fn put_gap_fill(&self, buf: &mut BytesMut, begin: u64, now: DateTime<Utc>) {
        let mut header = self.header(b"4", begin, now);
        header.poss_dup = true;
        header.orig_sending_time = Some(now);
        let mut m = self.encoder.begin(buf, &header);
        m.put_bool(tags::GAP_FILL_FLAG, true)
            .put_u64(tags::NEW_SEQ_NO, self.next_out);
        finish(m);
    }

    /// A Heartbeat, answering the TestRequest `test_req_id` when given.
    pub fn put_heartbeat(
        &mut self,
        buf: &mut BytesMut,
        test_req_id: Option<&[u8]>,
        now: DateTime<Utc>,
    ) {
        let mut m = self.begin(buf, b"0", now);
        if let Some(id) = test_req_id {
            m.put_bytes(tags::TEST_REQ_ID, id);
        }
        finish(m);
    }

    /// `35=X|...|` as a complete message at the end of `buf`. 49, 56, 34 and 52 are filled in unless the text
    /// gives them (anywhere in it: they are moved to the header). The message takes the next MsgSeqNum unless the
    /// text gives 34; a numeric 34 moves the next MsgSeqNum past it.
    pub fn put_text(&mut self, buf: &mut BytesMut, text: &str, now: DateTime<Utc>) {
        let mut body = BytesMut::with_capacity(text.len() + 64);
        self.put_text_body(&mut body, text, now);
        buf.extend_from_slice(&frame::wrap_body(&body));
    }

    /// The body of [`Stamp::put_text`]'s message (from 35 to the last field, without BeginString, BodyLength
    /// and CheckSum), at the end of `body`: for a message framed otherwise (see [`wrap_body_as`]).
    pub fn put_text_body(&mut self, body: &mut BytesMut, text: &str, now: DateTime<Utc>) {
        let items = || text.split('|').filter(|f| !f.is_empty());
        let given = |tag: &str| {
            items().find_map(|f| f.split_once('=').filter(|(t, _)| *t == tag).map(|(_, v)| v))
        };
        let mut w = FieldWriter::new(body);
        w.put_str(tags::MSG_TYPE, given("35").unwrap_or_default());
        w.put_str(tags::SENDER_COMP_ID, given("49").unwrap_or(&self.sender));
        w.put_str(tags::TARGET_COMP_ID, given("56").unwrap_or(&self.target));
        match given("34") {
            Some(seq) => {
                if let Ok(n) = seq.parse::<u64>() {
                    self.next_out = self.next_out.max(n.saturating_add(1));
                }
                w.put_str(tags::MSG_SEQ_NUM, seq);
            }
            None => {
                let seq = self.take_seq();
                w.put_u64(tags::MSG_SEQ_NUM, seq);
            }
        }
        match given("52") {
            Some(time) => w.put_str(tags::SENDING_TIME, time),
            None => {
                let mut stamp = [0u8; UTC_TIMESTAMP_BYTES_MAX];
                let n = format_utc_timestamp(&now, self.encoder.header_time_precision, &mut stamp);
                w.put_bytes(tags::SENDING_TIME, &stamp[..n])
            }
        };
        for item in items() {
            let tag = item.split_once('=').map_or(item, |(t, _)| t);
            if !STAMPED_TAGS.contains(&tag) {
                body.extend_from_slice(item.as_bytes());
                body.extend_from_slice(&[frame::SOH]);
            }
        }
    }
}

/// A complete frame around `body` with another BeginString than FIX.4.4 (for a test of a wrong one): BodyLength
/// and CheckSum computed as `fix::frame::wrap_body` does.
pub fn wrap_body_as(begin_string: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("8={begin_string}\x019={}\x01", body.len()).into_bytes();
    out.extend_from_slice(body);
    let sum = frame::checksum(&out);
    out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    out
}

/// Completes a message the client built; only a body of a megabyte or more could fail, and none is built here.
fn finish(m: MessageWriter<'_>) {
    m.finish()
        .expect("a session message is far below the largest encodable");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buf: &[u8]) -> String {
        crate::msg::readable(buf)
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn text_gets_the_header_filled_in_and_takes_a_number() {
        let mut s = Stamp::new("C", "V");
        let mut buf = BytesMut::new();
        s.put_text(&mut buf, "35=D|11=A|", at());
        assert_eq!(
            buf.as_ref(),
            frame::from_text("35=D|49=C|56=V|34=1|52=20270115-08:00:00.000|11=A|").as_slice()
        );
        assert_eq!(s.next_out, 2);
    }

    #[test]
    fn header_fields_in_the_text_are_sent_as_written() {
        let mut s = Stamp::new("C", "V");
        let mut buf = BytesMut::new();
        s.put_text(&mut buf, "35=0|49=X|34=7|52=bad|112=T|56=Y|", at());
        assert_eq!(
            text(&buf)[..],
            text(&frame::from_text("35=0|49=X|56=Y|34=7|52=bad|112=T|"))[..]
        );
        assert_eq!(s.next_out, 8, "a numeric 34 moves the numbers past it");
        buf.clear();
        s.put_text(&mut buf, "35=0|34=x|", at());
        assert!(text(&buf).contains("|34=x|"));
        assert_eq!(s.next_out, 8);
    }

    #[test]
    fn typed_messages_and_gap_fills_are_stamped_by_the_encoder() {
        let mut s = Stamp::new("C", "V").with_precision(TimePrecision::Micros);
        let mut buf = BytesMut::new();
        s.put_heartbeat(&mut buf, Some(b"T1"), at());
        s.put_gap_fill(&mut buf, 1, at());
        let t = text(&buf);
        assert!(
            t.contains("|35=0|49=C|56=V|34=1|52=20270115-08:00:00.000000|112=T1|"),
            "{t}"
        );
        assert!(
            t.contains("|35=4|49=C|56=V|34=1|43=Y|52=20270115-08:00:00.000000|122="),
            "{t}"
        );
        assert!(t.contains("|123=Y|36=2|"), "{t}");
    }

    #[test]
    fn another_begin_string_frames_like_fix_4_4() {
        let body = b"35=0\x01";
        let ours = wrap_body_as("FIX.4.4", body);
        assert_eq!(ours, frame::wrap_body(body));
        assert!(wrap_body_as("FIX.4.2", body).starts_with(b"8=FIX.4.2\x019=5\x01"));
    }
}
