//! Decoding: a zero-copy view of one framed message.
//!
//! [`Decoder::decode`] tokenizes a frame (as returned by [`super::frame::check`]) into `(tag, value range)` pairs
//! in wire order, with nom parsers, into a field index buffer the decoder owns and reuses: no heap allocation per
//! message once the buffer has grown to the largest message seen. Length+Data pairs (RawDataLength 95 / RawData
//! 96 and the others the dictionary pairs) are read by byte count, so data may contain SOH.
//!
//! The view ([`Message`]) offers typed accessors and resolves repeating groups through the dictionary.

use chrono::{DateTime, NaiveDate, Utc};
use nom::IResult;
use nom::Parser;
use nom::character::complete::char;
use rust_decimal::Decimal;

use super::dictionary::{Dictionary, GroupDef, Section, StructDef};
use super::frame::SOH;
use super::types;

/// One field of a decoded message: its tag and where its value lies in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    pub tag: u32,
    start: u32,
    end: u32,
}

/// The frame cannot be tokenized into fields. The session layer treats this like a garbled frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed field at byte {offset}: expected <tag>=<value><SOH>")]
    MalformedField { offset: usize },
    #[error("the first three fields are not 8, 9 and 35")]
    BadFirstFields,
    #[error("CheckSum (10) is not the last field")]
    CheckSumNotLast,
    #[error("data field {tag} does not have the {length} bytes its length field announces")]
    DataLength { tag: u32, length: usize },
    #[error("frame is larger than 4 GiB")]
    TooLarge,
}

/// Reusable decoding state: the field index buffer.
#[derive(Debug, Default)]
pub struct Decoder {
    fields: Vec<FieldRef>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Tokenizes one complete frame. The view borrows both the frame and this decoder's field buffer.
    pub fn decode<'a>(
        &'a mut self,
        dict: &'a Dictionary,
        frame: &'a [u8],
    ) -> Result<Message<'a>, DecodeError> {
        if u32::try_from(frame.len()).is_err() {
            return Err(DecodeError::TooLarge);
        }
        self.fields.clear();
        let mut at = 0;
        let mut pending_data: Option<(u32, usize)> = None;
        let mut body_start = 0;
        while at < frame.len() {
            let (tag, value_start) = match tag_equals(&frame[at..]) {
                Ok((rest, tag)) => (tag, frame.len() - rest.len()),
                Err(_) => return Err(DecodeError::MalformedField { offset: at }),
            };
            let value_end = match pending_data {
                Some((data_tag, length)) if data_tag == tag => {
                    let end = value_start + length;
                    if frame.get(end) != Some(&SOH) {
                        return Err(DecodeError::DataLength { tag, length });
                    }
                    end
                }
                _ => find_soh(frame, value_start)
                    .ok_or(DecodeError::MalformedField { offset: at })?,
            };
            let index = self.fields.len();
            if body_start == index && (index < 3 || dict.section(tag) == Section::Header) {
                body_start = index + 1;
            }
            let value = &frame[value_start..value_end];
            pending_data = dict
                .data_tag_for_length(tag)
                .and_then(|data_tag| Some((data_tag, types::parse_uint(value)?.try_into().ok()?)));
            self.fields.push(FieldRef {
                tag,
                start: value_start as u32,
                end: value_end as u32,
            });
            at = value_end + 1;
            if tag == 10 && at != frame.len() {
                return Err(DecodeError::CheckSumNotLast);
            }
        }
        let tags = |i: usize| self.fields.get(i).map(|f| f.tag);
        if (tags(0), tags(1), tags(2)) != (Some(8), Some(9), Some(35)) {
            return Err(DecodeError::BadFirstFields);
        }
        if self.fields.last().map(|f| f.tag) != Some(10) {
            return Err(DecodeError::CheckSumNotLast);
        }
        let trailer_len = self
            .fields
            .iter()
            .rev()
            .take_while(|f| dict.section(f.tag) == Section::Trailer)
            .count();
        let trailer_start = (self.fields.len() - trailer_len).max(body_start);
        Ok(Message {
            frame,
            fields: &self.fields,
            body_start,
            trailer_start,
        })
    }
}

/// `<tag>=`: the tag is an integer of at most [`TAG_DIGITS_MAX`] digits (see [`tag_number`] for 0 and negative
/// ones).
#[inline(always)]
fn tag_equals(input: &[u8]) -> IResult<&[u8], u32> {
    if let Some(parsed) = input
        .get(..8)
        .and_then(|eight| swar_tag(eight.try_into().expect("eight bytes")))
    {
        let (tag_value, eq) = parsed;
        return Ok((&input[eq + 1..], tag_value));
    }
    let (input, tag_value) = tag_number(input)?;
    let (input, _) = char('=').parse(input)?;
    Ok((input, tag_value))
}

/// Parses `<1 to 7 digits>=` from the first eight bytes without a loop (SWAR), so that tag lengths do not cost
/// branch mispredictions. Returns the tag and the position of `=`, or `None` to let the general parser decide.
#[inline(always)]
fn swar_tag(eight: [u8; 8]) -> Option<(u32, usize)> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let word = u64::from_le_bytes(eight);
    let eq = (bytes_equal_to(word, b'=').trailing_zeros() / 8) as usize;
    if !(1..=7).contains(&eq) {
        return None;
    }
    // The eq digits moved to the top bytes, '0' bytes below them: an eight-digit number with leading zeros.
    let shift = 8 * (8 - eq) as u32;
    let digits = (word << shift) | (ZEROS >> (64 - shift));
    let all_digits = digits & 0xf0f0_f0f0_f0f0_f0f0 == ZEROS
        && digits.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0 == ZEROS;
    if !all_digits {
        return None;
    }
    // Combine neighbouring digits: pairs, then quads, then the eight (the first byte is the most significant).
    let mut v = digits - ZEROS;
    v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_ffff_0000_ffff;
    v = (v.wrapping_mul(10_000) + (v >> 32)) & 0xffff_ffff;
    // 0 (all zeros) is INVALID_TAG, as in the loop.
    Some((v as u32, eq))
}

/// A tag of 0 or a negative number (`-` then digits) is read as [`INVALID_TAG`]: the message is well framed, so
/// the validator refuses it with 373=0 (Invalid tag number), as QuickFIX does, instead of it being dropped as
/// garbled.
#[inline(always)]
fn tag_number(input: &[u8]) -> IResult<&[u8], u32> {
    let sign = usize::from(input.first() == Some(&b'-'));
    let mut value: u32 = 0;
    let mut digits = 0;
    while let Some(&b) = input.get(sign + digits) {
        if !b.is_ascii_digit() || digits == TAG_DIGITS_MAX {
            break;
        }
        value = value * 10 + u32::from(b - b'0');
        digits += 1;
    }
    if digits == 0 || input.get(sign + digits).is_some_and(u8::is_ascii_digit) {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        )));
    }
    let tag = if sign == 1 { INVALID_TAG } else { value };
    Ok((&input[sign + digits..], tag))
}

/// What a tag that is not a positive number (`0=`, `-1=`) is read as; no dictionary defines it.
pub const INVALID_TAG: u32 = 0;

/// Tags have at most this many digits (FIX tags are below 10^9).
const TAG_DIGITS_MAX: usize = 9;

/// The high bit of every byte of `word` that equals `byte` (SWAR). Exact: no carry crosses bytes because
/// `(b & 0x7f) + 0x7f <= 0xfe`.
#[inline(always)]
fn bytes_equal_to(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zeroed = word ^ (0x0101_0101_0101_0101 * u64::from(byte));
    !(((zeroed & LOW7) + LOW7) | zeroed) & HIGH
}

/// The position of the first SOH at or after `from`. Values are short, so this tests eight bytes at a time in a
/// register (SWAR) rather than calling out to a SIMD search whose set-up costs more than the scan.
#[inline(always)]
fn find_soh(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = buf.get(i..i + 8) {
        let matches = bytes_equal_to(
            u64::from_le_bytes(chunk.try_into().expect("eight bytes")),
            SOH,
        );
        if matches != 0 {
            return Some(i + (matches.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    buf.get(i..)?.iter().position(|&b| b == SOH).map(|p| i + p)
}

/// A field is missing or its value is not in the expected format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("required tag {0} missing")]
    Missing(u32),
    #[error("incorrect data format for tag {0}")]
    Format(u32),
}

/// A field's value with typed accessors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldValue<'a> {
    pub tag: u32,
    pub bytes: &'a [u8],
}

impl<'a> FieldValue<'a> {
    fn typed<T>(&self, parse: impl FnOnce(&'a [u8]) -> Option<T>) -> Result<T, FieldError> {
        parse(self.bytes).ok_or(FieldError::Format(self.tag))
    }
    pub fn as_int(&self) -> Result<i64, FieldError> {
        self.typed(types::parse_int)
    }
    pub fn as_uint(&self) -> Result<u64, FieldError> {
        self.typed(types::parse_uint)
    }
    /// PRICE, QTY, AMT, FLOAT, PERCENTAGE, PRICEOFFSET.
    pub fn as_decimal(&self) -> Result<Decimal, FieldError> {
        self.typed(types::parse_decimal)
    }
    /// UTCTimestamp at second, milli, micro or nano precision.
    pub fn as_timestamp(&self) -> Result<DateTime<Utc>, FieldError> {
        self.typed(types::parse_utc_timestamp)
    }
    /// UTCDateOnly or LocalMktDate.
    pub fn as_date(&self) -> Result<NaiveDate, FieldError> {
        self.typed(types::parse_utc_date_only)
    }
    pub fn as_char(&self) -> Result<u8, FieldError> {
        self.typed(types::parse_char)
    }
    pub fn as_bool(&self) -> Result<bool, FieldError> {
        self.typed(types::parse_bool)
    }
    /// The value as text; FIX strings are ASCII in practice, anything else is refused here.
    pub fn as_str(&self) -> Result<&'a str, FieldError> {
        self.typed(|b| std::str::from_utf8(b).ok())
    }
    /// An enumerated value, through its Rust type.
    pub fn as_enum<E: super::tags::FixEnum>(&self) -> Result<E, FieldError> {
        self.typed(E::from_fix)
    }
}

/// A zero-copy view of one decoded message.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    frame: &'a [u8],
    fields: &'a [FieldRef],
    body_start: usize,
    trailer_start: usize,
}

impl<'a> Message<'a> {
    /// The whole frame, as received.
    pub fn frame(&self) -> &'a [u8] {
        self.frame
    }

    /// Every field in wire order, header and trailer included.
    pub fn fields(&self) -> &'a [FieldRef] {
        self.fields
    }

    /// The header fields (8, 9, 35 and what follows them until the first non-header tag).
    pub fn header(&self) -> &'a [FieldRef] {
        &self.fields[..self.body_start]
    }

    /// The body fields, between the header and the trailer.
    pub fn body(&self) -> &'a [FieldRef] {
        &self.fields[self.body_start..self.trailer_start]
    }

    /// The trailer fields (from the last run of trailer tags; always ends with 10).
    pub fn trailer(&self) -> &'a [FieldRef] {
        &self.fields[self.trailer_start..]
    }

    /// The bytes of a field's value.
    #[inline]
    pub fn value(&self, field: &FieldRef) -> &'a [u8] {
        &self.frame[field.start as usize..field.end as usize]
    }

    pub fn msg_type(&self) -> &'a [u8] {
        self.value(&self.fields[2])
    }

    /// The first occurrence of `tag` anywhere in the message.
    #[inline]
    pub fn get(&self, tag: u32) -> Option<FieldValue<'a>> {
        find(self.frame, self.fields, tag)
    }

    /// The first occurrence of `tag`, or [`FieldError::Missing`].
    pub fn field(&self, tag: u32) -> Result<FieldValue<'a>, FieldError> {
        self.get(tag).ok_or(FieldError::Missing(tag))
    }

    /// The entries of a repeating group at the top level of the body. An absent group has no entries.
    pub fn group(&self, group: &'a GroupDef) -> Group<'a> {
        Group::find(self.frame, self.body(), group)
    }
}

#[inline]
fn find<'a>(frame: &'a [u8], fields: &[FieldRef], tag: u32) -> Option<FieldValue<'a>> {
    fields.iter().find(|f| f.tag == tag).map(|f| FieldValue {
        tag,
        bytes: &frame[f.start as usize..f.end as usize],
    })
}

/// The entries of one repeating group.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    frame: &'a [u8],
    /// The fields after the NumInGroup field, up to the end of the enclosing structure.
    rest: &'a [FieldRef],
    def: &'a GroupDef,
    /// The NumInGroup value as sent (0 when absent or not a number; validation reports those).
    pub declared_count: usize,
}

impl<'a> Group<'a> {
    fn find(frame: &'a [u8], fields: &'a [FieldRef], def: &'a GroupDef) -> Group<'a> {
        let at = fields.iter().position(|f| f.tag == def.count_tag);
        let (rest, declared_count) = match at {
            Some(i) => {
                let f = &fields[i];
                let count =
                    types::parse_uint(&frame[f.start as usize..f.end as usize]).unwrap_or(0);
                (
                    &fields[i + 1..],
                    usize::try_from(count).unwrap_or(usize::MAX),
                )
            }
            None => (&fields[..0], 0),
        };
        Group {
            frame,
            rest,
            def,
            declared_count,
        }
    }

    /// The entries, each starting at a delimiter field and running until the next delimiter or the first field
    /// that is not a member of the group.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            frame: self.frame,
            rest: self.rest,
            def: self.def,
        }
    }
}

/// Iterator over group entries.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    frame: &'a [u8],
    rest: &'a [FieldRef],
    def: &'a GroupDef,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.rest.first()?.tag != self.def.delimiter {
            return None;
        }
        let len = entry_len(&self.def.entry, self.def.delimiter, self.rest);
        let (entry, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(Entry {
            frame: self.frame,
            fields: entry,
            def: &self.def.entry,
        })
    }
}

/// How many fields from the delimiter at `fields[0]` belong to this entry, nested groups included.
fn entry_len(def: &StructDef, delimiter: u32, fields: &[FieldRef]) -> usize {
    1 + fields[1..]
        .iter()
        .take_while(|f| f.tag != delimiter && def.contains_nested(f.tag))
        .count()
}

/// One entry of a repeating group.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    frame: &'a [u8],
    fields: &'a [FieldRef],
    def: &'a StructDef,
}

impl<'a> Entry<'a> {
    pub fn fields(&self) -> &'a [FieldRef] {
        self.fields
    }

    /// The first occurrence of `tag` in this entry (nested groups included).
    #[inline]
    pub fn get(&self, tag: u32) -> Option<FieldValue<'a>> {
        find(self.frame, self.fields, tag)
    }

    pub fn field(&self, tag: u32) -> Result<FieldValue<'a>, FieldError> {
        self.get(tag).ok_or(FieldError::Missing(tag))
    }

    /// A group nested in this entry.
    pub fn group(&self, count_tag: u32) -> Option<Group<'a>> {
        let def = self.def.group(count_tag)?;
        Some(Group::find(self.frame, self.fields, def))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dictionary::tests::mini;
    use crate::frame::from_text as frame;

    #[test]
    fn fields_in_wire_order_with_sections() {
        let d = mini();
        let f = frame(
            "35=D|49=A|56=B|34=7|52=20261122-10:00:00.123|11=C1|55=ZVZZT|54=1|60=20261122-10:00:00|38=100|40=2|44=12.5|93=2|89=ab|",
        );
        let mut dec = Decoder::new();
        let m = dec.decode(&d, &f).unwrap();
        assert_eq!(m.msg_type(), b"D");
        let tags: Vec<u32> = m.fields().iter().map(|f| f.tag).collect();
        assert_eq!(
            tags,
            [
                8, 9, 35, 49, 56, 34, 52, 11, 55, 54, 60, 38, 40, 44, 93, 89, 10
            ]
        );
        assert_eq!(m.header().len(), 7);
        assert_eq!(m.body().len(), 7);
        assert_eq!(
            m.trailer().iter().map(|f| f.tag).collect::<Vec<_>>(),
            [93, 89, 10]
        );
        assert_eq!(m.field(34).unwrap().as_uint(), Ok(7));
        assert_eq!(m.field(44).unwrap().as_decimal(), Ok(Decimal::new(125, 1)));
        assert_eq!(m.field(38).unwrap().as_decimal(), Ok(Decimal::new(100, 0)));
        assert_eq!(m.field(54).unwrap().as_char(), Ok(b'1'));
        assert_eq!(m.field(55).unwrap().as_str(), Ok("ZVZZT"));
        assert!(m.field(52).unwrap().as_timestamp().is_ok());
        assert_eq!(m.field(58), Err(FieldError::Missing(58)));
        assert_eq!(m.field(55).unwrap().as_int(), Err(FieldError::Format(55)));
    }

    #[test]
    fn data_fields_may_contain_soh() {
        let d = mini();
        let f = frame("35=D|49=A|56=B|34=1|52=20261122-10:00:00|95=7|96=a|b=c|d|58=x|");
        let mut dec = Decoder::new();
        let m = dec.decode(&d, &f).unwrap();
        assert_eq!(m.field(96).unwrap().bytes, b"a\x01b=c\x01d");
        assert_eq!(m.field(58).unwrap().bytes, b"x");
        let short = frame("35=D|49=A|56=B|34=1|52=20261122-10:00:00|95=9|96=abc|");
        assert!(matches!(
            dec.decode(&d, &short),
            Err(DecodeError::DataLength { tag: 96, length: 9 })
        ));
    }

    #[test]
    fn malformed_fields_and_order() {
        let d = mini();
        let mut dec = Decoder::new();
        for (body, expect) in [
            ("35=0|49=A|x=1|", DecodeError::MalformedField { offset: 0 }),
            ("35=0|49=A|-=1|", DecodeError::MalformedField { offset: 0 }),
            ("35=0|49A|", DecodeError::MalformedField { offset: 0 }),
            ("35=0|10=000|49=A|", DecodeError::CheckSumNotLast),
        ] {
            let got = dec.decode(&d, &frame(body)).unwrap_err();
            match (got, expect) {
                (DecodeError::MalformedField { .. }, DecodeError::MalformedField { .. }) => {}
                (got, expect) => assert_eq!(got, expect, "{body}"),
            }
        }
        assert_eq!(
            dec.decode(&d, b"9=1\x018=FIX.4.4\x0135=0\x0110=000\x01")
                .unwrap_err(),
            DecodeError::BadFirstFields
        );
        assert_eq!(
            dec.decode(&d, b"").unwrap_err(),
            DecodeError::BadFirstFields
        );
    }

    #[test]
    fn groups_resolved_through_the_dictionary() {
        let d = mini();
        let f = frame(
            "35=X|49=A|56=B|34=1|52=20261122-10:00:00|262=R1|268=3|\
             279=0|269=0|55=ZVZZT|270=10.01|271=100|\
             279=1|269=1|270=10.02|271=200|\
             279=2|269=2|278=T1|270=10.03|271=300|",
        );
        let mut dec = Decoder::new();
        let m = dec.decode(&d, &f).unwrap();
        let def = d.message(b"X").unwrap().body.group(268).unwrap();
        let g = m.group(def);
        assert_eq!(g.declared_count, 3);
        let prices: Vec<Decimal> = g
            .entries()
            .map(|e| e.field(270).unwrap().as_decimal().unwrap())
            .collect();
        assert_eq!(
            prices,
            [
                Decimal::new(1001, 2),
                Decimal::new(1002, 2),
                Decimal::new(1003, 2)
            ]
        );
        let sizes: Vec<&[u8]> = g.entries().map(|e| e.field(271).unwrap().bytes).collect();
        assert_eq!(sizes, [&b"100"[..], b"200", b"300"]);
        assert!(g.entries().nth(1).unwrap().get(55).is_none());
    }

    #[test]
    fn nested_groups() {
        let d = mini();
        let f = frame(
            "35=D|49=A|56=B|34=1|52=20261122-10:00:00|11=C1|453=2|\
             448=P1|447=D|452=3|802=2|523=S1|803=1|523=S2|\
             448=P2|452=1|\
             55=ZVZZT|54=1|60=20261122-10:00:00|40=1|",
        );
        let mut dec = Decoder::new();
        let m = dec.decode(&d, &f).unwrap();
        let parties = d.message(b"D").unwrap().body.group(453).unwrap();
        let entries: Vec<Entry> = m.group(parties).entries().collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].fields().len(), 7);
        let subs: Vec<&[u8]> = entries[0]
            .group(802)
            .unwrap()
            .entries()
            .map(|e| e.field(523).unwrap().bytes)
            .collect();
        assert_eq!(subs, [&b"S1"[..], b"S2"]);
        assert_eq!(entries[1].field(448).unwrap().bytes, b"P2");
        assert_eq!(entries[1].group(802).unwrap().entries().count(), 0);
        assert_eq!(m.field(55).unwrap().bytes, b"ZVZZT");
    }

    #[test]
    fn soh_search_matches_a_plain_scan() {
        let mut buf = vec![b'x'; 40];
        for soh_at in 0..40 {
            buf.iter_mut().for_each(|b| *b = b'x');
            buf[soh_at] = SOH;
            for from in 0..40 {
                let expect = buf[from..].iter().position(|&b| b == SOH).map(|p| from + p);
                assert_eq!(find_soh(&buf, from), expect, "soh {soh_at} from {from}");
            }
        }
        // Bytes with the high bit set and 0x00 must not look like SOH.
        let tricky = [0x81, 0x00, 0xff, 0x02, 0x80, 0x41, 0x01, 0x11, 0x01];
        assert_eq!(find_soh(&tricky, 0), Some(6));
        assert_eq!(find_soh(&tricky, 7), Some(8));
        assert_eq!(find_soh(&[0x81; 20], 0), None);
        assert_eq!(find_soh(&[], 0), None);
        assert_eq!(find_soh(&[1], 5), None);
    }

    #[test]
    fn swar_tags_agree_with_the_loop() {
        for tag in [
            1u32, 9, 10, 35, 99, 100, 553, 999, 1000, 5001, 9999, 10_000, 99_999, 123_456,
            1_234_567,
        ] {
            for rest in [&b"x\x01y=1\x01"[..], b"\x01", b"123456789"] {
                let input = [format!("{tag}=").as_bytes(), rest].concat();
                assert_eq!(tag_equals(&input), Ok((rest, tag)), "{tag}");
            }
        }
        // Every input the register path accepts, the byte loop accepts alike; what it declines, the loop refuses
        // or it has a tag too long for eight bytes.
        let loop_parse = |input: &[u8]| -> Option<(u32, usize)> {
            let (rest, tag) = tag_number(input).ok()?;
            let (_, _) = char::<_, nom::error::Error<&[u8]>>('=').parse(rest).ok()?;
            Some((tag, input.len() - rest.len()))
        };
        for input in [
            &b"0=xxxxxxxx"[..],
            b"00=xxxxxxx",
            b"1a=xxxxxxx",
            b"=1xxxxxxxx",
            b"12345678=x",
            b":1=xxxxxxx",
            b"1/=xxxxxxx",
            b"007=xxxxx",
            b"9999999=x",
        ] {
            let eight: [u8; 8] = input[..8].try_into().unwrap();
            match swar_tag(eight) {
                Some(parsed) => assert_eq!(Some(parsed), loop_parse(input), "{input:?}"),
                None => assert!(
                    loop_parse(input).is_none() || loop_parse(input).is_some_and(|(_, eq)| eq >= 8),
                    "{input:?}"
                ),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn swar_tag_agrees_with_the_loop_on_any_bytes(bytes in proptest::array::uniform8(proptest::sample::select(b"0123456789=:/a\x01".to_vec()))) {
            let loop_parse = tag_number(&bytes).ok().and_then(|(rest, tag)| (rest.first() == Some(&b'=')).then_some((tag, 8 - rest.len())));
            match swar_tag(bytes) {
                Some(parsed) => proptest::prop_assert_eq!(Some(parsed), loop_parse),
                None => proptest::prop_assert!(loop_parse.is_none_or(|(_, eq)| eq >= 8)),
            }
        }
    }

    #[test]
    fn tags() {
        assert_eq!(tag_equals(b"35=D"), Ok((&b"D"[..], 35)));
        assert_eq!(tag_equals(b"035=D"), Ok((&b"D"[..], 35)));
        assert_eq!(tag_equals(b"999999999=x"), Ok((&b"x"[..], 999_999_999)));
        for bad in [&b"=x"[..], b"1234567890=x", b"35x", b"35", b"-=x", b"--1=x"] {
            assert!(tag_equals(bad).is_err(), "{bad:?}");
        }
        // Not tags, but well-formed fields: the validator refuses them (373=0).
        for invalid in [&b"0=x"[..], b"00=x", b"-1=x", b"-999=x"] {
            assert_eq!(
                tag_equals(invalid),
                Ok((&b"x"[..], INVALID_TAG)),
                "{invalid:?}"
            );
        }
    }

    #[test]
    fn buffer_is_reused() {
        let d = mini();
        let mut dec = Decoder::new();
        let big = frame("35=0|49=A|56=B|34=1|52=20261122-10:00:00|112=x|58=a|58=b|58=c|");
        dec.decode(&d, &big).unwrap();
        let capacity = dec.fields.capacity();
        let small = frame("35=0|49=A|56=B|34=2|52=20261122-10:00:00|");
        assert_eq!(dec.decode(&d, &small).unwrap().fields().len(), 8);
        assert_eq!(dec.fields.capacity(), capacity);
    }
}
