//! The trade log: sled tree `trades`, taken from the store's [`Db`], one [`TradeRecord`] per trade, keyed by its
//! match id (sequence number and rank, big-endian, so sled iterates in trade order).
//!
//! The journal is the source of truth. The gateway appends each released trade here after the journal batch that
//! produced it is durable, so after a crash the trade log may lag the journal (a missing tail) but must never hold a
//! trade the journal does not, or differ from it. [`TradeLog::checker`] is the start-up check that holds it to
//! that: it walks the log beside the journal replay, record by record, and appends the lagging tail.
//!
//! This module never decides what a trade is; it stores what it is given, checks it before it is written and
//! again after it is read, and refuses anything out of order. It never opens or locks the database itself
//! ([`crate::db`] does) and knows nothing of the session store.

use rust_decimal::Decimal;

use engine::Side;

use crate::db::{Db, OpenError, SESSION_ID_BYTES_MAX, WriteError};

/// The sled tree holding the trade log.
pub const TRADES_TREE: &str = "trades";
/// The version byte of every trade record this module writes: 2 carries each side's ExecID.
pub const TRADE_RECORD_VERSION: u8 = 2;
/// The first version, without ExecIDs: refused with [`TradeRecordError::OldVersion`], never guessed at.
pub const TRADE_RECORD_VERSION_NO_EXEC_IDS: u8 = 1;
/// Bytes of a key: match sequence number (u64) and rank (u32), big-endian.
pub const TRADE_KEY_BYTES: usize = 12;
/// Longest strings a trade record holds; a longer one is refused, never cut.
pub const CURRENCY_BYTES_MAX: usize = 16;
pub use fix::limits::{ACCOUNT_BYTES_MAX, CL_ORD_ID_BYTES_MAX, SYMBOL_BYTES_MAX};
/// The longest ExecID (the venue's are `<journal seq>.<n>`, at most 31 bytes).
pub const EXEC_ID_BYTES_MAX: usize = 64;
pub const SESSION_BYTES_MAX: usize = SESSION_ID_BYTES_MAX;
/// Most trades the start-up check holds before it writes them as one batch.
pub const CHECK_APPEND_BATCH_MAX: usize = 1024;

/// One party of a trade.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TradeSide {
    pub order_id: u64,
    pub account: String,
    pub session: String,
    pub cl_ord_id: String,
    /// The ExecID (17) of this side's fill report.
    pub exec_id: String,
}

/// One trade, in FIX terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TradeRecord {
    /// The sequence number of the command that caused the trade.
    pub match_seq: u64,
    /// The trade's rank among that command's trades.
    pub match_n: u32,
    /// The command's timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    pub symbol: String,
    pub price: Decimal,
    pub qty: Decimal,
    pub currency: String,
    pub aggressor: Side,
    pub buy: TradeSide,
    pub sell: TradeSide,
}

/// Why a trade record cannot be written, or what is wrong with one read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TradeRecordError {
    #[error("the key is {0} bytes, not {TRADE_KEY_BYTES}")]
    KeyLength(usize),
    #[error("unknown record version {0}")]
    Version(u8),
    #[error(
        "a trade record of format 1 (before each side's ExecID was kept); this venue reads format 2 only: move \
         the data dir's sled index (DATA_DIR/sessions) away and start the venue, which rebuilds the index and the \
         trade log from the session log and the journal"
    )]
    OldVersion,
    #[error("the record ends inside {0}")]
    Truncated(&'static str),
    #[error("{field} is {len} bytes, at most {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{0} is not UTF-8")]
    Utf8(&'static str),
    #[error("{0} is not a decimal (scale above 28 or mantissa beyond 96 bits)")]
    Decimal(&'static str),
    #[error("qty is not positive")]
    QtyNotPositive,
    #[error("aggressor byte {0:#04x} is neither '1' (buy) nor '2' (sell)")]
    Aggressor(u8),
    #[error("{0} bytes after the last field")]
    TrailingBytes(usize),
}

/// Errors of reading the trade log: sled's, or a stored record that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum TradeReadError {
    #[error("session store I/O")]
    Io(#[from] sled::Error),
    /// `match_id` is `None` when the key itself does not decode.
    #[error("session store is corrupt: trade log record {}", record_name(.match_id))]
    Corrupt {
        match_id: Option<(u64, u32)>,
        source: TradeRecordError,
    },
}

fn record_name(match_id: &Option<(u64, u32)>) -> String {
    match match_id {
        Some((seq, n)) => format!("{seq}-{n}"),
        None => "with a bad key".to_string(),
    }
}

/// Errors of [`TradeLog::append`].
#[derive(Debug, thiserror::Error)]
pub enum TradeAppendError {
    /// Reading the log's last trade, which the first appended one must follow.
    #[error(transparent)]
    Read(#[from] TradeReadError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("trade {match_seq}-{match_n} cannot be written: {source}")]
    Invalid {
        match_seq: u64,
        match_n: u32,
        source: TradeRecordError,
    },
    #[error("trade {match_seq}-{match_n} does not follow trade {after_seq}-{after_n}")]
    OutOfOrder {
        match_seq: u64,
        match_n: u32,
        after_seq: u64,
        after_n: u32,
    },
}

/// Errors of the start-up check ([`TradeCheck`]).
#[derive(Debug, thiserror::Error)]
pub enum TradeCheckError {
    /// Appending the lagging tail.
    #[error(transparent)]
    Append(#[from] TradeAppendError),
    #[error(transparent)]
    Read(#[from] TradeReadError),
    /// The flush at the end.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The replay itself is out of order.
    #[error("trade {match_seq}-{match_n} does not follow trade {after_seq}-{after_n}")]
    OutOfOrder {
        match_seq: u64,
        match_n: u32,
        after_seq: u64,
        after_n: u32,
    },
    #[error("trade {match_seq}-{match_n} in the trade log differs from the journal's in {field}")]
    Differs {
        match_seq: u64,
        match_n: u32,
        field: &'static str,
    },
    #[error(
        "the trade log lacks the journal's trade {match_seq}-{match_n} but holds the later trade {log_seq}-{log_n}"
    )]
    Missing {
        match_seq: u64,
        match_n: u32,
        log_seq: u64,
        log_n: u32,
    },
    #[error("trade log holds trades the journal does not, from trade {match_seq}-{match_n}")]
    Extra { match_seq: u64, match_n: u32 },
}

impl TradeRecord {
    /// The sled key: match sequence number and rank, big-endian.
    pub fn key(&self) -> [u8; TRADE_KEY_BYTES] {
        encode_key(self.match_seq, self.match_n)
    }

    /// Checks the bounds a stored record must keep.
    pub fn validate(&self) -> Result<(), TradeRecordError> {
        check_str("symbol", &self.symbol, SYMBOL_BYTES_MAX, false)?;
        check_str("currency", &self.currency, CURRENCY_BYTES_MAX, false)?;
        for (names, side) in [(BUY_NAMES, &self.buy), (SELL_NAMES, &self.sell)] {
            check_str(names[0], &side.account, ACCOUNT_BYTES_MAX, true)?;
            check_str(names[1], &side.session, SESSION_BYTES_MAX, true)?;
            check_str(names[2], &side.cl_ord_id, CL_ORD_ID_BYTES_MAX, true)?;
            check_str(names[3], &side.exec_id, EXEC_ID_BYTES_MAX, false)?;
        }
        if self.qty <= Decimal::ZERO {
            return Err(TradeRecordError::QtyNotPositive);
        }
        Ok(())
    }

    /// The record's value bytes (the key is [`TradeRecord::key`]); refuses a record out of bounds.
    pub fn encode(&self) -> Result<Vec<u8>, TradeRecordError> {
        self.validate()?;
        let mut out = Vec::with_capacity(96 + self.string_bytes());
        out.push(TRADE_RECORD_VERSION);
        out.extend_from_slice(&self.ts_ns.to_be_bytes());
        put_decimal(&mut out, self.price);
        put_decimal(&mut out, self.qty);
        out.push(side_byte(self.aggressor));
        out.extend_from_slice(&self.buy.order_id.to_be_bytes());
        out.extend_from_slice(&self.sell.order_id.to_be_bytes());
        for s in self.strings() {
            // Bounded by validate() to at most SESSION_BYTES_MAX (1024), so it fits a u16.
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Ok(out)
    }

    /// Strict decoding of a stored key and value: every field present, in bounds, nothing after the last.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<TradeRecord, TradeRecordError> {
        let (match_seq, match_n) = decode_key(key)?;
        let mut r = Reader(value);
        let version = r.take(1, "version")?[0];
        if version == TRADE_RECORD_VERSION_NO_EXEC_IDS {
            return Err(TradeRecordError::OldVersion);
        }
        if version != TRADE_RECORD_VERSION {
            return Err(TradeRecordError::Version(version));
        }
        let ts_ns = i64::from_be_bytes(r.array("ts_ns")?);
        let price = r.decimal("price")?;
        let qty = r.decimal("qty")?;
        let aggressor = match r.take(1, "aggressor")?[0] {
            b'1' => Side::Buy,
            b'2' => Side::Sell,
            other => return Err(TradeRecordError::Aggressor(other)),
        };
        let buy_order_id = u64::from_be_bytes(r.array("buy.order_id")?);
        let sell_order_id = u64::from_be_bytes(r.array("sell.order_id")?);
        let mut strings = STRING_FIELDS.map(|_| String::new());
        for (slot, (field, max)) in strings.iter_mut().zip(STRING_FIELDS) {
            *slot = r.string(field, max)?;
        }
        if !r.0.is_empty() {
            return Err(TradeRecordError::TrailingBytes(r.0.len()));
        }
        let [
            symbol,
            currency,
            buy_account,
            buy_session,
            buy_cl,
            buy_exec,
            sell_account,
            sell_session,
            sell_cl,
            sell_exec,
        ] = strings;
        let record = TradeRecord {
            match_seq,
            match_n,
            ts_ns,
            symbol,
            price,
            qty,
            currency,
            aggressor,
            buy: TradeSide {
                order_id: buy_order_id,
                account: buy_account,
                session: buy_session,
                cl_ord_id: buy_cl,
                exec_id: buy_exec,
            },
            sell: TradeSide {
                order_id: sell_order_id,
                account: sell_account,
                session: sell_session,
                cl_ord_id: sell_cl,
                exec_id: sell_exec,
            },
        };
        record.validate()?;
        Ok(record)
    }

    /// The first field (in declaration order) in which two records differ, `None` if they are the same. Decimals
    /// differ when their values or their scales do (`1.0` is not `1.00`: the log keeps what it was given).
    pub fn first_difference(&self, other: &TradeRecord) -> Option<&'static str> {
        let same_decimal = |a: Decimal, b: Decimal| a == b && a.scale() == b.scale();
        let checks: [(&'static str, bool); 18] = [
            ("match_seq", self.match_seq == other.match_seq),
            ("match_n", self.match_n == other.match_n),
            ("ts_ns", self.ts_ns == other.ts_ns),
            ("symbol", self.symbol == other.symbol),
            ("price", same_decimal(self.price, other.price)),
            ("qty", same_decimal(self.qty, other.qty)),
            ("currency", self.currency == other.currency),
            ("aggressor", self.aggressor == other.aggressor),
            ("buy.order_id", self.buy.order_id == other.buy.order_id),
            ("buy.account", self.buy.account == other.buy.account),
            ("buy.session", self.buy.session == other.buy.session),
            ("buy.cl_ord_id", self.buy.cl_ord_id == other.buy.cl_ord_id),
            ("buy.exec_id", self.buy.exec_id == other.buy.exec_id),
            ("sell.order_id", self.sell.order_id == other.sell.order_id),
            ("sell.account", self.sell.account == other.sell.account),
            ("sell.session", self.sell.session == other.sell.session),
            (
                "sell.cl_ord_id",
                self.sell.cl_ord_id == other.sell.cl_ord_id,
            ),
            ("sell.exec_id", self.sell.exec_id == other.sell.exec_id),
        ];
        checks
            .iter()
            .find(|(_, same)| !same)
            .map(|(field, _)| *field)
    }

    fn strings(&self) -> [&str; 10] {
        [
            &self.symbol,
            &self.currency,
            &self.buy.account,
            &self.buy.session,
            &self.buy.cl_ord_id,
            &self.buy.exec_id,
            &self.sell.account,
            &self.sell.session,
            &self.sell.cl_ord_id,
            &self.sell.exec_id,
        ]
    }

    fn string_bytes(&self) -> usize {
        self.strings().iter().map(|s| 2 + s.len()).sum()
    }

    fn invalid(&self, source: TradeRecordError) -> TradeAppendError {
        TradeAppendError::Invalid {
            match_seq: self.match_seq,
            match_n: self.match_n,
            source,
        }
    }
}

const BUY_NAMES: [&str; 4] = ["buy.account", "buy.session", "buy.cl_ord_id", "buy.exec_id"];
const SELL_NAMES: [&str; 4] = [
    "sell.account",
    "sell.session",
    "sell.cl_ord_id",
    "sell.exec_id",
];
/// The string fields in the order they are stored, with their bounds.
const STRING_FIELDS: [(&str, usize); 10] = [
    ("symbol", SYMBOL_BYTES_MAX),
    ("currency", CURRENCY_BYTES_MAX),
    ("buy.account", ACCOUNT_BYTES_MAX),
    ("buy.session", SESSION_BYTES_MAX),
    ("buy.cl_ord_id", CL_ORD_ID_BYTES_MAX),
    ("buy.exec_id", EXEC_ID_BYTES_MAX),
    ("sell.account", ACCOUNT_BYTES_MAX),
    ("sell.session", SESSION_BYTES_MAX),
    ("sell.cl_ord_id", CL_ORD_ID_BYTES_MAX),
    ("sell.exec_id", EXEC_ID_BYTES_MAX),
];

fn check_str(
    field: &'static str,
    s: &str,
    max: usize,
    empty_ok: bool,
) -> Result<(), TradeRecordError> {
    if s.len() > max {
        return Err(TradeRecordError::TooLong {
            field,
            len: s.len(),
            max,
        });
    }
    if s.is_empty() && !empty_ok {
        return Err(TradeRecordError::Empty(field));
    }
    Ok(())
}

fn side_byte(side: Side) -> u8 {
    match side {
        Side::Buy => b'1',
        Side::Sell => b'2',
    }
}

/// A decimal as its 96-bit mantissa (i128, big-endian) and its scale, so that decoding can check both.
fn put_decimal(out: &mut Vec<u8>, d: Decimal) {
    out.extend_from_slice(&d.mantissa().to_be_bytes());
    // A Decimal's scale is at most 28.
    out.push(d.scale() as u8);
}

fn encode_key(match_seq: u64, match_n: u32) -> [u8; TRADE_KEY_BYTES] {
    let mut key = [0u8; TRADE_KEY_BYTES];
    key[..8].copy_from_slice(&match_seq.to_be_bytes());
    key[8..].copy_from_slice(&match_n.to_be_bytes());
    key
}

fn decode_key(key: &[u8]) -> Result<(u64, u32), TradeRecordError> {
    let key: [u8; TRADE_KEY_BYTES] = key
        .try_into()
        .map_err(|_| TradeRecordError::KeyLength(key.len()))?;
    let (seq, n) = key.split_at(8);
    Ok((
        u64::from_be_bytes(seq.try_into().expect("8 bytes")),
        u32::from_be_bytes(n.try_into().expect("4 bytes")),
    ))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], TradeRecordError> {
        if self.0.len() < n {
            return Err(TradeRecordError::Truncated(field));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], TradeRecordError> {
        Ok(self.take(N, field)?.try_into().expect("N bytes"))
    }

    fn decimal(&mut self, field: &'static str) -> Result<Decimal, TradeRecordError> {
        let mantissa = i128::from_be_bytes(self.array(field)?);
        let scale = self.take(1, field)?[0];
        Decimal::try_from_i128_with_scale(mantissa, u32::from(scale))
            .map_err(|_| TradeRecordError::Decimal(field))
    }

    fn string(&mut self, field: &'static str, max: usize) -> Result<String, TradeRecordError> {
        let len = usize::from(u16::from_be_bytes(self.array(field)?));
        if len > max {
            return Err(TradeRecordError::TooLong { field, len, max });
        }
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| TradeRecordError::Utf8(field))
    }
}

/// Decodes one stored entry; a bad one is a corrupt store, named by its match id when the key is readable.
fn decode_entry(key: &[u8], value: &[u8]) -> Result<TradeRecord, TradeReadError> {
    TradeRecord::decode(key, value).map_err(|source| TradeReadError::Corrupt {
        match_id: decode_key(key).ok(),
        source,
    })
}

/// The trade log. Cheap to clone (sled handles).
#[derive(Clone)]
pub struct TradeLog {
    db: Db,
    tree: sled::Tree,
}

impl TradeLog {
    /// Opens (or creates) the trade log's tree in `db`.
    pub fn open(db: &Db) -> Result<TradeLog, OpenError> {
        Ok(TradeLog {
            db: db.clone(),
            tree: db.open_tree(TRADES_TREE)?,
        })
    }

    /// Appends trades in one sled batch. Each must follow the one before it (and the log's last trade) in match
    /// id order, and keep the record bounds; otherwise nothing is written. Does not flush: call [`Self::flush`].
    pub fn append(&self, trades: &[TradeRecord]) -> Result<(), TradeAppendError> {
        if trades.is_empty() {
            return Ok(());
        }
        let mut previous = self.last()?;
        let mut batch = sled::Batch::default();
        for trade in trades {
            let id = (trade.match_seq, trade.match_n);
            if let Some((after_seq, after_n)) = previous.filter(|p| *p >= id) {
                return Err(TradeAppendError::OutOfOrder {
                    match_seq: id.0,
                    match_n: id.1,
                    after_seq,
                    after_n,
                });
            }
            let value = trade.encode().map_err(|e| trade.invalid(e))?;
            // Check after encoding too: what is written must read back as the same trade.
            let back = TradeRecord::decode(&trade.key(), &value).map_err(|e| trade.invalid(e))?;
            assert!(
                back.first_difference(trade).is_none(),
                "trade record encoding does not round-trip"
            );
            batch.insert(&trade.key(), value);
            previous = Some(id);
        }
        self.tree.apply_batch(batch).map_err(WriteError::from)?;
        Ok(())
    }

    /// Makes appended trades durable as far as sled's `flush()` goes (see the session store's module doc).
    pub fn flush(&self) -> Result<(), WriteError> {
        self.db.flush()
    }

    /// The match id of the last trade in the log.
    pub fn last(&self) -> Result<Option<(u64, u32)>, TradeReadError> {
        match self.tree.last()? {
            None => Ok(None),
            Some((key, _)) => {
                decode_key(&key)
                    .map(Some)
                    .map_err(|source| TradeReadError::Corrupt {
                        match_id: None,
                        source,
                    })
            }
        }
    }

    /// The trades whose match sequence number is at least `match_seq`, in order, one at a time.
    pub fn iter_from(
        &self,
        match_seq: u64,
    ) -> impl Iterator<Item = Result<TradeRecord, TradeReadError>> + use<> {
        self.tree.range(encode_key(match_seq, 0)..).map(|item| {
            let (key, value) = item?;
            decode_entry(&key, &value)
        })
    }

    /// How many trades the log holds. It walks the whole tree (sled keeps no count).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The start-up check: feed it the journal replay's trades in order, then call [`TradeCheck::finish`].
    pub fn checker(&self) -> TradeCheck {
        TradeCheck {
            log: self.clone(),
            stored: Some(self.tree.iter()),
            previous: None,
            pending: Vec::new(),
            report: TradeCheckReport::default(),
        }
    }
}

/// What the start-up check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TradeCheckReport {
    /// Replayed trades found in the log, field for field.
    pub checked: u64,
    /// Replayed trades the log lacked at its end, appended by the check.
    pub appended: u64,
}

/// The streaming start-up check of the trade log against the journal replay. It holds one sled iterator and at
/// most [`CHECK_APPEND_BATCH_MAX`] trades, however long the log.
pub struct TradeCheck {
    log: TradeLog,
    /// The log's records not yet compared; `None` once the log is exhausted (what follows is the lagging tail).
    stored: Option<sled::Iter>,
    previous: Option<(u64, u32)>,
    pending: Vec<TradeRecord>,
    report: TradeCheckReport,
}

impl TradeCheck {
    /// Checks the journal replay's next trade against the log's next record, or queues it for appending once the
    /// log is exhausted.
    pub fn next(&mut self, replayed: &TradeRecord) -> Result<(), TradeCheckError> {
        let id = (replayed.match_seq, replayed.match_n);
        if let Some((after_seq, after_n)) = self.previous.filter(|p| *p >= id) {
            return Err(TradeCheckError::OutOfOrder {
                match_seq: id.0,
                match_n: id.1,
                after_seq,
                after_n,
            });
        }
        self.previous = Some(id);
        match self.next_stored()? {
            Some(stored) => {
                compare(replayed, &stored)?;
                self.report.checked += 1;
                Ok(())
            }
            None => Ok(self.queue(replayed)?),
        }
    }

    /// Appends what is still queued and flushes; refuses a log that holds trades the replay did not produce.
    pub fn finish(mut self) -> Result<TradeCheckReport, TradeCheckError> {
        if let Some(extra) = self.next_stored()? {
            return Err(TradeCheckError::Extra {
                match_seq: extra.match_seq,
                match_n: extra.match_n,
            });
        }
        self.write_pending()?;
        self.log.flush()?;
        Ok(self.report)
    }

    fn next_stored(&mut self) -> Result<Option<TradeRecord>, TradeReadError> {
        let Some(iter) = &mut self.stored else {
            return Ok(None);
        };
        match iter.next() {
            Some(item) => {
                let (key, value) = item?;
                Ok(Some(decode_entry(&key, &value)?))
            }
            None => {
                self.stored = None;
                Ok(None)
            }
        }
    }

    fn queue(&mut self, replayed: &TradeRecord) -> Result<(), TradeAppendError> {
        self.pending.push(replayed.clone());
        if self.pending.len() >= CHECK_APPEND_BATCH_MAX {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), TradeAppendError> {
        self.log.append(&self.pending)?;
        self.report.appended += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

fn compare(replayed: &TradeRecord, stored: &TradeRecord) -> Result<(), TradeCheckError> {
    let journal = (replayed.match_seq, replayed.match_n);
    let log = (stored.match_seq, stored.match_n);
    if log < journal {
        return Err(TradeCheckError::Extra {
            match_seq: log.0,
            match_n: log.1,
        });
    }
    if log > journal {
        return Err(TradeCheckError::Missing {
            match_seq: journal.0,
            match_n: journal.1,
            log_seq: log.0,
            log_n: log.1,
        });
    }
    match stored.first_difference(replayed) {
        None => Ok(()),
        Some(field) => Err(TradeCheckError::Differs {
            match_seq: journal.0,
            match_n: journal.1,
            field,
        }),
    }
}

#[cfg(test)]
mod tests;
