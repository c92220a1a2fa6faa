//! FIX value formats: parsing a value slice into a typed value, and the format checks validation uses.
//!
//! Every parser takes the raw value bytes (no SOH) and returns `None` when the bytes are not in the format, so a
//! caller can turn that into SessionRejectReason 6 (incorrect data format) with the tag in hand.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;

/// FIX INT (and SEQNUM, LENGTH, NUMINGROUP, TAGNUM, DAYOFMONTH): optional `-`, then 1 to 18 digits.
pub fn parse_int(value: &[u8]) -> Option<i64> {
    let (negative, digits) = match value {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, value),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some(if negative { -n } else { n })
}

/// A non-negative INT (SEQNUM, LENGTH, NUMINGROUP).
pub fn parse_uint(value: &[u8]) -> Option<u64> {
    match value.first() {
        Some(b'-') | None => None,
        _ => parse_int(value).map(|n| n as u64),
    }
}

/// Most significant digits a FIX decimal may carry: what fits a `Decimal` mantissa without rounding.
const DECIMAL_DIGITS_MAX: usize = 29;

/// Decimals with at most this many digits always fit a `Decimal`; longer ones are checked against its maximum.
const DECIMAL_DIGITS_ALWAYS_FIT: usize = 28;

/// FIX FLOAT (and QTY, PRICE, PRICEOFFSET, AMT, PERCENTAGE): optional `-`, digits with an optional `.`, at least
/// one digit. No exponent, no `+`, as the FIX specification says.
pub fn parse_decimal(value: &[u8]) -> Option<Decimal> {
    let (negative, body) = match value {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, value),
    };
    // Fast path: up to 18 characters always fit a u64 mantissa.
    if body.len() <= 18 {
        let mut mantissa: u64 = 0;
        let mut point = None;
        for (i, &b) in body.iter().enumerate() {
            match b {
                b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(b - b'0'),
                b'.' if point.is_none() => point = Some(i),
                _ => return None,
            }
        }
        let digits = body.len() - usize::from(point.is_some());
        if digits == 0 {
            return None;
        }
        let scale = point.map_or(0, |p| body.len() - p - 1) as u32;
        let signed = if negative {
            -(mantissa as i64)
        } else {
            mantissa as i64
        };
        return Some(Decimal::new(signed, scale));
    }
    parse_long_decimal(negative, body)
}

fn parse_long_decimal(negative: bool, body: &[u8]) -> Option<Decimal> {
    let mut mantissa: i128 = 0;
    let mut digits = 0usize;
    let mut scale: Option<u32> = None;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                // Leading zeros carry no information and do not count against the digit limit.
                if mantissa != 0 || b != b'0' {
                    digits += 1;
                }
                if digits > DECIMAL_DIGITS_MAX {
                    return None;
                }
                mantissa = mantissa * 10 + i128::from(b - b'0');
                if let Some(s) = scale.as_mut() {
                    *s += 1;
                }
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
    }
    let scale = scale.unwrap_or(0);
    let has_digit = body.iter().any(u8::is_ascii_digit);
    if !has_digit || scale > Decimal::MAX_SCALE {
        return None;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

/// Checks the FLOAT format without building the value (the validator's hot path).
pub fn is_decimal(value: &[u8]) -> bool {
    let body = value.strip_prefix(b"-").unwrap_or(value);
    // Branch-free per byte: count digits and dots; anything else makes the counts disagree with the length.
    let digits = body.iter().filter(|b| b.is_ascii_digit()).count();
    let dots = body.iter().filter(|&&b| b == b'.').count();
    // Long runs of leading zeros are legal but rare: let the exact parser judge anything long.
    digits > 0
        && dots <= 1
        && digits + dots == body.len()
        && (digits <= DECIMAL_DIGITS_ALWAYS_FIT || parse_decimal(value).is_some())
}

/// FIX BOOLEAN: `Y` or `N`.
pub fn parse_bool(value: &[u8]) -> Option<bool> {
    match value {
        b"Y" => Some(true),
        b"N" => Some(false),
        _ => None,
    }
}

/// FIX CHAR: exactly one byte that is not a space or a control character.
pub fn parse_char(value: &[u8]) -> Option<u8> {
    match value {
        [c] if c.is_ascii_graphic() => Some(*c),
        _ => None,
    }
}

/// FIX UTCTimestamp: `YYYYMMDD-HH:MM:SS` with an optional fraction of 3, 6 or 9 digits.
pub fn parse_utc_timestamp(value: &[u8]) -> Option<DateTime<Utc>> {
    if value.len() < 17 || value[8] != b'-' {
        return None;
    }
    let date = parse_date(&value[..8])?;
    let time = parse_time(&value[9..])?;
    Some(NaiveDateTime::new(date, time).and_utc())
}

/// Checks the UTCTimestamp format without building the value (the validator's hot path). Agrees with
/// [`parse_utc_timestamp`] on every input.
pub fn is_utc_timestamp(value: &[u8]) -> bool {
    // `YYYYMMDD-HH:MM:SS` then nothing or `.` and 3, 6 or 9 digits.
    let (Some(date), Some(time)) = (value.get(0..8), value.get(9..17)) else {
        return false;
    };
    let date = u64::from_le_bytes(date.try_into().expect("eight bytes"));
    // "HH:MM:SS": bytes 2 and 5 are colons; with them replaced by '0' the word must be all digits.
    let time = u64::from_le_bytes(time.try_into().expect("eight bytes"));
    const COLON_BYTES: u64 = 0x0000_ff00_00ff_0000;
    const COLONS: u64 = u64::from_le_bytes([0, 0, b':', 0, 0, b':', 0, 0]);
    const ZEROS_AT_COLONS: u64 = u64::from_le_bytes([0, 0, b'0', 0, 0, b'0', 0, 0]);
    let shape_ok = value[8] == b'-'
        && time & COLON_BYTES == COLONS
        && all_digits(date)
        && all_digits((time & !COLON_BYTES) | ZEROS_AT_COLONS)
        && match value.len() {
            17 => true,
            21 | 24 | 27 => value[17] == b'.' && value[18..].iter().all(u8::is_ascii_digit),
            _ => false,
        };
    if !shape_ok {
        return false;
    }
    let two = |i: usize| u32::from(value[i] - b'0') * 10 + u32::from(value[i + 1] - b'0');
    let year = two(0) * 100 + two(2);
    let (month, day) = (two(4), two(6));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day) && two(9) <= 23 && two(12) <= 59 && two(15) <= 60
}

/// Whether all eight bytes of `word` are ASCII digits (SWAR: each byte is 0x30..=0x39).
#[inline]
fn all_digits(word: u64) -> bool {
    const HIGH_NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    // 0x30..=0x39 have high nibble 3, and adding 6 keeps it 3 only for 0..=9 in the low nibble.
    word & HIGH_NIBBLES == THREES && word.wrapping_add(SIXES) & HIGH_NIBBLES == THREES
}

/// FIX UTCTimeOnly: `HH:MM:SS` with an optional fraction of 3, 6 or 9 digits.
pub fn parse_utc_time_only(value: &[u8]) -> Option<NaiveTime> {
    parse_time(value)
}

/// FIX UTCDateOnly and LocalMktDate: `YYYYMMDD`.
pub fn parse_utc_date_only(value: &[u8]) -> Option<NaiveDate> {
    if value.len() != 8 {
        return None;
    }
    parse_date(value)
}

/// FIX MonthYear: `YYYYMM`, `YYYYMMDD` or `YYYYMMwN` (week 1 to 5).
pub fn is_month_year(value: &[u8]) -> bool {
    if value.len() < 6 || digits_value(&value[..4]).is_none() {
        return false;
    }
    let month_ok = matches!(digits_value(&value[4..6]), Some(1..=12));
    month_ok
        && match &value[6..] {
            [] => true,
            [b'w', w] => (b'1'..=b'5').contains(w),
            day @ [_, _] => matches!(digits_value(day), Some(1..=31)),
            _ => false,
        }
}

fn parse_date(value: &[u8]) -> Option<NaiveDate> {
    let year = digits_value(value.get(..4)?)?;
    let month = digits_value(value.get(4..6)?)?;
    let day = digits_value(value.get(6..8)?)?;
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

fn parse_time(value: &[u8]) -> Option<NaiveTime> {
    if value.len() < 8 || value[2] != b':' || value[5] != b':' {
        return None;
    }
    let hour = digits_value(&value[0..2])?;
    let minute = digits_value(&value[3..5])?;
    // FIX allows second 60 for a leap second; chrono models it as 59 plus a nanosecond overflow.
    let second = digits_value(&value[6..8])?;
    let nanos = match &value[8..] {
        [] => 0,
        [b'.', fraction @ ..] if matches!(fraction.len(), 3 | 6 | 9) => {
            digits_value(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    if second == 60 {
        return NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nanos);
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

/// The value of a run of 1 to 9 ASCII digits.
fn digits_value(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// Sub-second precision of an encoded UTCTimestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimePrecision {
    Seconds,
    #[default]
    Millis,
    Micros,
    Nanos,
}

impl TimePrecision {
    fn fraction_digits(self) -> usize {
        match self {
            TimePrecision::Seconds => 0,
            TimePrecision::Millis => 3,
            TimePrecision::Micros => 6,
            TimePrecision::Nanos => 9,
        }
    }
}

/// Longest encoded UTCTimestamp: `YYYYMMDD-HH:MM:SS.nnnnnnnnn`.
pub const UTC_TIMESTAMP_BYTES_MAX: usize = 27;

/// Writes a UTCTimestamp into `out` and returns the number of bytes written.
pub fn format_utc_timestamp(
    time: &DateTime<Utc>,
    precision: TimePrecision,
    out: &mut [u8; UTC_TIMESTAMP_BYTES_MAX],
) -> usize {
    use chrono::{Datelike, Timelike};
    let year = time.year().clamp(0, 9999) as u32;
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[4..6], time.month());
    put_digits(&mut out[6..8], time.day());
    out[8] = b'-';
    put_digits(&mut out[9..11], time.hour());
    out[11] = b':';
    put_digits(&mut out[12..14], time.minute());
    out[14] = b':';
    // A leap second shows up as nanoseconds above one second.
    let nanos = time.nanosecond();
    let (second, nanos) = if nanos >= 1_000_000_000 {
        (60, nanos - 1_000_000_000)
    } else {
        (time.second(), nanos)
    };
    put_digits(&mut out[15..17], second);
    let digits = precision.fraction_digits();
    if digits == 0 {
        return 17;
    }
    out[17] = b'.';
    put_digits(
        &mut out[18..18 + digits],
        nanos / 10u32.pow(9 - digits as u32),
    );
    18 + digits
}

/// Writes `n` as exactly `out.len()` decimal digits (zero padded, most significant digits dropped if too big).
fn put_digits(out: &mut [u8], mut n: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"007"), Some(7));
        assert_eq!(
            parse_int(b"999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"1.0",
            b"1e3",
            b" 1",
            b"1234567890123456789",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
        assert_eq!(parse_uint(b"-1"), None);
        assert_eq!(parse_uint(b"42"), Some(42));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"238.35"), Some(Decimal::new(23835, 2)));
        assert_eq!(parse_decimal(b"-0.5"), Some(Decimal::new(-5, 1)));
        assert_eq!(parse_decimal(b"10"), Some(Decimal::new(10, 0)));
        assert_eq!(parse_decimal(b".5"), Some(Decimal::new(5, 1)));
        assert_eq!(parse_decimal(b"5."), Some(Decimal::new(5, 0)));
        assert_eq!(
            parse_decimal(b"0000000000000000000000000000001.5"),
            Some(Decimal::new(15, 1))
        );
        for bad in [
            &b""[..],
            b".",
            b"-",
            b"1.2.3",
            b"1e5",
            b"+1",
            b"1,5",
            b"79228162514264337593543950336",
            b"123456789012345678901234567890",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
            assert!(!is_decimal(bad), "{bad:?}");
        }
        for good in [&b"238.35"[..], b"-0.5", b"0", b"5.", b".5"] {
            assert!(is_decimal(good), "{good:?}");
        }
    }

    #[test]
    fn timestamps_at_every_precision() {
        let base = Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap();
        assert_eq!(parse_utc_timestamp(b"20261120-09:30:00"), Some(base));
        let cases: [(&[u8], u32); 3] = [
            (b"20261120-09:30:00.003", 3_000_000),
            (b"20261120-09:30:00.000123", 123_000),
            (b"20261120-09:30:00.000000007", 7),
        ];
        for (text, nanos) in cases {
            assert_eq!(
                parse_utc_timestamp(text),
                Some(base + chrono::Duration::nanoseconds(nanos.into()))
            );
        }
        for bad in [
            &b"20261120-09:30:00.1"[..],
            b"20261120 09:30:00",
            b"20261320-09:30:00",
            b"20261120-24:00:00",
            b"20261120-09:30:00.0001",
            b"2026112-09:30:00",
            b"20261120-09:30",
        ] {
            assert_eq!(parse_utc_timestamp(bad), None, "{bad:?}");
        }
        // A leap second is legal FIX.
        assert!(parse_utc_timestamp(b"20261231-23:59:60").is_some());
        assert!(is_utc_timestamp(b"20261231-23:59:60"));
    }

    #[test]
    fn fast_timestamp_check_agrees_with_the_parser() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"20240229-12:00:00".to_vec(),
            b"20230229-12:00:00".to_vec(),
            b"21000229-12:00:00".to_vec(),
            b"20000229-12:00:00".to_vec(),
            b"20261131-00:00:00".to_vec(),
            b"20261130-00:00:00.000000001".to_vec(),
            b"20261130-23:59:59.99".to_vec(),
            b"20261130-23:59:59.".to_vec(),
            b"20261130-23:60:00".to_vec(),
            b"20261100-10:00:00".to_vec(),
            b"20260010-10:00:00".to_vec(),
            b"2026011a-10:00:00".to_vec(),
            b"20260110-10:00:00x123".to_vec(),
        ];
        // Every single-byte corruption of a valid timestamp.
        let good = b"20261122-10:20:30.123456";
        for i in 0..good.len() {
            for b in [b'0', b'9', b'-', b':', b'.', b'x', 0xff] {
                let mut v = good.to_vec();
                v[i] = b;
                cases.push(v);
            }
        }
        for case in cases {
            assert_eq!(
                is_utc_timestamp(&case),
                parse_utc_timestamp(&case).is_some(),
                "{}",
                String::from_utf8_lossy(&case)
            );
        }
    }

    #[test]
    fn timestamp_format_round_trips() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let mut out = [0u8; UTC_TIMESTAMP_BYTES_MAX];
        let expect: [(TimePrecision, &str); 4] = [
            (TimePrecision::Seconds, "20260102-03:04:05"),
            (TimePrecision::Millis, "20260102-03:04:05.123"),
            (TimePrecision::Micros, "20260102-03:04:05.123456"),
            (TimePrecision::Nanos, "20260102-03:04:05.123456789"),
        ];
        for (precision, text) in expect {
            let n = format_utc_timestamp(&t, precision, &mut out);
            assert_eq!(&out[..n], text.as_bytes());
            assert!(parse_utc_timestamp(&out[..n]).is_some());
        }
    }

    #[test]
    fn dates_chars_bools_month_year() {
        assert_eq!(
            parse_utc_date_only(b"20261122"),
            NaiveDate::from_ymd_opt(2026, 11, 22)
        );
        assert_eq!(parse_utc_date_only(b"20260230"), None);
        assert_eq!(parse_utc_date_only(b"2026112"), None);
        assert_eq!(parse_char(b"1"), Some(b'1'));
        assert_eq!(parse_char(b"12"), None);
        assert_eq!(parse_char(b" "), None);
        assert_eq!(parse_bool(b"Y"), Some(true));
        assert_eq!(parse_bool(b"y"), None);
        for good in [&b"202612"[..], b"20261215", b"202612w3"] {
            assert!(is_month_year(good), "{good:?}");
        }
        for bad in [
            &b"202613"[..],
            b"2026",
            b"202612w9",
            b"2026121",
            b"20261232",
        ] {
            assert!(!is_month_year(bad), "{bad:?}");
        }
        assert_eq!(
            parse_utc_time_only(b"23:59:59.999"),
            NaiveTime::from_hms_milli_opt(23, 59, 59, 999)
        );
    }
}
