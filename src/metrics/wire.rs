//! Reading the few fields the metrics need from a FIX frame without decoding it: MsgType and one tag's value.
//! Frames here were framed (BodyLength and CheckSum checked) or built by the venue.

use fix::frame::SOH;

/// The message types counted by name; anything else is counted as `other`.
pub const MSG_TYPES: [&str; 18] = [
    "0", "1", "2", "3", "4", "5", "A", "D", "F", "G", "H", "8", "9", "j", "q", "r", "AF", "other",
];

/// MsgType (35): the third field of a framed message; empty if it is not there.
pub fn msg_type(frame: &[u8]) -> &[u8] {
    let head = &frame[..frame.len().min(40)];
    match memchr::memmem::find(head, b"\x0135=") {
        Some(at) => {
            let value = &frame[at + 4..];
            let end = memchr::memchr(SOH, value).unwrap_or(value.len());
            &value[..end]
        }
        None => b"",
    }
}

/// The index of a MsgType in [`MSG_TYPES`].
pub fn type_slot(msg_type: &[u8]) -> usize {
    MSG_TYPES
        .iter()
        .position(|t| t.as_bytes() == msg_type)
        .unwrap_or(MSG_TYPES.len() - 1)
}

/// The value of the first `tag` field (digits, without `=`), if any.
pub fn field<'a>(frame: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    let mut needle = Vec::with_capacity(tag.len() + 2);
    needle.push(SOH);
    needle.extend_from_slice(tag);
    needle.push(b'=');
    let at = memchr::memmem::find(frame, &needle)?;
    let value = &frame[at + needle.len()..];
    let end = memchr::memchr(SOH, value)?;
    Some(&value[..end])
}

/// A field's value as a small number (reject codes).
pub fn code(frame: &[u8], tag: &[u8]) -> Option<u32> {
    std::str::from_utf8(field(frame, tag)?).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_type_and_fields() {
        let m = b"8=FIX.4.4\x019=20\x0135=AF\x0111=abc\x01103=5\x0110=000\x01";
        assert_eq!(msg_type(m), b"AF");
        assert_eq!(type_slot(msg_type(m)), 16);
        assert_eq!(type_slot(b"ZZ"), MSG_TYPES.len() - 1);
        assert_eq!(field(m, b"11"), Some(&b"abc"[..]));
        assert_eq!(field(m, b"1"), None);
        assert_eq!(code(m, b"103"), Some(5));
        assert_eq!(msg_type(b"garbage"), b"");
    }
}
