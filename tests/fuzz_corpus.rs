//! Replays the fuzz target's seed corpus (fuzz/corpus/frame_decode_validate) as an ordinary test. Every file must
//! go through framing, decoding and validation without a panic; the hand-written seeds, named by what they are,
//! must also come out as their name says.

use std::path::Path;

use fix::{Dictionary, Processed, process_untrusted};

fn expectation(name: &str, got: &Processed) -> Result<(), String> {
    let ok = match name.split('_').next().unwrap_or("") {
        "valid" => {
            got.valid >= 1 && got.rejected + got.unsupported + got.undecodable + got.garbled == 0
        }
        "reject" => got.rejected == 1 && got.valid == 0,
        "unsupported" => got.unsupported == 1 && got.valid == 0,
        "garbled" => got.garbled >= 1 && got.valid >= 1,
        "too" => got.garbled == 1 && got.valid == 0,
        // Files the fuzzer added are named by their hash: not panicking is the property.
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{name}: {got:?}"))
    }
}

#[test]
fn seed_corpus_replays() {
    let dict = Dictionary::fix44().expect("dictionary loads");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frame_decode_validate");
    let mut seen = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("seed corpus directory exists") {
        let path = entry.expect("readable entry").path();
        let bytes = std::fs::read(&path).expect("readable seed");
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Err(e) = expectation(&name, &process_untrusted(&dict, &bytes)) {
            failures.push(e);
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} seeds in {}", dir.display());
    assert!(failures.is_empty(), "{failures:#?}");
}
