//! Property tests of the codec against the venue's dictionary:
//! - every supported message type, filled with random valid content driven by the dictionary (optional fields,
//!   groups with nested groups, Length+Data pairs whose data holds SOH), survives encode -> frame -> decode ->
//!   validate with every field intact, in order;
//! - arbitrary bytes, and valid messages with random corruption, never panic the framer, decoder or validator.

use bytes::BytesMut;
use chrono::{TimeZone, Utc};
use fix::dictionary::{Dictionary, FieldType, Member, MessageDef, StructDef};
use fix::frame::{self, FrameConfig, Framed};
use fix::{Decoder, Encoder, Header, Validator, process_untrusted};
use proptest::prelude::*;
use std::sync::OnceLock;

fn dict() -> &'static Dictionary {
    static DICT: OnceLock<Dictionary> = OnceLock::new();
    DICT.get_or_init(|| Dictionary::fix44().expect("dictionary loads"))
}

/// A small deterministic generator: proptest picks the seed (and shrinks it), this spends it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// Generates fields for one structure, in dictionary order, into `out` as (tag, value).
struct Filler<'a> {
    dict: &'a Dictionary,
    rng: Rng,
    density: u64,
    depth: usize,
}

impl Filler<'_> {
    fn fill(&mut self, def: &StructDef, out: &mut Vec<(u32, Vec<u8>)>) {
        let members = def.members();
        let mut i = 0;
        while i < members.len() {
            let m = &members[i];
            let data_partner = self
                .dict
                .data_tag_for_length(m.tag)
                .filter(|&d| members.get(i + 1).is_some_and(|n| n.tag == d));
            let include = m.required || self.rng.chance(self.density);
            if let Some(data_tag) = data_partner {
                if include {
                    let data = self.data();
                    out.push((m.tag, data.len().to_string().into_bytes()));
                    out.push((data_tag, data));
                }
                i += 2;
                continue;
            }
            if include {
                self.member(m, out);
            }
            i += 1;
        }
    }

    fn member(&mut self, m: &Member, out: &mut Vec<(u32, Vec<u8>)>) {
        match &m.group {
            Some(group) => {
                // Some counts are enumerated (NoSides: 1 or 2).
                let allowed: Vec<usize> = self
                    .dict
                    .field(m.tag)
                    .unwrap()
                    .values()
                    .iter()
                    .filter_map(|v| std::str::from_utf8(v).ok()?.parse().ok())
                    .collect();
                let entries = match allowed.as_slice() {
                    [] if self.depth >= 2 => 0,
                    [] => self.rng.below(3) as usize + usize::from(m.required),
                    _ => allowed[self.rng.below(allowed.len() as u64) as usize],
                };
                out.push((m.tag, entries.to_string().into_bytes()));
                self.depth += 1;
                for _ in 0..entries {
                    let before = out.len();
                    self.fill(&group.entry, out);
                    // Every entry starts with its delimiter.
                    if out.get(before).map(|f| f.0) != Some(group.delimiter) {
                        let delimiter = group.entry.member(0);
                        let mut first = Vec::new();
                        self.member(delimiter, &mut first);
                        out.splice(before..before, first);
                    }
                }
                self.depth -= 1;
            }
            None => {
                let value = self.value(m);
                out.push((m.tag, value));
            }
        }
    }

    fn data(&mut self) -> Vec<u8> {
        let len = self.rng.below(12) as usize + 1;
        (0..len)
            .map(|_| [b'a', 0x01, b'=', b'7', 0xff][self.rng.below(5) as usize])
            .collect()
    }

    fn value(&mut self, m: &Member) -> Vec<u8> {
        let def = self.dict.field(m.tag).expect("member is defined");
        let values = def.values();
        if !values.is_empty() {
            let pick = values[self.rng.below(values.len() as u64) as usize].clone();
            if def.field_type == FieldType::MultipleValueString && self.rng.chance(30) {
                let other = values[self.rng.below(values.len() as u64) as usize].clone();
                return [pick, b" ".to_vec(), other].concat();
            }
            return pick;
        }
        let r = &mut self.rng;
        let text = match def.field_type {
            FieldType::Int | FieldType::TagNum => format!("{}", r.below(100_000) + 1),
            FieldType::Length | FieldType::SeqNum | FieldType::NumInGroup => {
                format!("{}", r.below(1_000))
            }
            FieldType::DayOfMonth => format!("{}", r.below(31) + 1),
            FieldType::Float
            | FieldType::Qty
            | FieldType::Price
            | FieldType::PriceOffset
            | FieldType::Amt
            | FieldType::Percentage => {
                let int = r.below(1_000_000);
                let frac_len = r.below(4) as usize;
                let frac = r.digits(frac_len);
                let sign = if r.chance(10) { "-" } else { "" };
                if frac.is_empty() {
                    format!("{sign}{int}")
                } else {
                    format!("{sign}{int}.{frac}")
                }
            }
            FieldType::Char => char::from(b'A' + r.below(26) as u8).to_string(),
            FieldType::Boolean => if r.chance(50) { "Y" } else { "N" }.to_string(),
            FieldType::Country => "US".into(),
            FieldType::Currency => "USD".into(),
            FieldType::Language => "en".into(),
            FieldType::Exchange => "XNAS".into(),
            FieldType::MonthYear => ["202612", "20261215", "202612w2"][r.below(3) as usize].into(),
            FieldType::UtcTimestamp => [
                "20261122-10:11:12",
                "20261122-10:11:12.123",
                "20261122-10:11:12.123456",
                "20241231-23:59:60.999999999",
            ][r.below(4) as usize]
                .into(),
            FieldType::UtcTimeOnly => ["10:11:12", "23:59:59.999"][r.below(2) as usize].into(),
            FieldType::UtcDateOnly | FieldType::LocalMktDate => "20261122".into(),
            FieldType::Data => "data".into(),
            FieldType::String | FieldType::MultipleValueString => {
                let len = r.below(10) as usize + 1;
                (0..len)
                    .map(|_| char::from(b"abcXYZ019 _-./"[r.below(14) as usize]))
                    .collect::<String>()
                    .trim()
                    .to_string()
                    + "x"
            }
        };
        text.into_bytes()
    }
}

fn encode(def: &MessageDef, body: &[(u32, Vec<u8>)]) -> BytesMut {
    let mut buf = BytesMut::new();
    let time = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let header = Header::new(&def.msg_type, "VENUE", "CLIENT", 42, time);
    let mut w = Encoder::default().begin(&mut buf, &header);
    let mut i = 0;
    while i < body.len() {
        let (tag, value) = &body[i];
        match dict().data_tag_for_length(*tag) {
            Some(data_tag) if body.get(i + 1).is_some_and(|f| f.0 == data_tag) => {
                w.put_data(*tag, data_tag, &body[i + 1].1);
                i += 2;
            }
            _ => {
                w.put_bytes(*tag, value);
                i += 1;
            }
        }
    }
    w.finish().expect("fits");
    buf
}

fn round_trip(def: &MessageDef, seed: u64, density: u64) -> Result<(), TestCaseError> {
    let mut filler = Filler {
        dict: dict(),
        rng: Rng(seed | 1),
        density,
        depth: 0,
    };
    let mut body = Vec::new();
    filler.fill(&def.body, &mut body);
    let buf = encode(def, &body);
    prop_assert_eq!(
        frame::check(
            &buf,
            &FrameConfig {
                message_bytes_max: 1 << 20
            }
        ),
        Framed::Complete { len: buf.len() }
    );
    let mut decoder = Decoder::new();
    let msg = decoder
        .decode(dict(), &buf)
        .map_err(|e| TestCaseError::fail(format!("{}: {e}", def.name)))?;
    let decoded: Vec<(u32, Vec<u8>)> = msg
        .body()
        .iter()
        .map(|f| (f.tag, msg.value(f).to_vec()))
        .collect();
    prop_assert_eq!(&decoded, &body, "{}", def.name);
    let validated = Validator::default().validate(dict(), &msg);
    prop_assert!(
        validated.is_ok(),
        "{}: {:?} in {}",
        def.name,
        validated,
        String::from_utf8_lossy(&buf).replace('\x01', "|")
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_message_type_round_trips(seed in any::<u64>(), density in 0u64..=100) {
        for def in dict().messages() {
            round_trip(def, seed, density)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        process_untrusted(dict(), &bytes);
    }

    #[test]
    fn corrupted_messages_never_panic(seed in any::<u64>(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let defs: Vec<&MessageDef> = dict().messages().collect();
        let def = defs[(seed % defs.len() as u64) as usize];
        let mut filler = Filler { dict: dict(), rng: Rng(seed | 1), density: 30, depth: 0 };
        let mut body = Vec::new();
        filler.fill(&def.body, &mut body);
        let mut bytes = encode(def, &body).to_vec();
        for (at, byte) in edits {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        // Fix BodyLength and CheckSum so that the corruption reaches the decoder and the validator too.
        let start = bytes.iter().position(|&b| b == 0x01).and_then(|p| bytes[p + 1..].iter().position(|&b| b == 0x01).map(|q| p + q + 2));
        if let Some(body_start) = start {
            let end = bytes.len().saturating_sub(7).max(body_start);
            let rewrapped = frame::wrap_body(&bytes[body_start..end]);
            process_untrusted(dict(), &rewrapped);
        }
        process_untrusted(dict(), &bytes);
    }
}

#[test]
fn the_generator_fills_groups_and_data() {
    // Guard against a generator that silently produces only empty messages.
    let def = dict().message(b"8").unwrap();
    let mut filler = Filler {
        dict: dict(),
        rng: Rng(7),
        density: 100,
        depth: 0,
    };
    let mut body = Vec::new();
    filler.fill(&def.body, &mut body);
    assert!(body.len() > 100, "{}", body.len());
    assert!(body.iter().any(|(tag, _)| *tag == 453), "Parties group");
    assert!(body.iter().any(|(_, v)| v.contains(&0x01)), "data with SOH");
    round_trip(def, 7, 100).unwrap();
}
