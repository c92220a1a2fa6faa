//! A market-data client's book, as a feed handler keeps it: a MarketDataSnapshotFullRefresh (W) replaces an
//! instrument's view, then every MarketDataIncrementalRefresh (X) entry is applied in order. Price levels are
//! keyed by price (an aggregated view), orders by MDEntryPositionNo (an order-by-order view, entries with
//! OrderID). Any entry that does not fit (a level or order that is not there, a position past the end, a RptSeq
//! that is not the last one or the next) is an error: one wrong increment and the book is wrong.
//!
//! It trusts nothing: tests compare its book with the venue's.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::msg::Msg;

/// One row of a side: a price level (`orders` = NumberOfOrders) or an order (`order_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub price: Decimal,
    pub size: Decimal,
    pub orders: Option<u64>,
    pub order_id: Option<String>,
}

/// One instrument's view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolBook {
    /// Best first.
    pub bids: Vec<Row>,
    pub offers: Vec<Row>,
    /// The last RptSeq seen (W or X), when the session gets the extension.
    pub rpt_seq: Option<u64>,
    /// Trades as received: price, size, MDEntryTime.
    pub trades: Vec<(Decimal, Decimal, String)>,
    /// Opening (4), high (7), low (8), VWAP (9) prices and volume (B), by MDEntryType.
    pub stats: BTreeMap<u8, Decimal>,
}

/// The books of every instrument of one subscription.
#[derive(Clone, Debug, Default)]
pub struct FeedBook {
    pub symbols: BTreeMap<String, SymbolBook>,
    /// X messages applied.
    pub increments: u64,
}

fn num(value: &[u8]) -> Result<Decimal, String> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not a number: {}", String::from_utf8_lossy(value)))
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

/// The fields of a message's repeating entries, each entry starting at `delimiter`.
fn entries(msg: &Msg, delimiter: u32) -> Vec<Vec<(u32, Vec<u8>)>> {
    let mut out: Vec<Vec<(u32, Vec<u8>)>> = Vec::new();
    let mut started = false;
    for (tag, value) in msg.fields() {
        if tag == delimiter {
            out.push(Vec::new());
            started = true;
        }
        if tag == 10 {
            break;
        }
        if started && let Some(entry) = out.last_mut() {
            entry.push((tag, value.to_vec()));
        }
    }
    out
}

fn get(entry: &[(u32, Vec<u8>)], tag: u32) -> Option<&[u8]> {
    entry
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, v)| v.as_slice())
}

impl SymbolBook {
    fn side_mut(&mut self, entry_type: u8) -> Option<&mut Vec<Row>> {
        match entry_type {
            b'0' => Some(&mut self.bids),
            b'1' => Some(&mut self.offers),
            _ => None,
        }
    }

    fn stat(&mut self, entry_type: u8, entry: &[(u32, Vec<u8>)]) -> Result<(), String> {
        let tag = if entry_type == b'B' { 271 } else { 270 };
        let value =
            get(entry, tag).ok_or_else(|| format!("stat {} without {tag}", entry_type as char))?;
        self.stats.insert(entry_type, num(value)?);
        Ok(())
    }

    fn trade(&mut self, entry: &[(u32, Vec<u8>)]) -> Result<(), String> {
        let px = num(get(entry, 270).ok_or("trade without 270")?)?;
        let size = num(get(entry, 271).ok_or("trade without 271")?)?;
        let time = text(get(entry, 273).ok_or("trade without 273")?);
        self.trades.push((px, size, time));
        Ok(())
    }

    /// Applies one X entry (its MDUpdateAction is `action`).
    fn apply(&mut self, action: u8, entry: &[(u32, Vec<u8>)]) -> Result<(), String> {
        let entry_type = get(entry, 269)
            .and_then(|v| v.first().copied())
            .ok_or("no 269")?;
        match entry_type {
            b'2' => return self.trade(entry),
            b'4' | b'7' | b'8' | b'9' | b'B' => return self.stat(entry_type, entry),
            _ => {}
        }
        let bid = entry_type == b'0';
        let side = self.side_mut(entry_type).ok_or("unknown 269")?;
        let price = num(get(entry, 270).ok_or("no 270")?)?;
        let size = match get(entry, 271) {
            Some(v) => Some(num(v)?),
            None => None,
        };
        if let Some(order_id) = get(entry, 37).map(text) {
            let position = get(entry, 290)
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
                .ok_or("order entry without 290")?;
            let at = position.checked_sub(1).ok_or("position 0")?;
            match action {
                b'0' => {
                    if at > side.len() {
                        return Err(format!(
                            "new order {order_id} at {position} past the end ({})",
                            side.len()
                        ));
                    }
                    side.insert(
                        at,
                        Row {
                            price,
                            size: size.ok_or("new order without 271")?,
                            orders: None,
                            order_id: Some(order_id),
                        },
                    );
                }
                b'1' | b'2' => {
                    let row = side
                        .get(at)
                        .ok_or_else(|| format!("no order at {position}"))?;
                    if row.order_id.as_deref() != Some(&order_id) || row.price != price {
                        return Err(format!("order {order_id} is not at {position}: {row:?}"));
                    }
                    if action == b'2' {
                        side.remove(at);
                    } else {
                        side[at].size = size.ok_or("change without 271")?;
                    }
                }
                other => return Err(format!("MDUpdateAction {}", other as char)),
            }
            return Ok(());
        }
        let found = side.iter().position(|r| r.price == price);
        match (action, found) {
            (b'0', None) => {
                let at = side
                    .iter()
                    .position(|r| {
                        if bid {
                            r.price < price
                        } else {
                            r.price > price
                        }
                    })
                    .unwrap_or(side.len());
                let orders = get(entry, 346).map(num).transpose()?;
                side.insert(
                    at,
                    Row {
                        price,
                        size: size.ok_or("new level without 271")?,
                        orders: orders.and_then(|o| u64::try_from(o).ok()),
                        order_id: None,
                    },
                );
            }
            (b'1', Some(at)) => {
                side[at].size = size.ok_or("change without 271")?;
                side[at].orders = get(entry, 346)
                    .map(num)
                    .transpose()?
                    .and_then(|o| u64::try_from(o).ok());
            }
            (b'2', Some(at)) => {
                side.remove(at);
            }
            (action, found) => {
                return Err(format!(
                    "MDUpdateAction {} for level {price}: level {}",
                    action as char,
                    if found.is_some() { "exists" } else { "absent" }
                ));
            }
        }
        Ok(())
    }
}

impl FeedBook {
    /// Applies a W or an X; any other message is an error.
    pub fn apply(&mut self, msg: &Msg) -> Result<(), String> {
        match msg.msg_type() {
            "W" => self.snapshot(msg),
            "X" => self.increment(msg),
            other => Err(format!("not market data: 35={other}")),
        }
    }

    fn snapshot(&mut self, msg: &Msg) -> Result<(), String> {
        let symbol = msg.get(55).ok_or("W without 55")?.to_string();
        let mut book = SymbolBook {
            rpt_seq: msg.get(83).and_then(|v| v.parse().ok()),
            ..SymbolBook::default()
        };
        for entry in entries(msg, 269) {
            let entry_type = get(&entry, 269)
                .and_then(|v| v.first().copied())
                .ok_or("no 269")?;
            match entry_type {
                b'0' | b'1' => {
                    let row = Row {
                        price: num(get(&entry, 270).ok_or("no 270")?)?,
                        size: num(get(&entry, 271).ok_or("no 271")?)?,
                        orders: get(&entry, 346)
                            .map(num)
                            .transpose()?
                            .and_then(|o| u64::try_from(o).ok()),
                        order_id: get(&entry, 37).map(text),
                    };
                    let side = book.side_mut(entry_type).ok_or("side")?;
                    if let Some(position) = get(&entry, 290) {
                        let expected = (side.len() + 1).to_string();
                        if position != expected.as_bytes() {
                            return Err(format!(
                                "snapshot position {} where {expected} was due",
                                text(position)
                            ));
                        }
                    }
                    side.push(row);
                }
                b'2' => book.trade(&entry)?,
                _ => book.stat(entry_type, &entry)?,
            }
        }
        self.symbols.insert(symbol, book);
        Ok(())
    }

    fn increment(&mut self, msg: &Msg) -> Result<(), String> {
        self.increments += 1;
        for entry in entries(msg, 279) {
            let action = get(&entry, 279)
                .and_then(|v| v.first().copied())
                .ok_or("no 279")?;
            let symbol = get(&entry, 55).map(text).ok_or("X entry without 55")?;
            let book = self
                .symbols
                .get_mut(&symbol)
                .ok_or_else(|| format!("X for {symbol} before its snapshot"))?;
            if let Some(rpt) = get(&entry, 83) {
                let rpt: u64 = std::str::from_utf8(rpt)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or("83")?;
                match book.rpt_seq {
                    Some(last) if rpt != last && rpt != last + 1 => {
                        return Err(format!("{symbol}: RptSeq {rpt} after {last}: a gap"));
                    }
                    _ => book.rpt_seq = Some(rpt),
                }
            }
            book.apply(action, &entry)
                .map_err(|e| format!("{symbol}: {e}"))?;
        }
        Ok(())
    }
}
