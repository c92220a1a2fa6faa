//! The gateway core against the real engine, without sockets: requests in as FIX text, the commands sequenced
//! and applied by hand (as the sequencer does: numbered when submitted, applied and released when the test
//! says), reports out as FIX text.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use engine::{Command, Engine, Event, Seq, Sequenced};
use fix::types::TimePrecision;
use fix::{Decoder, Dictionary};
use journal::sequencer::Released;
use journal::sequencer::{Submission, SubmitError};
use session::Routing;
use venue_config::VenueConfig;

use super::core::{Dialect, Gateway, Input, Market, Output, SessionInfo, Submit};
use super::request;

mod dropcopy;
mod sequenced;

const T0: i64 = 1_800_000_000_000_000_000;

struct Harness {
    gateway: Gateway,
    engine: Engine,
    dict: Dictionary,
    ts_ns: i64,
    /// Every command applied, with its origin and events (a journal).
    journal: Vec<(Sequenced, Vec<u8>, Vec<Event>)>,
    /// Commands numbered and not yet applied (to test what happens while commands are in flight), shared with
    /// the gateway's submitter.
    in_flight: Arc<Mutex<InFlight>>,
    /// Requests are marked PossDupFlag=Y.
    poss_dup: bool,
    /// Every message the gateway gave out, as it gave it (with its routing).
    raw: Vec<(usize, session::app::AppMessage)>,
}

/// CLIENT1 in standard FIX 4.4; CLIENT2 with the venue's extensions and microsecond timestamps.
fn sessions() -> Vec<SessionInfo> {
    ["CLIENT1", "CLIENT2"]
        .iter()
        .map(|&c| SessionInfo {
            id: format!("FIX.4.4:FIXVENUE->{c}"),
            venue_comp_id: "FIXVENUE".into(),
            client_comp_id: c.to_string(),
            accounts: vec![format!("ACC-{c}"), "SHARED".into()],
            dialect: Dialect {
                time_precision: if c == "CLIENT2" {
                    TimePrecision::Micros
                } else {
                    TimePrecision::Millis
                },
                venue_extensions: c == "CLIENT2",
            },
            drop_copy: None,
        })
        .collect()
}

fn market_and_engine() -> (Market, Engine) {
    let resolved = VenueConfig::bundled().resolve().unwrap();
    let engine = Engine::new(resolved.engine.clone()).unwrap();
    let market = Market {
        instruments: engine.instruments().to_vec(),
        currencies: resolved.currencies.clone(),
        accounts: resolved.accounts.into_iter().collect(),
    };
    (market, engine)
}

/// What the hand-driven sequencer holds: the next number and the commands numbered, not yet applied.
#[derive(Debug)]
struct InFlight {
    next_seq: Seq,
    commands: Vec<(Seq, Submission)>,
}

/// A submitter numbering as the sequencer does: consecutive numbers in submission order, whoever submits.
struct HandSequencer(Arc<Mutex<InFlight>>);

impl Submit for HandSequencer {
    fn submit(&mut self, batch: Vec<Submission>) -> Result<Range<Seq>, SubmitError> {
        let mut in_flight = self.0.lock().unwrap();
        let first = in_flight.next_seq;
        for submission in batch {
            let seq = in_flight.next_seq;
            in_flight.commands.push((seq, submission));
            in_flight.next_seq += 1;
        }
        Ok(first..in_flight.next_seq)
    }
}

impl Harness {
    fn new() -> Harness {
        Harness::with_sessions(sessions())
    }

    fn with_sessions(sessions: Vec<SessionInfo>) -> Harness {
        let (market, engine) = market_and_engine();
        let in_flight = Arc::new(Mutex::new(InFlight {
            next_seq: 1,
            commands: Vec::new(),
        }));
        let mut gateway = Gateway::new(market, sessions, 42);
        gateway.attach(Box::new(HandSequencer(in_flight.clone())));
        Harness {
            gateway,
            engine,
            dict: Dictionary::fix44().unwrap(),
            ts_ns: T0,
            journal: Vec::new(),
            in_flight,
            poss_dup: false,
            raw: Vec::new(),
        }
    }

    /// A command of another submitter (an admin, say), numbered among the gateway's.
    fn foreign(&mut self, command: Command) -> Seq {
        let numbers = HandSequencer(self.in_flight.clone())
            .submit(vec![Submission::bare(command)])
            .unwrap();
        numbers.start
    }

    /// The end of the gateway's turn: it hands its commands over.
    fn end_turn(&mut self, out: Output) -> Vec<(usize, String)> {
        self.gateway.submit_pending().unwrap();
        self.raw.extend(out.messages.iter().cloned());
        texts(out)
    }

    /// One request from `session` (fields without the header), not yet sequenced.
    fn request(&mut self, session: usize, fields: &str) -> Vec<(usize, String)> {
        let out = self.request_in_turn(session, fields);
        self.end_turn(out)
    }

    /// One request of a turn not yet over: what it submits stays with the gateway unless it needs a number.
    fn request_in_turn(&mut self, session: usize, fields: &str) -> Output {
        let mut inbound = inbound(&self.dict, fields);
        inbound.poss_dup |= self.poss_dup;
        let mut out = Output::default();
        self.gateway
            .input(Input::Request { session, inbound }, self.ts_ns, &mut out);
        out
    }

    /// Sequences, applies and releases everything in flight, as one batch.
    fn release(&mut self) -> Vec<(usize, String)> {
        let mut batch = Released::default();
        let commands = std::mem::take(&mut self.in_flight.lock().unwrap().commands);
        for (seq, submission) in commands {
            self.ts_ns += 1_000;
            assert_eq!(seq, self.engine.last_seq() + 1, "applied in number order");
            let record = Sequenced {
                seq,
                ts_ns: self.ts_ns,
                command: submission.command,
            };
            let start = batch.events.len();
            self.engine.apply(&record, &mut batch.events);
            self.journal.push((
                record,
                submission.origin.clone(),
                batch.events[start..].to_vec(),
            ));
            batch.commands.push(record);
            batch.origins.push(submission.origin);
            batch.event_ends.push(batch.events.len());
        }
        let mut out = Output::default();
        self.gateway.released(&batch, &mut out);
        self.end_turn(out)
    }

    /// A request, then its release.
    fn send(&mut self, session: usize, fields: &str) -> Vec<(usize, String)> {
        let mut answers = self.request(session, fields);
        answers.extend(self.release());
        answers
    }

    fn event(&mut self, input: Input) -> Vec<(usize, String)> {
        let mut out = Output::default();
        self.gateway.input(input, self.ts_ns, &mut out);
        let mut answers = self.end_turn(out);
        answers.extend(self.release());
        answers
    }
}

/// A request as the session layer hands it over (fields without the header), checked against the dictionary.
fn inbound(dict: &Dictionary, fields: &str) -> request::Inbound {
    let text = format!("35={fields}");
    let (msg_type, body) = text.split_once('|').unwrap();
    let frame = fix::frame::from_text(&format!(
        "{msg_type}|49=C|56=FIXVENUE|34=9|52=20261122-10:00:00|{body}"
    ));
    let mut decoder = Decoder::new();
    let msg = decoder.decode(dict, &frame).unwrap();
    if let Err(e) = fix::Validator::default().validate(dict, &msg) {
        panic!("invalid test message {text}: {e:?}");
    }
    request::parse(&msg, &Routing::default()).unwrap()
}

fn texts(out: Output) -> Vec<(usize, String)> {
    out.messages
        .into_iter()
        .map(|(s, m)| {
            let body = String::from_utf8(m.body).unwrap().replace('\x01', "|");
            (
                s,
                format!("35={}|{body}", String::from_utf8(m.msg_type).unwrap()),
            )
        })
        .collect()
}

/// The value of `tag` in a message text.
fn field(msg: &str, tag: u32) -> Option<&str> {
    let key = format!("{tag}=");
    msg.split('|').find_map(|f| f.strip_prefix(key.as_str()))
}

#[track_caller]
fn has(msg: &(usize, String), session: usize, fields: &str) {
    assert_eq!(msg.0, session, "{}", msg.1);
    for f in fields.split('|').filter(|f| !f.is_empty()) {
        let (tag, value) = f.split_once('=').unwrap();
        let got = field(&msg.1, tag.parse().unwrap());
        if value == "*" {
            assert!(got.is_some(), "{tag} missing in {}", msg.1);
        } else if value == "!" {
            assert!(got.is_none(), "{tag} present in {}", msg.1);
        } else {
            assert_eq!(got, Some(value), "tag {tag} in {}", msg.1);
        }
    }
}

const BUY_10_AT_100: &str = "D|11=B1|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=10|44=100|59=1|";

#[test]
fn a_resting_limit_order_is_acknowledged_with_every_field() {
    let mut h = Harness::new();
    let answers = h.send(0, BUY_10_AT_100);
    assert_eq!(answers.len(), 1, "{answers:?}");
    has(
        &answers[0],
        0,
        "35=8|37=1|11=B1|17=1.1|150=0|39=0|1=ACC-CLIENT1|55=ZVZZT|54=1|38=10|40=2|44=100.00|59=1|14=0|151=10|6=0|60=*|41=!|32=!|880=!",
    );
    assert_eq!(field(&answers[0].1, 60).unwrap().len(), 21, "milliseconds");
    let answers = h.send(
        1,
        "D|11=S9|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=1|44=200|59=1|",
    );
    assert_eq!(
        field(&answers[0].1, 60).unwrap().len(),
        24,
        "CLIENT2: microseconds"
    );
}

#[test]
fn a_cross_between_two_sessions_reports_both_sides_at_the_resting_price() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    let answers = h.send(
        1,
        "D|11=S1|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=4|44=99|",
    );
    assert_eq!(answers.len(), 3, "{answers:?}");
    has(&answers[0], 1, "150=0|39=0|11=S1|37=2");
    let (buy, sell) = (&answers[1], &answers[2]);
    has(
        buy,
        0,
        "150=F|39=1|11=B1|32=4|31=100.00|14=4|151=6|6=100|851=1|527=2-1|880=!",
    );
    has(
        sell,
        1,
        "150=F|39=2|11=S1|32=4|31=100.00|14=4|151=0|6=100|851=2|527=2-1|880=2-1",
    );
    assert_ne!(field(&buy.1, 17), field(&sell.1, 17), "ExecIDs differ");
}

#[test]
fn refusals_at_the_edge_carry_the_fix_reason_and_no_order_id() {
    let mut h = Harness::new();
    let cases = [
        (
            "D|11=X1|55=NOPE|54=1|60=20261122-10:00:00|40=2|38=10|44=1|",
            "1",
        ),
        (
            "D|11=X2|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|44=1|",
            "13",
        ),
        (
            "D|11=X3|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=0|44=1|",
            "13",
        ),
        (
            "D|11=X4|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1.5|44=1|",
            "13",
        ),
        (
            "D|11=X5|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=1.001|",
            "99",
        ),
        (
            "D|11=X6|1=OTHER|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=1|",
            "15",
        ),
        (
            "D|11=X7|55=ZVZZT|54=5|60=20261122-10:00:00|40=2|38=1|44=1|",
            "11",
        ),
        (
            "D|11=X8|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|",
            "99",
        ),
        (
            "D|11=X9|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=1|59=6|",
            "99",
        ),
    ];
    for (request, code) in cases {
        let answers = h.send(0, request);
        assert_eq!(answers.len(), 1, "{request}: {answers:?}");
        has(
            &answers[0],
            0,
            &format!("35=8|150=8|39=8|37=NONE|103={code}|14=0|151=0|6=0|58=*"),
        );
    }
}

#[test]
fn a_duplicate_cl_ord_id_of_a_live_order_is_refused_and_a_finished_ones_may_be_reused() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    let answers = h.send(0, BUY_10_AT_100);
    has(&answers[0], 0, "150=8|103=6");
    // The other session may use the same ClOrdID.
    let answers = h.send(1, BUY_10_AT_100);
    has(&answers[0], 1, "150=0");
    h.send(0, "F|41=B1|11=C1|55=ZVZZT|54=1|60=20261122-10:00:00|");
    let answers = h.send(0, BUY_10_AT_100);
    has(&answers[0], 0, "150=0|11=B1");
}

#[test]
fn cancel_replace_and_their_rejects() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    let answers = h.send(
        0,
        "G|41=B1|11=B2|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=12|44=101|59=1|",
    );
    has(
        &answers[0],
        0,
        "150=5|39=0|11=B2|41=B1|38=12|44=101.00|151=12|37=1",
    );
    // The old ClOrdID is no longer the order's: cancel by the new one.
    let answers = h.send(0, "F|41=B2|11=B3|55=ZVZZT|54=1|60=20261122-10:00:00|");
    has(&answers[0], 0, "150=4|39=4|11=B3|41=B2|151=0");
    // Too late: the order is canceled.
    let answers = h.send(0, "F|41=B3|11=B4|55=ZVZZT|54=1|60=20261122-10:00:00|");
    has(&answers[0], 0, "35=9|434=1|102=0|39=4|11=B4|41=B3|37=1");
    // Unknown.
    let answers = h.send(0, "F|41=ZZ|11=B5|55=ZVZZT|54=1|60=20261122-10:00:00|");
    has(&answers[0], 0, "35=9|434=1|102=1|39=8|37=NONE");
    // A replace of a filled order.
    h.send(
        0,
        "D|11=F1|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=5|44=100|59=1|",
    );
    h.send(
        1,
        "D|11=F2|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=5|44=100|",
    );
    let answers = h.send(
        0,
        "G|41=F1|11=F3|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=6|44=100|59=1|",
    );
    has(&answers[0], 0, "35=9|434=2|102=0|39=2");
}

#[test]
fn a_cancel_in_flight_behind_its_order_finds_it_and_a_second_is_already_pending() {
    let mut h = Harness::new();
    assert!(h.request(0, BUY_10_AT_100).is_empty());
    assert!(
        h.request(0, "F|41=B1|11=C1|55=ZVZZT|54=1|60=20261122-10:00:00|")
            .is_empty()
    );
    let refused = h.request(0, "F|41=B1|11=C2|55=ZVZZT|54=1|60=20261122-10:00:00|");
    assert!(refused.is_empty(), "held behind the commands in flight");
    let answers = h.release();
    assert_eq!(answers.len(), 3, "{answers:?}");
    has(&answers[0], 0, "150=0|11=B1");
    has(&answers[1], 0, "150=4|11=C1|41=B1");
    has(&answers[2], 0, "35=9|102=3|11=C2");
}

#[test]
fn a_fill_that_wins_the_race_makes_the_cancel_too_late() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    // The sell and the cancel are in flight together; the sell is sequenced first.
    h.request(
        1,
        "D|11=S1|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=10|44=100|",
    );
    h.request(0, "F|41=B1|11=C1|55=ZVZZT|54=1|60=20261122-10:00:00|");
    let answers = h.release();
    let mine: Vec<_> = answers.iter().filter(|(s, _)| *s == 0).collect();
    assert_eq!(mine.len(), 2, "{answers:?}");
    has(mine[0], 0, "150=F|39=2");
    has(mine[1], 0, "35=9|102=0|39=2|11=C1|41=B1");
}

#[test]
fn a_status_request_sent_behind_its_order_answers_after_the_order_report() {
    let mut h = Harness::new();
    h.request(0, BUY_10_AT_100);
    assert!(
        h.request(0, "H|11=B1|55=ZVZZT|54=1|790=Q1|").is_empty(),
        "held"
    );
    let answers = h.release();
    assert_eq!(answers.len(), 2, "{answers:?}");
    has(&answers[0], 0, "150=0");
    has(&answers[1], 0, "150=I|39=0|790=Q1|11=B1|151=10|17=42-1");
    let answers = h.send(0, "H|11=NOPE|55=ZVZZT|54=1|");
    has(&answers[0], 0, "150=I|39=8|37=NONE");
    let answers = h.send(0, "H|11=B1|55=NOPE|54=1|");
    has(&answers[0], 0, "35=j|380=2|372=H|45=9");
}

#[test]
fn mass_status_and_mass_cancel_touch_only_the_sessions_orders() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    h.send(
        0,
        "D|11=B2|55=ZXZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=50|",
    );
    h.send(
        1,
        "D|11=O1|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=90|",
    );
    let answers = h.send(0, "AF|584=M1|585=7|");
    assert_eq!(answers.len(), 2, "{answers:?}");
    has(&answers[0], 0, "150=I|584=M1|911=2|912=N|11=B1");
    has(&answers[1], 0, "150=I|584=M1|911=2|912=Y|11=B2");
    let answers = h.send(0, "q|11=MC1|530=1|55=ZVZZT|60=20261122-10:00:00|");
    assert_eq!(answers.len(), 2, "{answers:?}");
    has(&answers[0], 0, "35=r|531=1|533=1|11=MC1");
    has(&answers[1], 0, "150=4|11=B1|58=mass cancel");
    let answers = h.send(0, "q|11=MC2|530=7|60=20261122-10:00:00|");
    has(&answers[0], 0, "35=r|531=7|533=1");
    has(&answers[1], 0, "150=4|11=B2");
    let answers = h.send(0, "AF|584=M2|585=7|");
    has(&answers[0], 0, "150=I|911=0|912=Y");
    let answers = h.send(1, "AF|584=M3|585=1|55=ZVZZT|");
    has(&answers[0], 1, "150=I|911=1|11=O1|39=0");
    let answers = h.send(0, "q|11=MC3|530=3|60=20261122-10:00:00|");
    has(&answers[0], 0, "35=r|531=0|532=0");
}

#[test]
fn cancel_on_disconnect_cancels_the_sessions_orders_only_when_enabled() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    assert!(h.event(Input::Disconnected { session: 0 }).is_empty());
    h.event(Input::Logon {
        session: 0,
        cancel_on_disconnect: true,
    });
    let answers = h.event(Input::Disconnected { session: 0 });
    assert_eq!(answers.len(), 1, "{answers:?}");
    has(&answers[0], 0, "150=4|11=B1|58=canceled on disconnect");
}

#[test]
fn replay_rebuilds_the_gateway_so_orders_are_found_after_a_restart() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    h.send(
        1,
        "D|11=S1|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=4|44=100|",
    );
    h.send(
        0,
        "G|41=B1|11=B2|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=9|44=100|59=1|",
    );
    // A restart: a fresh engine and gateway replay the journal.
    let (market, mut engine) = market_and_engine();
    let mut gateway = Gateway::new(market, sessions(), 43);
    let mut trades = Vec::new();
    for (record, origin, events) in &h.journal {
        let mut replayed = Vec::new();
        engine.apply(record, &mut replayed);
        assert_eq!(&replayed, events);
        trades.extend(gateway.replay(record, origin, events));
    }
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].buy.cl_ord_id, "B1");
    assert_eq!(trades[0].sell.session, "FIX.4.4:FIXVENUE->CLIENT2");
    assert_eq!(gateway.live_orders(), 1);
    gateway.resume_after(engine.last_seq());
    gateway.attach(Box::new(HandSequencer(h.in_flight.clone())));
    h.gateway = gateway;
    h.engine = engine;
    let answers = h.send(0, "H|11=B2|55=ZVZZT|54=1|");
    has(&answers[0], 0, "150=I|39=1|14=4|151=5|38=9|6=100|37=1");
    let answers = h.send(0, "F|41=B2|11=B3|55=ZVZZT|54=1|60=20261122-10:00:00|");
    has(&answers[0], 0, "150=4|39=4|11=B3|41=B2|14=4");
}

#[test]
fn a_possdup_resend_of_a_known_order_gets_its_status_not_a_second_order() {
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    h.send(
        1,
        "D|11=S1|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=10|44=100|",
    );
    h.poss_dup = true;
    let answers = h.send(0, BUY_10_AT_100);
    assert_eq!(answers.len(), 1, "{answers:?}");
    has(&answers[0], 0, "150=I|39=2|11=B1|37=1|14=10");
    // A PossDup order the venue never saw is a new order.
    let answers = h.send(
        0,
        "D|11=B9|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=1|",
    );
    has(&answers[0], 0, "150=0|11=B9");
}

/// Another submitter (an admin halt, a drop copy) numbering commands between the gateway's: the gateway learns
/// each order's number from the sequencer, so OrderIDs, ExecIDs and the cancel that names an order all follow the
/// numbers the engine used (a gateway predicting numbers would have called the sell order 2).
#[test]
fn commands_of_another_submitter_between_the_gateways_leave_order_ids_and_exec_ids_right() {
    let mut h = Harness::new();
    h.request(0, BUY_10_AT_100);
    let zvzzt = engine::InstrumentId(0);
    let open = engine::TradingStatus::Open;
    assert_eq!(
        h.foreign(Command::SetStatus {
            instrument: zvzzt,
            status: open
        }),
        2
    );
    h.request(
        1,
        "D|11=S1|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=14|44=100|",
    );
    let answers = h.release();
    assert_eq!(answers.len(), 4, "{answers:?}");
    has(&answers[0], 0, "150=0|11=B1|37=1|17=1.1");
    has(&answers[1], 1, "150=0|11=S1|37=3|17=3.1");
    has(&answers[2], 0, "150=F|11=B1|37=1|17=3.2|527=3-1|39=2");
    has(&answers[3], 1, "150=F|11=S1|37=3|17=3.3|527=3-1|39=1|151=4");
    assert_eq!(h.foreign(Command::Time { now_ns: T0 }), 4);
    let answers = h.send(1, "F|41=S1|11=C1|55=ZVZZT|54=2|60=20261122-10:00:00|");
    assert_eq!(answers.len(), 1, "{answers:?}");
    has(
        &answers[0],
        1,
        "150=4|39=4|11=C1|41=S1|37=3|17=5.1|14=10|151=0|6=100",
    );
}

/// An order and its cancel in one turn, with another submitter's command numbered before them: the cancel needs
/// the order's number, so the gateway hands the order over first and learns it (2, not the 1 a count of its own
/// commands would give).
#[test]
fn a_cancel_in_the_turn_of_its_order_learns_the_orders_number_from_the_sequencer() {
    let mut h = Harness::new();
    let out = h.request_in_turn(0, BUY_10_AT_100);
    assert!(out.messages.is_empty());
    assert_eq!(h.foreign(Command::Time { now_ns: T0 }), 1);
    let out = h.request_in_turn(0, "F|41=B1|11=C1|55=ZVZZT|54=1|60=20261122-10:00:00|");
    assert!(out.messages.is_empty());
    // A duplicate of the order in the same turn is refused as such, once the first has its number.
    let out = h.request_in_turn(0, BUY_10_AT_100);
    assert!(
        out.messages.is_empty(),
        "held behind the commands in flight"
    );
    assert_eq!(h.gateway.submitted_seq(), 3, "order 2, cancel 3");
    let mut answers = h.end_turn(out);
    answers.extend(h.release());
    assert_eq!(answers.len(), 3, "{answers:?}");
    has(&answers[0], 0, "150=0|11=B1|37=2|17=2.1");
    has(&answers[1], 0, "150=4|11=C1|41=B1|37=2|17=3.1");
    has(&answers[2], 0, "150=8|103=6|11=B1|37=NONE");
}

impl Harness {
    /// An operator's command, then the release of what it submitted.
    fn admin(
        &mut self,
        command: super::AdminCommand,
    ) -> (Result<super::AdminDone, String>, Vec<(usize, String)>) {
        let done = self.gateway.admin(command);
        (done, self.release())
    }
}

#[test]
fn the_operator_kill_switch_cancels_and_refuses_until_released() {
    use super::{AdminCommand, KillTarget};
    let mut h = Harness::new();
    h.send(0, BUY_10_AT_100);
    let kill = |engaged| AdminCommand::Kill {
        target: KillTarget::Account("ACC-CLIENT1".into()),
        engaged,
    };
    let (done, answers) = h.admin(kill(true));
    assert_eq!(done.unwrap().seq, Some(2));
    assert_eq!(answers.len(), 1, "{answers:?}");
    has(&answers[0], 0, "35=8|11=B1|150=4|39=4|58=mass cancel");
    let answers = h.send(
        0,
        "D|11=B2|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=100|",
    );
    has(&answers[0], 0, "35=8|11=B2|150=8|39=8|103=99|37=NONE");
    assert!(
        field(&answers[0].1, 58)
            .unwrap()
            .contains("kill switch engaged for account ACC-CLIENT1")
    );
    // The session's other account trades on.
    let answers = h.send(
        0,
        "D|11=B3|1=SHARED|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=100|",
    );
    has(&answers[0], 0, "35=8|11=B3|150=0");
    let (done, answers) = h.admin(kill(false));
    assert_eq!(done.unwrap().seq, None);
    assert!(answers.is_empty());
    let answers = h.send(
        0,
        "D|11=B4|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=100|",
    );
    has(&answers[0], 0, "35=8|11=B4|150=0");

    // A session the engine never saw: engaged, nothing to cancel, nothing journaled.
    let (done, answers) = h.admin(AdminCommand::Kill {
        target: KillTarget::Session("FIX.4.4:FIXVENUE->CLIENT2".into()),
        engaged: true,
    });
    assert_eq!(done.unwrap().seq, None);
    assert!(answers.is_empty());
    let answers = h.send(
        1,
        "D|11=S1|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=1|44=200|",
    );
    has(&answers[0], 1, "35=8|11=S1|150=8|103=99");
    // Unknown names are refused with a reason.
    let (done, _) = h.admin(AdminCommand::Kill {
        target: KillTarget::Account("NOBODY".into()),
        engaged: true,
    });
    assert_eq!(done.unwrap_err(), "unknown account NOBODY");
}

#[test]
fn the_operator_halts_and_resumes_an_instrument_through_the_engine() {
    use super::AdminCommand;
    use engine::TradingStatus;
    let mut h = Harness::new();
    let status = |status| AdminCommand::SetStatus {
        symbol: "ZVZZT".into(),
        status,
    };
    let (done, _) = h.admin(status(TradingStatus::Halted));
    assert_eq!(done.unwrap().seq, Some(1));
    let answers = h.send(0, BUY_10_AT_100);
    has(
        &answers[0],
        0,
        "35=8|11=B1|150=8|103=2|58=instrument halted",
    );
    h.admin(status(TradingStatus::Open)).0.unwrap();
    let answers = h.send(
        0,
        "D|11=B2|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=100|",
    );
    has(&answers[0], 0, "35=8|11=B2|150=0");
    let (done, answers) = h.admin(AdminCommand::MassCancelInstrument {
        symbol: "ZVZZT".into(),
    });
    assert!(done.unwrap().seq.is_some());
    has(&answers[0], 0, "35=8|11=B2|150=4");
    let (done, _) = h.admin(AdminCommand::SetStatus {
        symbol: "NOPE".into(),
        status: TradingStatus::Halted,
    });
    assert_eq!(done.unwrap_err(), "unknown symbol NOPE");
    // Replaying the journal rebuilds the same gateway: the status commands have the venue's own origin.
    let (market, mut engine) = market_and_engine();
    let mut replayed = Gateway::new(market, sessions(), 43);
    let mut events = Vec::new();
    for (record, origin, _) in &h.journal {
        events.clear();
        engine.apply(record, &mut events);
        replayed.replay(record, origin, &events);
    }
    assert_eq!(replayed.live_orders(), h.gateway.live_orders());
}
