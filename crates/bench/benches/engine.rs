//! Criterion benches of the matching engine: the first 100,000 operations of the shared order-book corpus replayed
//! into a fresh engine (or a generated stand-in when the corpus is not beside the project), and an add + cancel
//! pair against a book holding about 5,000 resting orders.

use std::hint::black_box;
use std::path::Path;

use bench::engine::{MAKER_ACCOUNT, bench_engine, read_ops};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use engine::{
    Command, Engine, InstrumentId, NewOrder, OrderId, OrderKind, Sequenced, SessionId, Side,
    TimeInForce,
};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/book_ops_1m.csv"
);
const OPS: usize = 100_000;

fn limit(instrument: InstrumentId, side: Side, price_ticks: i64, qty_lots: i64) -> Command {
    Command::New(NewOrder {
        instrument,
        account: MAKER_ACCOUNT,
        session: SessionId(1),
        side,
        kind: OrderKind::Limit { price_ticks },
        qty_lots,
        tif: TimeInForce::Gtc,
        post_only: false,
        display_lots: 0,
    })
}

/// Resting orders only, never crossing: bids below 10,000 ticks, asks above.
fn generated_ops(instrument: InstrumentId, count: usize) -> Vec<Sequenced> {
    (0..count as u64)
        .map(|n| {
            let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
            let offset_ticks = 1 + (n * 7 % 30) as i64;
            let price_ticks = if side == Side::Buy {
                10_000 - offset_ticks
            } else {
                10_000 + offset_ticks
            };
            let command = limit(instrument, side, price_ticks, 1 + (n % 50) as i64);
            Sequenced {
                seq: n + 1,
                ts_ns: 0,
                command,
            }
        })
        .collect()
}

fn ops() -> Vec<Sequenced> {
    let (_, instrument) = bench_engine().expect("bundled config");
    match read_ops(Path::new(CORPUS), instrument) {
        Ok(mut ops) => {
            ops.truncate(OPS);
            ops
        }
        Err(_) => generated_ops(instrument, OPS),
    }
}

fn replay(c: &mut Criterion) {
    let ops = ops();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(ops.len() as u64));
    group.bench_function("corpus_100k_ops", |b| {
        b.iter_batched_ref(
            || bench_engine().expect("bundled config").0,
            |engine: &mut Engine| {
                let mut events = Vec::with_capacity(1_024);
                for op in &ops {
                    events.clear();
                    engine.apply(op, &mut events);
                }
                black_box(events.len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn add_cancel(c: &mut Criterion) {
    let (mut engine, instrument) = bench_engine().expect("bundled config");
    let mut events = Vec::new();
    for op in generated_ops(instrument, 5_000) {
        engine.apply(&op, &mut events);
    }
    let mut seq = engine.last_seq();
    c.bench_function("engine/add_then_cancel_in_5k_book", |b| {
        b.iter(|| {
            events.clear();
            seq += 1;
            let command = limit(instrument, Side::Buy, 9_990, 5);
            engine.apply(
                &Sequenced {
                    seq,
                    ts_ns: 0,
                    command,
                },
                &mut events,
            );
            seq += 1;
            let cancel = Command::Cancel {
                order_id: OrderId(seq - 1),
                account: MAKER_ACCOUNT,
            };
            engine.apply(
                &Sequenced {
                    seq,
                    ts_ns: 0,
                    command: cancel,
                },
                &mut events,
            );
            black_box(events.len())
        })
    });
}

criterion_group!(benches, replay, add_cancel);
criterion_main!(benches);
