//! Criterion benches of the codec: decode+validate of NewOrderSingle (D), ExecutionReport (8) and
//! MarketDataIncrementalRefresh (X) taken from the shared corpus, and the encoding of an ExecutionReport.

use std::hint::black_box;

use bytes::BytesMut;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use fix::frame::{self, FrameConfig, Framed};
use fix::tags::{self, ExecType, OrdStatus, Side};
use fix::{Decoder, Dictionary, Encoder, Header, Validator};
use rust_decimal::Decimal;

/// The first corpus message of each type, or a built-in copy when the shared corpus is not beside the project.
fn sample(msg_type: &str) -> Vec<u8> {
    let needle = format!("\x0135={msg_type}\x01");
    if let Ok(text) = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/fix44_mix.txt"
    )) {
        if let Some(line) = text
            .split(|&b| b == b'\n')
            .find(|l| l.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            return line.to_vec();
        }
    }
    let body = match msg_type {
        "D" => {
            "35=D|49=CLIENT01|56=VENUE|34=2|52=20261120-09:30:00.005|11=C1000002|1=ACC990|55=NVDA|54=1|60=20261120-09:30:00.005|38=5|40=2|44=102.08|59=0|"
        }
        "8" => {
            "35=8|49=VENUE|56=CLIENT01|34=3|52=20261120-09:30:00.010|37=O7000001|11=C1000003|17=E90000001|150=0|39=0|1=ACC290|55=EURUSD|54=1|38=200|40=2|44=116.82|59=0|151=200|14=0|6=0|60=20261120-09:30:00.010|"
        }
        _ => {
            "35=X|49=VENUE|56=CLIENT01|34=2|52=20261120-09:30:00.007|262=MD5882|268=5|279=1|269=1|278=M1|55=EURUSD|270=198.65|271=3500|279=1|269=0|278=M2|55=EURUSD|270=198.60|271=3100|279=1|269=1|278=M3|55=EURUSD|270=198.68|271=2900|279=1|269=0|278=M4|55=EURUSD|270=198.63|271=2500|279=0|269=1|278=M5|55=EURUSD|270=198.65|271=3100|"
        }
    };
    frame::from_text(body)
}

fn decode_validate(c: &mut Criterion) {
    let dict = Dictionary::fix44().expect("dictionary");
    let config = FrameConfig::default();
    let mut decoder = Decoder::new();
    let mut validator = Validator::default();
    for msg_type in ["D", "8", "X"] {
        let bytes = sample(msg_type);
        c.bench_function(&format!("frame+decode+validate {msg_type}"), |b| {
            b.iter(|| {
                let Framed::Complete { len } = frame::check(black_box(&bytes), &config) else {
                    panic!("sample frames")
                };
                let msg = decoder
                    .decode(&dict, &bytes[..len])
                    .expect("sample decodes");
                black_box(validator.validate(&dict, &msg).is_ok())
            })
        });
    }
}

fn encode_execution_report(c: &mut Criterion) {
    let encoder = Encoder::default();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let mut buf = BytesMut::with_capacity(1024);
    c.bench_function("encode ExecutionReport (fill)", |b| {
        b.iter(|| {
            buf.clear();
            let header = Header::new(
                tags::msg_type::EXECUTION_REPORT,
                "VENUE",
                "CLIENT01",
                black_box(123_456),
                now,
            );
            let mut w = encoder.begin(&mut buf, &header);
            w.put_str(tags::ORDER_ID, "O7000001")
                .put_str(tags::CL_ORD_ID, "C1000003")
                .put_str(tags::EXEC_ID, "E90000001")
                .put_enum(tags::EXEC_TYPE, ExecType::Trade)
                .put_enum(tags::ORD_STATUS, OrdStatus::PartiallyFilled)
                .put_str(tags::ACCOUNT, "ACC290")
                .put_str(tags::SYMBOL, "ZVZZT")
                .put_enum(tags::SIDE, Side::Buy)
                .put_decimal(tags::ORDER_QTY, Decimal::new(200, 0))
                .put_char(tags::ORD_TYPE, b'2')
                .put_decimal(tags::PRICE, Decimal::new(11682, 2))
                .put_char(tags::TIME_IN_FORCE, b'0')
                .put_decimal(tags::LAST_QTY, Decimal::new(50, 0))
                .put_decimal(tags::LAST_PX, Decimal::new(11682, 2))
                .put_decimal(tags::LEAVES_QTY, Decimal::new(150, 0))
                .put_decimal(tags::CUM_QTY, Decimal::new(50, 0))
                .put_decimal(tags::AVG_PX, Decimal::new(11682, 2))
                .put_str(tags::TRD_MATCH_ID, "M77")
                .put_char(tags::LAST_LIQUIDITY_IND, b'1')
                .put_timestamp(tags::TRANSACT_TIME, &now, fix::types::TimePrecision::Micros);
            black_box(w.finish().expect("fits"))
        })
    });
}

criterion_group!(benches, decode_validate, encode_execution_report);
criterion_main!(benches);
