//! Unit tests of the trade log: records, append, and the start-up check against a replay.

use proptest::prelude::*;

use super::*;
use crate::db::Db;

fn side(order_id: u64, name: &str) -> TradeSide {
    TradeSide {
        order_id,
        account: format!("ACC-{name}"),
        session: format!("FIX.4.4:FIXVENUE->{name}"),
        cl_ord_id: format!("cl-{order_id}"),
        exec_id: format!("{order_id}.1"),
    }
}

fn trade(match_seq: u64, match_n: u32) -> TradeRecord {
    TradeRecord {
        match_seq,
        match_n,
        ts_ns: 1_700_000_000_000_000_000 + match_seq as i64,
        symbol: "EURUSD".into(),
        price: Decimal::new(108_125, 5),
        qty: Decimal::new(1_000_000, 0),
        currency: "USD".into(),
        aggressor: Side::Buy,
        buy: side(match_seq, "CLIENT1"),
        sell: side(1, "CLIENT2"),
    }
}

fn trades(ids: &[(u64, u32)]) -> Vec<TradeRecord> {
    ids.iter().map(|&(s, n)| trade(s, n)).collect()
}

fn log() -> (tempfile::TempDir, TradeLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = TradeLog::open(&Db::open(dir.path()).unwrap()).unwrap();
    (dir, log)
}

/// Feeds `replay` to a checker of `log` and finishes it.
fn check(log: &TradeLog, replay: &[TradeRecord]) -> Result<TradeCheckReport, TradeCheckError> {
    let mut checker = log.checker();
    for t in replay {
        checker.next(t)?;
    }
    checker.finish()
}

fn round_trip(t: &TradeRecord) -> TradeRecord {
    TradeRecord::decode(&t.key(), &t.encode().unwrap()).unwrap()
}

#[test]
fn a_record_round_trips_and_keys_sort_in_match_order() {
    let t = trade(5, 2);
    let back = round_trip(&t);
    assert_eq!(back, t);
    assert_eq!(back.first_difference(&t), None);
    assert!(trade(5, 2).key() < trade(5, 3).key());
    assert!(trade(5, u32::MAX).key() < trade(6, 0).key());
    assert!(trade(255, 0).key() < trade(256, 0).key());
}

#[test]
fn decoding_is_strict_and_names_what_is_wrong() {
    let t = trade(1, 0);
    let value = t.encode().unwrap();
    let key = t.key();
    let decode = |k: &[u8], v: &[u8]| TradeRecord::decode(k, v).unwrap_err();
    assert_eq!(decode(&key[..11], &value), TradeRecordError::KeyLength(11));
    let mut v = value.clone();
    v[0] = 3;
    assert_eq!(decode(&key, &v), TradeRecordError::Version(3));
    v[0] = 1;
    assert_eq!(decode(&key, &v), TradeRecordError::OldVersion);
    assert!(
        TradeRecordError::OldVersion
            .to_string()
            .contains("format 1")
    );
    assert_eq!(
        decode(&key, &value[..5]),
        TradeRecordError::Truncated("ts_ns")
    );
    assert_eq!(
        decode(&key, &value[..value.len() - 1]),
        TradeRecordError::Truncated("sell.exec_id")
    );
    let mut v = value.clone();
    v.push(0);
    assert_eq!(decode(&key, &v), TradeRecordError::TrailingBytes(1));
    // price: 16 mantissa bytes from offset 9, then the scale.
    let mut v = value.clone();
    v[25] = 29;
    assert_eq!(decode(&key, &v), TradeRecordError::Decimal("price"));
    let mut v = value.clone();
    v[9] = 0x10; // a mantissa beyond 96 bits
    assert_eq!(decode(&key, &v), TradeRecordError::Decimal("price"));
    // aggressor after price and qty (17 bytes each).
    let mut v = value.clone();
    v[43] = b'3';
    assert_eq!(decode(&key, &v), TradeRecordError::Aggressor(b'3'));
    // symbol: length at 60, bytes from 62.
    let mut v = value.clone();
    v[62] = 0xff;
    assert_eq!(decode(&key, &v), TradeRecordError::Utf8("symbol"));
    let mut v = value.clone();
    v[60..62].copy_from_slice(&(SYMBOL_BYTES_MAX as u16 + 1).to_be_bytes());
    assert!(matches!(
        decode(&key, &v),
        TradeRecordError::TooLong {
            field: "symbol",
            ..
        }
    ));
    let mut v = value;
    v[60..62].copy_from_slice(&0u16.to_be_bytes());
    v.drain(62..68);
    assert_eq!(decode(&key, &v), TradeRecordError::Empty("symbol"));
}

#[test]
fn out_of_bounds_records_are_refused_before_writing() {
    let (_dir, log) = log();
    let mut t = trade(1, 0);
    t.buy.cl_ord_id = "x".repeat(CL_ORD_ID_BYTES_MAX + 1);
    let too_long = t.encode().unwrap_err();
    assert!(matches!(
        too_long,
        TradeRecordError::TooLong {
            field: "buy.cl_ord_id",
            ..
        }
    ));
    assert!(matches!(
        log.append(&[t]),
        Err(TradeAppendError::Invalid { match_seq: 1, .. })
    ));
    let mut t = trade(1, 0);
    t.qty = Decimal::ZERO;
    assert_eq!(t.encode().unwrap_err(), TradeRecordError::QtyNotPositive);
    t.qty = Decimal::ONE;
    t.currency.clear();
    assert_eq!(t.encode().unwrap_err(), TradeRecordError::Empty("currency"));
    assert!(log.is_empty());
}

#[test]
fn append_keeps_match_order_and_writes_all_or_nothing() {
    let (_dir, log) = log();
    assert_eq!(log.last().unwrap(), None);
    log.append(&trades(&[(1, 0), (1, 1), (4, 0)])).unwrap();
    log.flush().unwrap();
    assert_eq!(log.last().unwrap(), Some((4, 0)));
    assert_eq!(log.len(), 3);
    let refused = log.append(&trades(&[(5, 0), (3, 0)]));
    assert!(matches!(
        refused,
        Err(TradeAppendError::OutOfOrder {
            match_seq: 3,
            after_seq: 5,
            ..
        })
    ));
    assert!(matches!(
        log.append(&trades(&[(4, 0)])),
        Err(TradeAppendError::OutOfOrder { .. })
    ));
    assert_eq!(log.len(), 3);
    let from: Vec<_> = log.iter_from(1).map(|t| t.unwrap().match_seq).collect();
    assert_eq!(from, vec![1, 1, 4]);
    let from: Vec<_> = log.iter_from(2).map(|t| t.unwrap()).collect();
    assert_eq!(from, trades(&[(4, 0)]));
}

#[test]
fn a_corrupt_stored_record_is_reported_with_its_match_id() {
    let (_dir, log) = log();
    log.tree
        .insert(trade(9, 1).key(), &b"\x02short"[..])
        .unwrap();
    let err = log.iter_from(0).next().unwrap().unwrap_err();
    assert!(err.to_string().contains("trade log record 9-1"), "{err}");
    assert!(matches!(
        check(&log, &trades(&[(9, 1)])),
        Err(TradeCheckError::Read(TradeReadError::Corrupt {
            match_id: Some((9, 1)),
            source: TradeRecordError::Truncated("ts_ns"),
        }))
    ));
}

#[test]
fn check_of_an_identical_log_appends_nothing() {
    let (_dir, log) = log();
    let all = trades(&[(1, 0), (1, 1), (2, 0)]);
    log.append(&all).unwrap();
    let report = check(&log, &all).unwrap();
    assert_eq!(
        report,
        TradeCheckReport {
            checked: 3,
            appended: 0
        }
    );
    assert_eq!(log.len(), 3);
}

#[test]
fn check_of_an_empty_log_appends_the_whole_replay() {
    let (_dir, log) = log();
    assert_eq!(check(&log, &[]).unwrap(), TradeCheckReport::default());
    let ids: Vec<(u64, u32)> = (1..=CHECK_APPEND_BATCH_MAX as u64 + 5)
        .map(|s| (s, 0))
        .collect();
    let all = trades(&ids);
    let report = check(&log, &all).unwrap();
    assert_eq!(
        report,
        TradeCheckReport {
            checked: 0,
            appended: all.len() as u64
        }
    );
    let stored: Vec<_> = log.iter_from(0).map(|t| t.unwrap()).collect();
    assert_eq!(stored, all);
}

#[test]
fn check_appends_the_lagging_tail() {
    let (_dir, log) = log();
    let all = trades(&[(1, 0), (2, 0), (2, 1), (3, 0)]);
    log.append(&all[..2]).unwrap();
    let report = check(&log, &all).unwrap();
    assert_eq!(
        report,
        TradeCheckReport {
            checked: 2,
            appended: 2
        }
    );
    assert_eq!(
        log.iter_from(0).map(|t| t.unwrap()).collect::<Vec<_>>(),
        all
    );
    assert_eq!(
        check(&log, &all).unwrap(),
        TradeCheckReport {
            checked: 4,
            appended: 0
        }
    );
}

#[test]
fn check_names_the_first_differing_field() {
    let (_dir, log) = log();
    let all = trades(&[(1, 0), (2, 0)]);
    log.append(&all).unwrap();
    type Change = fn(&mut TradeRecord);
    let cases: [(&str, Change); 5] = [
        ("ts_ns", |t| t.ts_ns += 1),
        ("price", |t| t.price = Decimal::new(108_126, 5)),
        ("qty", |t| t.qty = Decimal::new(10_000_000, 1)), // same value, another scale
        ("aggressor", |t| t.aggressor = Side::Sell),
        ("sell.cl_ord_id", |t| t.sell.cl_ord_id.push('x')),
    ];
    for (field, change) in cases {
        let mut replay = all.clone();
        change(&mut replay[1]);
        match check(&log, &replay) {
            Err(TradeCheckError::Differs {
                match_seq: 2,
                match_n: 0,
                field: f,
            }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let err = check(
        &log,
        &[all[0].clone(), {
            let mut t = all[1].clone();
            t.symbol = "GBPUSD".into();
            t
        }],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "trade 2-0 in the trade log differs from the journal's in symbol"
    );
}

#[test]
fn check_refuses_trades_the_journal_does_not_hold() {
    let (_dir, log) = log();
    log.append(&trades(&[(1, 0), (2, 0), (3, 0)])).unwrap();
    // Left over at the end.
    let err = check(&log, &trades(&[(1, 0), (2, 0)])).unwrap_err();
    assert!(matches!(
        err,
        TradeCheckError::Extra {
            match_seq: 3,
            match_n: 0
        }
    ));
    assert!(
        err.to_string()
            .starts_with("trade log holds trades the journal does not")
    );
    // In the middle: the log's 2-0 comes before the journal's next trade.
    let err = check(&log, &trades(&[(1, 0), (3, 0)])).unwrap_err();
    assert!(matches!(err, TradeCheckError::Extra { match_seq: 2, .. }));
    // A journal trade the log skipped is not a lagging tail.
    let err = check(&log, &trades(&[(1, 0), (1, 1), (2, 0)])).unwrap_err();
    assert!(matches!(
        err,
        TradeCheckError::Missing {
            match_seq: 1,
            match_n: 1,
            log_seq: 2,
            log_n: 0
        }
    ));
    // Nothing was appended by the failed checks.
    assert_eq!(log.len(), 3);
}

#[test]
fn check_refuses_a_replay_out_of_order() {
    let (_dir, log) = log();
    let err = check(&log, &trades(&[(2, 0), (1, 0)])).unwrap_err();
    assert!(matches!(
        err,
        TradeCheckError::OutOfOrder {
            match_seq: 1,
            after_seq: 2,
            ..
        }
    ));
}

fn text(max: usize) -> impl Strategy<Value = String> {
    // Up to max / 3 characters of up to 4 bytes each: some strings end up cut to just under the bound.
    proptest::collection::vec(any::<char>(), 0..=max / 3).prop_map(move |cs| {
        let mut s: String = cs.into_iter().collect();
        while s.len() > max {
            s.pop();
        }
        s
    })
}

fn decimal(positive: bool) -> impl Strategy<Value = Decimal> {
    let limit = (1i128 << 96) - 1;
    (-limit..=limit, 0u32..=28).prop_map(move |(m, scale)| {
        let m = if positive { m.abs().max(1) } else { m };
        Decimal::from_i128_with_scale(m, scale)
    })
}

fn trade_side() -> impl Strategy<Value = TradeSide> {
    (
        any::<u64>(),
        text(ACCOUNT_BYTES_MAX),
        text(SESSION_BYTES_MAX),
        text(CL_ORD_ID_BYTES_MAX),
        "[0-9]{1,20}\\.[0-9]{1,10}",
    )
        .prop_map(
            |(order_id, account, session, cl_ord_id, exec_id)| TradeSide {
                order_id,
                account,
                session,
                cl_ord_id,
                exec_id,
            },
        )
}

fn record() -> impl Strategy<Value = TradeRecord> {
    (
        (
            any::<u64>(),
            any::<u32>(),
            any::<i64>(),
            "[A-Z0-9./]{1,64}",
            "[A-Z]{1,16}",
        ),
        (decimal(false), decimal(true), any::<bool>()),
        (trade_side(), trade_side()),
    )
        .prop_map(
            |(
                (match_seq, match_n, ts_ns, symbol, currency),
                (price, qty, buy_aggr),
                (buy, sell),
            )| {
                TradeRecord {
                    match_seq,
                    match_n,
                    ts_ns,
                    symbol,
                    price,
                    qty,
                    currency,
                    aggressor: if buy_aggr { Side::Buy } else { Side::Sell },
                    buy,
                    sell,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_record_in_bounds_round_trips(t in record()) {
        let back = round_trip(&t);
        prop_assert_eq!(back.first_difference(&t), None);
        prop_assert_eq!(back, t);
    }

    #[test]
    fn corrupt_values_never_panic(t in record(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut value = t.encode().unwrap();
        let i = at.index(value.len());
        value[i] = byte;
        let _ = TradeRecord::decode(&t.key(), &value);
        let _ = TradeRecord::decode(&t.key(), &value[..i]);
    }
}
