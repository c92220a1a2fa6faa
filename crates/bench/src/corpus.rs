//! The order-book corpus (`book_ops_1m.csv`): `op,order_id,side,price,qty` rows read with the csv crate into
//! typed [`Row`]s. Errors name the file, the line and the line's text, and the column at fault.
//!
//! `A` adds a limit order, `C` cancels the add with the same order_id, `M` is a market order; prices are ticks of
//! 0.01 around 100.00, quantities lots.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// The header every corpus file starts with.
pub const HEADER: &str = "op,order_id,side,price,qty";
/// The largest corpus file read.
pub const CORPUS_BYTES_MAX: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `A`
    Add,
    /// `C`
    Cancel,
    /// `M`
    Market,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `B`
    Buy,
    /// `S`
    Sell,
}

// By hand rather than derived: serde's unknown-variant error does not say which column it is about.
impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        match <&str>::deserialize(d)? {
            "A" => Ok(Op::Add),
            "C" => Ok(Op::Cancel),
            "M" => Ok(Op::Market),
            other => Err(D::Error::custom(format!("op {other:?} is not A, C or M"))),
        }
    }
}

impl<'de> Deserialize<'de> for Side {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Side, D::Error> {
        match <&str>::deserialize(d)? {
            "B" => Ok(Side::Buy),
            "S" => Ok(Side::Sell),
            other => Err(D::Error::custom(format!(
                "side {other:?} is neither B nor S"
            ))),
        }
    }
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Row {
    pub op: Op,
    pub order_id: u64,
    pub side: Side,
    pub price: i64,
    pub qty: i64,
}

/// The rows of one corpus file, in order, each with its line number.
pub struct Rows {
    reader: csv::Reader<std::io::Take<File>>,
    headers: csv::StringRecord,
    record: csv::StringRecord,
    path: String,
}

impl Rows {
    /// Opens a corpus file and checks its header.
    pub fn open(path: &Path) -> anyhow::Result<Rows> {
        let name = path.display().to_string();
        let file = File::open(path).with_context(|| format!("cannot open the corpus {name}"))?;
        let size = file
            .metadata()
            .with_context(|| format!("reading {name}"))?
            .len();
        if size > CORPUS_BYTES_MAX {
            bail!("{name}: {size} bytes, more than the {CORPUS_BYTES_MAX} accepted");
        }
        // Rows of another length are reported by `next` with their line, not by the csv reader.
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(file.take(CORPUS_BYTES_MAX));
        let headers = reader
            .headers()
            .with_context(|| format!("{name}:1"))?
            .clone();
        let found = headers.iter().collect::<Vec<_>>().join(",");
        if found != HEADER {
            bail!("{name}:1: header must be {HEADER}, found {found:?}");
        }
        Ok(Rows {
            reader,
            headers,
            record: csv::StringRecord::new(),
            path: name,
        })
    }

    /// The next row and its line number; `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<anyhow::Result<(u64, Row)>> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => Some(self.row()),
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                Some(Err(
                    anyhow::Error::new(e).context(format!("{}:{line}", self.path))
                ))
            }
        }
    }

    fn row(&self) -> anyhow::Result<(u64, Row)> {
        let line = self.record.position().map_or(0, csv::Position::line);
        let text = self.record.iter().collect::<Vec<_>>().join(",");
        let at = || format!("{}:{line}: {text:?}", self.path);
        if self.record.len() != self.headers.len() {
            return Err(anyhow::anyhow!("expected {} fields", self.headers.len()).context(at()));
        }
        let row = self
            .record
            .deserialize::<Row>(Some(&self.headers))
            .map_err(|e| match e.kind() {
                // Name the column: the csv error gives only its index.
                csv::ErrorKind::Deserialize { err, .. } => {
                    match err
                        .field()
                        .and_then(|i| self.headers.get(usize::try_from(i).ok()?))
                    {
                        Some(column) => anyhow::anyhow!("{column}: {}", err.kind()),
                        None => anyhow::anyhow!("{}", err.kind()),
                    }
                }
                _ => anyhow::Error::new(e),
            })
            .with_context(at)?;
        Ok((line, row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> anyhow::Result<Vec<(u64, Row)>> {
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), text)?;
        let mut rows = Rows::open(file.path())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next_row() {
            out.push(row?);
        }
        Ok(out)
    }

    #[test]
    fn rows_are_typed_with_their_lines() {
        let read =
            rows("op,order_id,side,price,qty\nA,7,B,10012,5\nC,7,S,0,0\nM,8,S,0,2\n").unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(
            read[0],
            (
                2,
                Row {
                    op: Op::Add,
                    order_id: 7,
                    side: Side::Buy,
                    price: 10012,
                    qty: 5
                }
            )
        );
        assert_eq!(read[2].0, 4);
        assert_eq!(read[2].1.op, Op::Market);
    }

    #[test]
    fn errors_name_the_line_its_text_and_the_column() {
        for (text, message) in [
            ("op,id\n", ":1: header must be op,order_id,side,price,qty"),
            (
                "op,order_id,side,price,qty\nX,1,B,100,5\n",
                ":2: \"X,1,B,100,5\": op \"X\"",
            ),
            (
                "op,order_id,side,price,qty\nA,1,Q,100,5\n",
                ":2: \"A,1,Q,100,5\": side \"Q\"",
            ),
            ("op,order_id,side,price,qty\nA,1,B,1x0,5\n", "price: "),
            (
                "op,order_id,side,price,qty\nA,1,B,1,5\nA,1,B,100\n",
                ":3: \"A,1,B,100\": expected 5 fields",
            ),
        ] {
            let error = format!("{:#}", rows(text).expect_err(text));
            assert!(error.contains(message), "{text:?}: {error}");
        }
    }
}
