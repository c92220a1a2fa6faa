//! The journal's record payload: one sequenced command in a compact binary form (LEB128 varints, zigzag for signed
//! values), then (from version 2) its origin: a LEB128 length and that many opaque bytes, the submitter's own
//! context for the command (for the gateway: the FIX session, ClOrdID, OrigClOrdID, account name...). The engine
//! never sees the origin; it is journaled with the command so that one fdatasync makes both durable, and handed
//! back on replay.
//!
//! Version 1 payloads (the command alone) still decode, with an empty origin. Decoding is strict: an unknown tag,
//! an overlong varint, an origin longer than [`ORIGIN_BYTES_MAX`] or a trailing byte is an error, never a guess.
//! The frame around it (length, CRC, version) is the journal's business.

use engine::{
    AccountId, Command, Expiry, InstrumentId, MassCancelScope, NewOrder, OrderId, OrderKind,
    Replace, Sequenced, SessionId, Side, TimeInForce, TradingStatus,
};

/// The most bytes of origin one record carries.
pub const ORIGIN_BYTES_MAX: usize = 1_024;
/// The most bytes one encoded command takes (a new GTD stop-limit iceberg with every value at its widest).
pub const COMMAND_BYTES_MAX: usize = 128;
/// The most bytes an origin's length takes (LEB128).
const ORIGIN_LEN_BYTES_MAX: usize = 2;
const _: () = assert!(ORIGIN_BYTES_MAX < 1 << (7 * ORIGIN_LEN_BYTES_MAX));
/// The most bytes one payload takes: the command, the origin's length and the origin.
pub const RECORD_PAYLOAD_BYTES_MAX: usize =
    COMMAND_BYTES_MAX + ORIGIN_LEN_BYTES_MAX + ORIGIN_BYTES_MAX;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("record byte {offset}: {what}")]
pub struct DecodeError {
    pub offset: usize,
    pub what: &'static str,
}

fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Appends the version 2 encoding of `record` and its `origin` to `out`.
///
/// Panics if `origin` is longer than [`ORIGIN_BYTES_MAX`]: callers refuse such an origin before it gets here.
pub fn encode(record: &Sequenced, origin: &[u8], out: &mut Vec<u8>) {
    assert!(
        origin.len() <= ORIGIN_BYTES_MAX,
        "origin of {} bytes for record {}",
        origin.len(),
        record.seq
    );
    encode_command(record, out);
    put_u64(out, origin.len() as u64);
    out.extend_from_slice(origin);
}

fn encode_command(record: &Sequenced, out: &mut Vec<u8>) {
    put_u64(out, record.seq);
    put_i64(out, record.ts_ns);
    match record.command {
        Command::New(order) => encode_new(&order, out),
        Command::Cancel { order_id, account } => {
            out.push(2);
            put_u64(out, order_id.0);
            put_u64(out, u64::from(account.0));
        }
        Command::Replace(replace) => {
            out.push(3);
            put_u64(out, replace.order_id.0);
            put_u64(out, u64::from(replace.account.0));
            match replace.price_ticks {
                Some(price_ticks) => {
                    out.push(1);
                    put_i64(out, price_ticks);
                }
                None => out.push(0),
            }
            put_i64(out, replace.qty_lots);
        }
        Command::MassCancel(scope) => {
            out.push(4);
            let (kind, value) = match scope {
                MassCancelScope::All => (0, 0),
                MassCancelScope::Instrument(instrument) => (1, instrument.0),
                MassCancelScope::Account(account) => (2, account.0),
                MassCancelScope::Session(session) => (3, session.0),
                MassCancelScope::SessionInstrument(session, _) => (4, session.0),
            };
            out.push(kind);
            put_u64(out, u64::from(value));
            if let MassCancelScope::SessionInstrument(_, instrument) = scope {
                put_u64(out, u64::from(instrument.0));
            }
        }
        Command::SetStatus { instrument, status } => {
            out.push(5);
            put_u64(out, u64::from(instrument.0));
            out.push(status_code(status));
        }
        Command::Time { now_ns } => {
            out.push(6);
            put_i64(out, now_ns);
        }
    }
}

fn status_code(status: TradingStatus) -> u8 {
    match status {
        TradingStatus::Open => 0,
        TradingStatus::Halted => 1,
        TradingStatus::CancelOnly => 2,
        TradingStatus::PostOnly => 3,
    }
}

fn encode_new(order: &NewOrder, out: &mut Vec<u8>) {
    out.push(1);
    put_u64(out, u64::from(order.instrument.0));
    put_u64(out, u64::from(order.account.0));
    put_u64(out, u64::from(order.session.0));
    out.push(u8::from(order.side == Side::Sell) | (u8::from(order.post_only) << 1));
    match order.kind {
        OrderKind::Limit { price_ticks } => {
            out.push(0);
            put_i64(out, price_ticks);
        }
        OrderKind::Market => out.push(1),
        OrderKind::Stop { stop_ticks } => {
            out.push(2);
            put_i64(out, stop_ticks);
        }
        OrderKind::StopLimit {
            stop_ticks,
            price_ticks,
        } => {
            out.push(3);
            put_i64(out, stop_ticks);
            put_i64(out, price_ticks);
        }
    }
    put_i64(out, order.qty_lots);
    match order.tif {
        TimeInForce::Day => out.push(0),
        TimeInForce::Gtc => out.push(1),
        TimeInForce::Ioc => out.push(2),
        TimeInForce::Fok => out.push(3),
        TimeInForce::Gtd(Expiry::AtNs(at_ns)) => {
            out.push(4);
            put_i64(out, at_ns);
        }
        TimeInForce::Gtd(Expiry::OnDate { days_since_epoch }) => {
            out.push(5);
            put_i64(out, i64::from(days_since_epoch));
        }
    }
    put_i64(out, order.display_lots);
}

/// A cursor over one record's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn fail<T>(&self, what: &'static str) -> Result<T, DecodeError> {
        Err(DecodeError {
            offset: self.at,
            what,
        })
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let Some(&byte) = self.bytes.get(self.at) else {
            return self.fail("record ends early");
        };
        self.at += 1;
        Ok(byte)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                return self.fail("varint overflows 64 bits");
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.fail("varint longer than 10 bytes")
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        let raw = self.u64()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let value = self.u64()?;
        u32::try_from(value).or_else(|_| self.fail("value does not fit 32 bits"))
    }
}

/// Decodes one version 2 payload (a record and its origin); the bytes must hold exactly one.
pub fn decode(bytes: &[u8]) -> Result<(Sequenced, &[u8]), DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let record = decode_command(&mut reader)?;
    let origin_bytes = reader.u64()?;
    if origin_bytes > ORIGIN_BYTES_MAX as u64 {
        return reader.fail("origin longer than ORIGIN_BYTES_MAX");
    }
    let start = reader.at;
    let Some(origin) = bytes.get(start..start + origin_bytes as usize) else {
        return reader.fail("record ends early");
    };
    reader.at += origin.len();
    if reader.at != bytes.len() {
        return reader.fail("trailing bytes after the origin");
    }
    Ok((record, origin))
}

/// Decodes one version 1 payload (a record without origin); the bytes must hold exactly one.
pub fn decode_v1(bytes: &[u8]) -> Result<Sequenced, DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let record = decode_command(&mut reader)?;
    if reader.at != bytes.len() {
        return reader.fail("trailing bytes after the command");
    }
    Ok(record)
}

fn decode_command(reader: &mut Reader<'_>) -> Result<Sequenced, DecodeError> {
    let seq = reader.u64()?;
    let ts_ns = reader.i64()?;
    let command = match reader.byte()? {
        1 => Command::New(decode_new(reader)?),
        2 => Command::Cancel {
            order_id: OrderId(reader.u64()?),
            account: AccountId(reader.u32()?),
        },
        3 => Command::Replace(decode_replace(reader)?),
        4 => Command::MassCancel(match (reader.byte()?, reader.u32()?) {
            (0, _) => MassCancelScope::All,
            (1, value) => MassCancelScope::Instrument(InstrumentId(value)),
            (2, value) => MassCancelScope::Account(AccountId(value)),
            (3, value) => MassCancelScope::Session(SessionId(value)),
            (4, value) => {
                MassCancelScope::SessionInstrument(SessionId(value), InstrumentId(reader.u32()?))
            }
            _ => return reader.fail("unknown mass cancel scope"),
        }),
        5 => {
            let instrument = InstrumentId(reader.u32()?);
            let status = match reader.byte()? {
                0 => TradingStatus::Open,
                1 => TradingStatus::Halted,
                2 => TradingStatus::CancelOnly,
                3 => TradingStatus::PostOnly,
                _ => return reader.fail("unknown trading status"),
            };
            Command::SetStatus { instrument, status }
        }
        6 => Command::Time {
            now_ns: reader.i64()?,
        },
        _ => return reader.fail("unknown command tag"),
    };
    Ok(Sequenced {
        seq,
        ts_ns,
        command,
    })
}

fn decode_replace(reader: &mut Reader<'_>) -> Result<Replace, DecodeError> {
    let order_id = OrderId(reader.u64()?);
    let account = AccountId(reader.u32()?);
    let price_ticks = match reader.byte()? {
        0 => None,
        1 => Some(reader.i64()?),
        _ => return reader.fail("bad price flag"),
    };
    Ok(Replace {
        order_id,
        account,
        price_ticks,
        qty_lots: reader.i64()?,
    })
}

fn decode_new(reader: &mut Reader<'_>) -> Result<NewOrder, DecodeError> {
    let instrument = InstrumentId(reader.u32()?);
    let account = AccountId(reader.u32()?);
    let session = SessionId(reader.u32()?);
    let flags = reader.byte()?;
    if flags > 3 {
        return reader.fail("unknown order flags");
    }
    let kind = match reader.byte()? {
        0 => OrderKind::Limit {
            price_ticks: reader.i64()?,
        },
        1 => OrderKind::Market,
        2 => OrderKind::Stop {
            stop_ticks: reader.i64()?,
        },
        3 => OrderKind::StopLimit {
            stop_ticks: reader.i64()?,
            price_ticks: reader.i64()?,
        },
        _ => return reader.fail("unknown order kind"),
    };
    let qty_lots = reader.i64()?;
    let tif = match reader.byte()? {
        0 => TimeInForce::Day,
        1 => TimeInForce::Gtc,
        2 => TimeInForce::Ioc,
        3 => TimeInForce::Fok,
        4 => TimeInForce::Gtd(Expiry::AtNs(reader.i64()?)),
        5 => {
            let days = i32::try_from(reader.i64()?)
                .or_else(|_| reader.fail("expire date out of range"))?;
            TimeInForce::Gtd(Expiry::OnDate {
                days_since_epoch: days,
            })
        }
        _ => return reader.fail("unknown time in force"),
    };
    let side = if flags & 1 == 1 {
        Side::Sell
    } else {
        Side::Buy
    };
    Ok(NewOrder {
        instrument,
        account,
        session,
        side,
        kind,
        qty_lots,
        tif,
        post_only: flags & 2 == 2,
        display_lots: reader.i64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widest() -> Sequenced {
        Sequenced {
            seq: u64::MAX,
            ts_ns: i64::MIN,
            command: Command::New(NewOrder {
                instrument: InstrumentId(u32::MAX),
                account: AccountId(u32::MAX),
                session: SessionId(u32::MAX),
                side: Side::Sell,
                kind: OrderKind::StopLimit {
                    stop_ticks: i64::MIN,
                    price_ticks: i64::MAX,
                },
                qty_lots: i64::MIN,
                tif: TimeInForce::Gtd(Expiry::AtNs(i64::MIN)),
                post_only: true,
                display_lots: i64::MIN,
            }),
        }
    }

    fn encoded(record: &Sequenced, origin: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode(record, origin, &mut bytes);
        bytes
    }

    #[test]
    fn round_trips_at_the_extremes_within_the_size_limit() {
        let record = widest();
        let command_bytes = encoded(&record, &[]).len() - 1;
        assert!(command_bytes <= COMMAND_BYTES_MAX, "{command_bytes} bytes");
        let origin = vec![0xff; ORIGIN_BYTES_MAX];
        let bytes = encoded(&record, &origin);
        assert!(
            bytes.len() <= RECORD_PAYLOAD_BYTES_MAX,
            "{} bytes",
            bytes.len()
        );
        assert_eq!(decode(&bytes), Ok((record, &origin[..])));
    }

    #[test]
    fn every_mass_cancel_scope_round_trips() {
        for scope in [
            MassCancelScope::All,
            MassCancelScope::Instrument(InstrumentId(7)),
            MassCancelScope::Account(AccountId(u32::MAX)),
            MassCancelScope::Session(SessionId(3)),
            MassCancelScope::SessionInstrument(SessionId(u32::MAX), InstrumentId(u32::MAX)),
        ] {
            let record = Sequenced {
                seq: 9,
                ts_ns: -1,
                command: Command::MassCancel(scope),
            };
            let bytes = encoded(&record, b"origin");
            assert_eq!(decode(&bytes), Ok((record, &b"origin"[..])), "{scope}");
        }
    }

    #[test]
    fn a_version_1_payload_is_the_command_alone() {
        let record = widest();
        let mut bytes = encoded(&record, &[]);
        assert_eq!(bytes.pop(), Some(0), "an empty origin is one zero byte");
        assert_eq!(decode_v1(&bytes), Ok(record));
        assert_eq!(
            decode(&bytes).unwrap_err().what,
            "record ends early",
            "a version 1 payload is not a version 2 one"
        );
        bytes.push(0);
        assert_eq!(
            decode_v1(&bytes).unwrap_err().what,
            "trailing bytes after the command"
        );
    }

    #[test]
    fn refuses_truncation_trailing_bytes_and_unknown_tags() {
        let bytes = encoded(&widest(), b"session 3 clordid 42");
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "accepted a record cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode(&longer).unwrap_err().what,
            "trailing bytes after the origin"
        );
        let mut time = encoded(
            &Sequenced {
                seq: 1,
                ts_ns: 0,
                command: Command::Time { now_ns: 5 },
            },
            &[],
        );
        time[2] = 99;
        assert_eq!(decode(&time).unwrap_err().what, "unknown command tag");
    }

    #[test]
    fn refuses_an_origin_longer_than_the_limit() {
        let record = Sequenced {
            seq: 1,
            ts_ns: 0,
            command: Command::Time { now_ns: 5 },
        };
        let mut bytes = encoded(&record, &[]);
        bytes.pop();
        put_u64(&mut bytes, ORIGIN_BYTES_MAX as u64 + 1);
        bytes.resize(bytes.len() + ORIGIN_BYTES_MAX + 1, 7);
        assert_eq!(
            decode(&bytes).unwrap_err().what,
            "origin longer than ORIGIN_BYTES_MAX"
        );
    }

    #[test]
    #[should_panic(expected = "origin of 1025 bytes")]
    fn encoding_an_oversize_origin_is_a_bug() {
        encoded(&widest(), &[0; ORIGIN_BYTES_MAX + 1]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Any origin up to the limit round-trips with its record, and every cut of the payload is refused.
        #[test]
        fn any_origin_round_trips(
            origin in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..=ORIGIN_BYTES_MAX),
            seq in proptest::prelude::any::<u64>(),
            ts_ns in proptest::prelude::any::<i64>(),
        ) {
            let record = Sequenced { seq, ts_ns, command: Command::Time { now_ns: ts_ns } };
            let bytes = encoded(&record, &origin);
            proptest::prop_assert_eq!(decode(&bytes), Ok((record, &origin[..])));
            proptest::prop_assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        }
    }
}
