//! A session's identity, shared by its sender and reader: its CompIDs, the instrument, and the ClOrdIDs of this
//! run.

use std::io::Write as _;

use rust_decimal::Decimal;

/// What a session knows of its own identity, shared by its sender and reader.
pub(super) struct Ids {
    pub(super) sender: String,
    pub(super) target: String,
    /// Prefix of every ClOrdID of this run (`<run>-<index>`), so that answers to an earlier run are not taken
    /// for answers to this one.
    pub(super) run: String,
    pub(super) symbol: String,
    pub(super) tick: Decimal,
    pub(super) lot: Decimal,
}

impl Ids {
    pub(super) fn cl_ord_id(&self, index: u64, out: &mut [u8; 40]) -> usize {
        let mut w = &mut out[..];
        let _ = write!(w, "{}-{index}", self.run);
        40 - w.len()
    }

    pub(super) fn index_of(&self, cl_ord_id: &[u8]) -> Option<u64> {
        let rest = cl_ord_id.strip_prefix(self.run.as_bytes())?;
        let digits = rest.strip_prefix(b"-")?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }
}
