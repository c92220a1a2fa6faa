//! A received message, owned, with field lookup, and the field specs tests write: `35=8|150=0|` (`tag=*` any
//! value, `!tag` absent). Two values one of which has a decimal point compare as numbers (FIX's float types: 100
//! and 100.00 are the same price).
//!
//! Parsing splits at SOH and does not validate: a test must see what the acceptor sent, right or wrong. (A DATA
//! field holding SOH splits too; no test here sends one.)

use std::fmt;
use std::ops::Range;

use fix::frame::SOH;
use rust_decimal::Decimal;

/// One message as received: its bytes and where each field's value is.
#[derive(Clone, PartialEq, Eq)]
pub struct Msg {
    raw: Vec<u8>,
    /// Tag and value range, in order; fields that are not `tag=value` with a numeric tag are left out.
    fields: Vec<(u32, Range<usize>)>,
}

impl Msg {
    /// Copies and indexes one frame.
    pub fn parse(frame: &[u8]) -> Msg {
        let mut fields = Vec::with_capacity(16);
        let mut at = 0;
        for field in frame.split(|&b| b == SOH) {
            let start = at;
            at += field.len() + 1;
            let Some(eq) = field.iter().position(|&b| b == b'=') else {
                continue;
            };
            if let Some(tag) =
                fix::types::parse_uint(&field[..eq]).and_then(|t| u32::try_from(t).ok())
            {
                fields.push((tag, start + eq + 1..start + field.len()));
            }
        }
        Msg {
            raw: frame.to_vec(),
            fields,
        }
    }

    /// The message's bytes.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The message with `|` for SOH.
    pub fn text(&self) -> String {
        readable(&self.raw)
    }

    /// Every field, in order.
    pub fn fields(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.fields.iter().map(|(t, r)| (*t, &self.raw[r.clone()]))
    }

    /// The first value of `tag`.
    pub fn get_bytes(&self, tag: u32) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, r)| &self.raw[r.clone()])
    }

    /// The first value of `tag`, when it is text (UTF-8).
    pub fn get(&self, tag: u32) -> Option<&str> {
        self.get_bytes(tag)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The field, or a panic naming the message.
    #[track_caller]
    pub fn field(&self, tag: u32) -> &str {
        self.get(tag)
            .unwrap_or_else(|| panic!("{tag} missing in {self}"))
    }

    #[track_caller]
    pub fn decimal(&self, tag: u32) -> Decimal {
        let v = self.field(tag);
        v.parse()
            .unwrap_or_else(|_| panic!("{tag}={v} is not a decimal in {self}"))
    }

    /// MsgSeqNum (34), if present and a number.
    pub fn seq_num(&self) -> Option<u64> {
        self.get_bytes(fix::tags::MSG_SEQ_NUM)
            .and_then(fix::types::parse_uint)
    }

    /// MsgSeqNum, or a panic naming the message.
    #[track_caller]
    pub fn seq(&self) -> u64 {
        self.seq_num()
            .unwrap_or_else(|| panic!("no MsgSeqNum in {self}"))
    }

    /// MsgType (35); empty when missing.
    pub fn msg_type(&self) -> &str {
        self.get(fix::tags::MSG_TYPE).unwrap_or("")
    }

    /// PossDupFlag=Y.
    pub fn is_poss_dup(&self) -> bool {
        self.get_bytes(fix::tags::POSS_DUP_FLAG) == Some(b"Y")
    }

    /// A Heartbeat that answers no TestRequest.
    pub fn is_plain_heartbeat(&self) -> bool {
        self.msg_type() == "0" && self.get_bytes(fix::tags::TEST_REQ_ID).is_none()
    }

    /// The first item of `spec` this message does not satisfy, described; `None` when it satisfies all.
    pub fn mismatch(&self, spec: &str) -> Option<String> {
        for item in spec.split('|').filter(|s| !s.is_empty()) {
            let problem = match parse_item(item) {
                Err(problem) => Some(problem),
                Ok(Item::Absent(tag)) => self
                    .get_bytes(tag)
                    .is_some()
                    .then(|| format!("{tag} present")),
                Ok(Item::Present(tag)) => self
                    .get_bytes(tag)
                    .is_none()
                    .then(|| format!("{tag} missing ({item} expected)")),
                Ok(Item::Equals(tag, want)) => match self.get_bytes(tag) {
                    None => Some(format!("{tag} missing ({item} expected)")),
                    Some(got) if same_value(got, want) => None,
                    Some(got) => Some(format!(
                        "{tag}={} where {item} was expected",
                        String::from_utf8_lossy(got)
                    )),
                },
            };
            if problem.is_some() {
                return problem;
            }
        }
        None
    }

    /// Whether the message satisfies every item of `spec`.
    pub fn is(&self, spec: &str) -> bool {
        self.mismatch(spec).is_none()
    }
}

enum Item<'s> {
    Equals(u32, &'s str),
    Present(u32),
    Absent(u32),
}

fn parse_item(item: &str) -> Result<Item<'_>, String> {
    let tag = |t: &str| {
        t.parse::<u32>()
            .map_err(|_| format!("bad tag in the spec item {item:?}"))
    };
    if let Some(t) = item.strip_prefix('!') {
        return Ok(Item::Absent(tag(t)?));
    }
    let (t, want) = item
        .split_once('=')
        .ok_or_else(|| format!("the spec item {item:?} is not tag=value, tag=* or !tag"))?;
    Ok(match want {
        "*" => Item::Present(tag(t)?),
        _ => Item::Equals(tag(t)?, want),
    })
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msg({self})")
    }
}

/// Equal as text, or as decimal numbers when one of them has a decimal point (100 and 100.00 are one price;
/// integers compare as text, so 007 is not 7).
pub fn same_value(actual: &[u8], expected: &str) -> bool {
    if actual == expected.as_bytes() {
        return true;
    }
    let Ok(actual) = std::str::from_utf8(actual) else {
        return false;
    };
    if !actual.contains('.') && !expected.contains('.') {
        return false;
    }
    let number = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().filter(|&b| b == b'.').count() <= 1;
        plain.then(|| Decimal::from_str_exact(s).ok()).flatten()
    };
    matches!((number(actual), number(expected)), (Some(a), Some(e)) if a == e)
}

/// Bytes as text with `|` for SOH.
pub fn readable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\x01', "|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Msg {
        Msg::parse(&fix::frame::from_text(text))
    }

    #[test]
    fn fields_are_found_by_tag_in_order() {
        let m = msg("35=8|49=V|56=C|34=7|52=20270101-00:00:00.000|44=100.50|58=a=b|");
        assert_eq!(m.msg_type(), "8");
        assert_eq!(m.seq(), 7);
        assert_eq!(m.get(58), Some("a=b"));
        assert_eq!(m.get(8), Some("FIX.4.4"));
        assert_eq!(m.get(11), None);
        assert_eq!(m.decimal(44), Decimal::new(10050, 2));
        assert!(m.text().starts_with("8=FIX.4.4|9="));
        assert_eq!(m.fields().count(), 10);
    }

    #[test]
    fn specs_ask_for_values_presence_and_absence() {
        let m = msg("35=8|34=2|44=100.50|38=10|");
        assert!(m.is("35=8|44=100.5|38=*|!11"));
        assert_eq!(
            m.mismatch("35=9").as_deref(),
            Some("35=8 where 35=9 was expected")
        );
        assert_eq!(m.mismatch("!44").as_deref(), Some("44 present"));
        assert_eq!(
            m.mismatch("11=*").as_deref(),
            Some("11 missing (11=* expected)")
        );
        assert!(m.mismatch("x").is_some());
    }

    #[test]
    fn numbers_with_a_decimal_point_compare_as_numbers() {
        assert!(same_value(b"100.00", "100"));
        assert!(same_value(b"0", "0.00"));
        assert!(same_value(b"5.010", "5.01"));
        assert!(!same_value(b"5.02", "5.01"));
        assert!(!same_value(b"007", "7"), "integers compare as text");
        assert!(!same_value(b"1e2", "100.0"));
        assert!(same_value(b"ABC", "ABC"));
    }
}
