//! `fixvenue bench codec`: the per-message work of ../shared/corpus/README.md on fix44_mix.txt.
//!
//! The corpus messages are laid back to back in one buffer, as a socket read buffer would hold them. Per message:
//! frame it (BodyLength and CheckSum verified), decode it into the field index, read MsgType and reach the fields a
//! venue needs, parsed to their types (D: 11, 55, 54, 38, 44; 8: 37, 17, 150, 39, 151; X: 270 and 271 of every
//! entry). The validated figure adds full dictionary validation. Each figure is the median of `runs` timed runs.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail, ensure};

use fix::decode::{FieldError, Message};
use fix::dictionary::{Dictionary, GroupDef};
use fix::frame::{self, FrameConfig, Framed};
use fix::{Decoder, Validator, tags};

/// The default corpus: the first 500 messages of the shared fix44_mix.txt, shipped in the repository so that the
/// benchmark runs from a fresh clone (and from any directory); `--corpus` takes the full one.
pub const CORPUS_EXCERPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/fix44_mix_500.txt");

/// By default each timed run passes over the corpus this many times, so that a run lasts tens of milliseconds.
pub const PASSES_PER_RUN_DEFAULT: u32 = 20;

/// Loads the corpus: one message per line, each line ending with the SOH of `10=NNN`.
pub fn load_corpus(path: &Path) -> anyhow::Result<(Vec<u8>, usize)> {
    let text = std::fs::read(path).with_context(|| format!("reading corpus {}", path.display()))?;
    let mut buf = Vec::with_capacity(text.len());
    let mut count = 0;
    for (i, line) in text
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        ensure!(
            line.ends_with(&[frame::SOH]),
            "corpus line {}: does not end with SOH",
            i + 1
        );
        buf.extend_from_slice(line);
        count += 1;
    }
    ensure!(count > 0, "corpus {} holds no messages", path.display());
    Ok((buf, count))
}

/// What one pass over the buffer read, so that the work cannot be optimised away and can be checked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    messages: usize,
    value_bytes: usize,
    md_entries: usize,
}

struct Workload<'d> {
    dict: &'d Dictionary,
    md_entries: &'d GroupDef,
    decoder: Decoder,
    validator: Validator,
    config: FrameConfig,
}

impl<'d> Workload<'d> {
    fn new(dict: &'d Dictionary) -> anyhow::Result<Self> {
        let x = dict
            .message(tags::msg_type::MARKET_DATA_INCREMENTAL_REFRESH)
            .context("dictionary has no X")?;
        let md_entries = x
            .body
            .group(tags::NO_MD_ENTRIES)
            .context("X has no NoMDEntries group")?;
        Ok(Workload {
            dict,
            md_entries,
            decoder: Decoder::new(),
            validator: Validator::default(),
            config: FrameConfig::default(),
        })
    }

    fn pass(&mut self, buf: &[u8], validate: bool) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let mut at = 0;
        while at < buf.len() {
            let len = match frame::check(&buf[at..], &self.config) {
                Framed::Complete { len } => len,
                other => bail!("corpus byte {at}: {other:?}"),
            };
            let msg = self
                .decoder
                .decode(self.dict, &buf[at..at + len])
                .map_err(|e| anyhow::anyhow!("byte {at}: {e}"))?;
            if validate {
                if let Err(invalid) = self.validator.validate(self.dict, &msg) {
                    bail!("corpus byte {at}: {invalid:?}");
                }
            }
            reach_fields(&msg, self.md_entries, &mut tally)
                .map_err(|e| anyhow::anyhow!("byte {at}: {e}"))?;
            tally.messages += 1;
            at += len;
        }
        Ok(tally)
    }
}

fn reach_fields(msg: &Message, md_entries: &GroupDef, tally: &mut Tally) -> Result<(), FieldError> {
    match msg.msg_type() {
        b"D" => {
            tally.value_bytes +=
                msg.field(tags::CL_ORD_ID)?.bytes.len() + msg.field(tags::SYMBOL)?.bytes.len();
            black_box(msg.field(tags::SIDE)?.as_char()?);
            black_box(msg.field(tags::ORDER_QTY)?.as_decimal()?);
            black_box(msg.field(tags::PRICE)?.as_decimal()?);
        }
        b"8" => {
            tally.value_bytes +=
                msg.field(tags::ORDER_ID)?.bytes.len() + msg.field(tags::EXEC_ID)?.bytes.len();
            black_box(msg.field(tags::EXEC_TYPE)?.as_char()?);
            black_box(msg.field(tags::ORD_STATUS)?.as_char()?);
            black_box(msg.field(tags::LEAVES_QTY)?.as_decimal()?);
        }
        b"X" => {
            for entry in msg.group(md_entries).entries() {
                black_box(entry.field(tags::MD_ENTRY_PX)?.as_decimal()?);
                black_box(entry.field(tags::MD_ENTRY_SIZE)?.as_decimal()?);
                tally.md_entries += 1;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Median nanoseconds per message over `runs` timed runs, without and with validation. The two kinds of run
/// alternate, so that a noisy neighbour slows both alike and their ratio stays meaningful.
fn measure(
    work: &mut Workload,
    buf: &[u8],
    count: usize,
    runs: u32,
    passes: u32,
) -> anyhow::Result<(f64, f64)> {
    // One untimed pass of each kind checks the corpus and warms the caches.
    for validate in [false, true] {
        let tally = work.pass(buf, validate)?;
        ensure!(
            tally.messages == count,
            "framed {} messages, the corpus has {count}",
            tally.messages
        );
    }
    let mut plain_ns = Vec::with_capacity(runs as usize);
    let mut validated_ns = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        for (validate, out) in [(false, &mut plain_ns), (true, &mut validated_ns)] {
            let started = Instant::now();
            for _ in 0..passes {
                black_box(work.pass(black_box(buf), validate)?);
            }
            out.push(started.elapsed().as_nanos() as f64 / (count * passes as usize) as f64);
        }
    }
    Ok((median(&mut plain_ns), median(&mut validated_ns)))
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Runs the benchmark and prints the figures and the `RESULT` line.
pub fn run(corpus: &Path, runs: u32, passes: u32) -> anyhow::Result<()> {
    ensure!(runs >= 5, "--runs must be at least 5");
    ensure!(passes >= 1, "--passes must be at least 1");
    let dict = Dictionary::fix44()?;
    let (buf, count) = load_corpus(corpus)?;
    let mut work = Workload::new(&dict)?;
    let (ns_per_msg, ns_per_msg_validated) = measure(&mut work, &buf, count, runs, passes)?;
    println!(
        "corpus {}: {count} messages, {} bytes, {runs} runs of {passes} passes each, medians",
        corpus.display(),
        buf.len()
    );
    println!(
        "RESULT suite=fix peer=fixvenue ns_per_msg={ns_per_msg:.0} ns_per_msg_validated={ns_per_msg_validated:.0}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_every_field_of_a_small_corpus() {
        let dict = Dictionary::fix44().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mini.txt");
        let md = fix::frame::from_text(
            "35=X|49=V|56=C|34=2|52=20261120-09:30:00.007|262=MD1|268=2|279=1|269=1|278=M1|55=EURUSD|270=198.65|271=3500|279=0|269=0|278=M2|55=EURUSD|270=198.60|271=3100|",
        );
        let nos = fix::frame::from_text(
            "35=D|49=C|56=V|34=1|52=20261120-09:30:00.004|11=C1|1=ACC257|55=ESZ6|54=2|60=20261120-09:30:00.004|38=10|40=2|44=271.01|59=0|",
        );
        let mut file = md.clone();
        file.push(b'\n');
        file.extend_from_slice(&nos);
        file.push(b'\n');
        std::fs::write(&path, &file).unwrap();
        let (buf, count) = load_corpus(&path).unwrap();
        assert_eq!(count, 2);
        let mut work = Workload::new(&dict).unwrap();
        for validate in [false, true] {
            let tally = work.pass(&buf, validate).unwrap();
            assert_eq!(
                tally,
                Tally {
                    messages: 2,
                    value_bytes: 6,
                    md_entries: 2
                }
            );
        }
    }

    #[test]
    fn the_shipped_excerpt_is_the_default_and_reads_cleanly() {
        let (buf, count) = load_corpus(Path::new(CORPUS_EXCERPT)).unwrap();
        assert_eq!(count, 500);
        let dict = Dictionary::fix44().unwrap();
        let tally = Workload::new(&dict).unwrap().pass(&buf, true).unwrap();
        assert_eq!(tally.messages, 500);
    }

    #[test]
    fn a_bad_corpus_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        std::fs::write(&path, b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01\n").unwrap();
        let dict = Dictionary::fix44().unwrap();
        let (buf, _) = load_corpus(&path).unwrap();
        assert!(Workload::new(&dict).unwrap().pass(&buf, false).is_err());
        std::fs::write(&path, b"no soh at the end\n").unwrap();
        assert!(load_corpus(&path).is_err());
        assert!(load_corpus(&dir.path().join("missing.txt")).is_err());
    }
}
