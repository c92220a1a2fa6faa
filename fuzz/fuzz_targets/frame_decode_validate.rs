//! Arbitrary bytes, as a socket would deliver them, through framing, decoding and validation against the venue's
//! dictionary. The property: nothing panics, nothing reads out of bounds, every byte is accounted for.

#![no_main]

use std::sync::OnceLock;

use fix::{Dictionary, process_untrusted};
use libfuzzer_sys::fuzz_target;

fn dict() -> &'static Dictionary {
    static DICT: OnceLock<Dictionary> = OnceLock::new();
    DICT.get_or_init(|| Dictionary::fix44().expect("the embedded dictionary loads"))
}

fuzz_target!(|data: &[u8]| {
    process_untrusted(dict(), data);
});
