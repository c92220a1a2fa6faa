//! Property test: random client behaviour (in-order messages, gaps, gap fills, PossDup repeats of processed
//! messages, time passing) against a simple model of the expected sequence number and of the answers due.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    /// A TestRequest (answered by a Heartbeat with its id) or an order (answered by a BusinessMessageReject).
    InOrder { order: bool },
    /// The client skips `k` numbers: the message is queued behind a gap.
    Skip { k: u64, order: bool },
    /// The client fills its gap with a SequenceReset-GapFill up to the first skipped-to message.
    FillGap,
    /// A processed message sent again with PossDupFlag=Y: ignored.
    PossDupRepeat,
    /// Time passes (less than HeartBtInt, so the session never times out).
    Wait { s: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<bool>().prop_map(|order| Op::InOrder { order }),
        1 => (1u64..5, any::<bool>()).prop_map(|(k, order)| Op::Skip { k, order }),
        2 => Just(Op::FillGap),
        1 => Just(Op::PossDupRepeat),
        1 => (1i64..25).prop_map(|s| Op::Wait { s }),
    ]
}

/// What the model expects.
#[derive(Debug, Default)]
struct Model {
    /// The venue's next expected number.
    expected: u64,
    /// Messages sent beyond a gap, by number: `Some(order)`, answered once the gap is filled.
    queued: Vec<(u64, bool)>,
    /// Where the gap starts, while one is open.
    gap_start: Option<u64>,
}

fn answers(actions: &[Action]) -> Vec<String> {
    sends(actions)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_session_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut g = Given::logged_on();
        let mut m = Model { expected: 2, ..Model::default() };
        let mut last_out = 1u64;
        let mut silence = 0i64;
        for op in ops {
            let mut due_heartbeats = 0usize;
            let mut due_rejects = 0usize;
            let mut due_resend_requests = 0usize;
            let out = match op {
                Op::InOrder { order } if m.gap_start.is_none() => {
                    silence = 0;
                    if order { due_rejects += 1 } else { due_heartbeats += 1 }
                    m.expected += 1;
                    g.send(if order { "35=D|11=X|21=1|55=X|54=1|60=20270115-08:00:00|40=2|38=1|44=1|" } else { "35=1|112=M|" })
                }
                Op::InOrder { .. } | Op::Skip { .. } if m.gap_start.is_some() => {
                    // Beyond an open gap: queued.
                    silence = 0;
                    let seq = g.client_seq;
                    m.queued.push((seq, false));
                    g.send("35=1|112=M|")
                }
                Op::Skip { k, order } => {
                    silence = 0;
                    m.gap_start = Some(g.client_seq);
                    due_resend_requests = 1;
                    g.client_seq += k;
                    m.queued.push((g.client_seq, order));
                    g.send(if order { "35=D|11=X|21=1|55=X|54=1|60=20270115-08:00:00|40=2|38=1|44=1|" } else { "35=1|112=M|" })
                }
                Op::InOrder { .. } => unreachable!(),
                Op::FillGap => match m.gap_start.take() {
                    None => continue,
                    Some(start) => {
                        silence = 0;
                        let first_queued = m.queued.first().map(|q| q.0).unwrap();
                        for (_, order) in m.queued.drain(..) {
                            if order { due_rejects += 1 } else { due_heartbeats += 1 }
                        }
                        m.expected = g.client_seq;
                        let t = ts(g.now);
                        g.send_seq(start, &format!("35=4|43=Y|122={t}|123=Y|36={first_queued}|"))
                    }
                },
                Op::PossDupRepeat => {
                    if m.gap_start.is_some() || m.expected <= 2 { continue; }
                    silence = 0;
                    let t = ts(g.now);
                    g.send_seq(m.expected - 1, &format!("35=0|43=Y|122={t}|"))
                }
                Op::Wait { s } => {
                    if silence + s >= 30 { continue; }
                    silence += s;
                    g.advance(s);
                    g.tick()
                }
            };
            prop_assert!(!disconnected(&out), "{op:?}: {out:?}");
            let sent = answers(&out);
            for a in &out {
                if let Action::Send(o) = a {
                    prop_assert!(!o.resend);
                    prop_assert_eq!(o.seq, last_out + 1, "outgoing numbers are consecutive");
                    last_out = o.seq;
                }
            }
            let heartbeats = sent.iter().filter(|s| s.contains("|35=0|") && s.contains("|112=M|")).count();
            let rejects = sent.iter().filter(|s| s.contains("|35=j|") && s.contains("|380=4|")).count();
            prop_assert_eq!(heartbeats, due_heartbeats, "{:?}: {:?}", op, sent);
            prop_assert_eq!(rejects, due_rejects, "{:?}: {:?}", op, sent);
            prop_assert!(sent.iter().all(|s| !s.contains("|35=3|")), "no Reject: {:?}", sent);
            let resend_requests = sent.iter().filter(|s| s.contains("|35=2|")).count();
            prop_assert_eq!(resend_requests, due_resend_requests, "one ResendRequest per gap: {:?}", sent);
            if m.gap_start.is_none() {
                prop_assert_eq!(g.session.seqnums().next_in, m.expected);
            }
            prop_assert_eq!(g.session.seqnums().next_out, last_out + 1);
        }
    }
}
