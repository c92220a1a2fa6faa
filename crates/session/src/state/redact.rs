//! Credentials out of logs.

use fix::tags;

/// Replaces the values of Password (554), NewPassword (925) and RawData (96) so that logs never hold them.
pub fn redact(frame: &[u8]) -> Vec<u8> {
    use fix::frame::SOH;
    const REDACTED: [u32; 2] = [tags::PASSWORD, 925];
    const RAW_DATA_LENGTH: u32 = 95;
    const RAW_DATA: u32 = 96;
    let mut out = Vec::with_capacity(frame.len());
    let mut rest = frame;
    let mut raw_len: Option<usize> = None;
    while !rest.is_empty() {
        let eq = rest.iter().position(|&b| b == b'=');
        let tag = eq.and_then(|eq| std::str::from_utf8(&rest[..eq]).ok()?.parse::<u32>().ok());
        let value_start = eq.map_or(0, |eq| eq + 1);
        let soh_end = |from: usize| {
            rest[from..]
                .iter()
                .position(|&b| b == SOH)
                .map_or(rest.len(), |p| from + p + 1)
        };
        let end = match (tag, raw_len) {
            (Some(RAW_DATA), Some(n)) if value_start + n < rest.len() => soh_end(value_start + n),
            _ => soh_end(value_start),
        };
        match tag {
            Some(t) if REDACTED.contains(&t) || t == RAW_DATA => {
                out.extend_from_slice(&rest[..value_start]);
                out.extend_from_slice(b"***");
                if rest[..end].last() == Some(&SOH) {
                    out.push(SOH);
                }
            }
            _ => out.extend_from_slice(&rest[..end]),
        }
        raw_len = match tag {
            Some(RAW_DATA_LENGTH) => {
                std::str::from_utf8(&rest[value_start..end.saturating_sub(1).max(value_start)])
                    .ok()
                    .and_then(|v| v.parse().ok())
            }
            _ => None,
        };
        rest = &rest[end..];
    }
    out
}
