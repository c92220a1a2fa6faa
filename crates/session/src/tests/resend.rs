//! Serving a ResendRequest: stored application messages again with PossDup, GapFill for the rest.

use super::*;
use crate::Routing;
use crate::app::AppMessage;

/// Sends `n` application messages from the venue; returns the stored `(seq, frame)` pairs.
fn venue_sends(g: &mut Given, n: usize) -> Vec<(u64, Vec<u8>)> {
    let mut stored = Vec::new();
    for i in 0..n {
        let msg = AppMessage {
            msg_type: b"8".to_vec(),
            routing: Routing::default(),
            body: format!("37=O{i}\x0117=E{i}\x01").into_bytes(),
        };
        for a in g.session.handle(Event::Send(&msg), g.now) {
            if let Action::Send(o) = a {
                assert!(o.store && !o.resend);
                stored.push((o.seq, o.bytes.to_vec()));
            }
        }
    }
    stored
}

#[test]
fn application_only_range_is_replayed_with_possdup() {
    let mut g = Given::logged_on();
    let stored = venue_sends(&mut g, 2); // seqs 2 and 3
    let sent_at = ts(g.now);
    g.advance(7);
    let out = g.send("35=2|7=2|16=3|");
    assert_eq!(
        out.iter()
            .filter(|a| matches!(a, Action::Resend { begin: 2, end: 3 }))
            .count(),
        1
    );
    let replayed = g.session.replay(2, 3, &stored, g.now);
    let sent = sends(&replayed);
    assert_eq!(sent.len(), 2);
    assert_fields(
        &sent[0],
        &format!("35=8|34=2|43=Y|122={sent_at}|52={}|37=O0|17=E0|", ts(g.now)),
    );
    assert_fields(&sent[1], "35=8|34=3|43=Y|37=O1|");
    assert!(
        replayed
            .iter()
            .all(|a| !matches!(a, Action::Send(o) if !o.resend))
    );
    assert_eq!(g.session.seqnums().next_out, 4);
}

#[test]
fn admin_only_range_becomes_one_gap_fill() {
    let mut g = Given::logged_on();
    g.send("35=1|112=a|"); // Heartbeat 2
    g.send("35=1|112=b|"); // Heartbeat 3
    let out = g.send("35=2|7=1|16=0|");
    assert!(out.contains(&Action::Resend { begin: 1, end: 3 }));
    let sent = sends(&g.session.replay(1, 3, &[], g.now));
    assert_eq!(sent.len(), 1);
    assert_fields(&sent[0], "35=4|34=1|43=Y|123=Y|36=4|");
}

#[test]
fn mixed_range_gap_fills_each_run_of_admin_messages() {
    let mut g = Given::logged_on(); // Logon 1
    let mut stored = venue_sends(&mut g, 1); // 2
    g.send("35=1|112=a|"); // Heartbeat 3
    stored.extend(venue_sends(&mut g, 1)); // 4
    g.send("35=1|112=b|"); // Heartbeat 5
    let sent = sends(&g.session.replay(1, 5, &stored, g.now));
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert_fields(&sent[0], "35=4|34=1|123=Y|36=2|");
    assert_fields(&sent[1], "35=8|34=2|43=Y|");
    assert_fields(&sent[2], "35=4|34=3|123=Y|36=4|");
    assert_fields(&sent[3], "35=8|34=4|43=Y|");
    assert_fields(&sent[4], "35=4|34=5|123=Y|36=6|");
}

#[test]
fn end_beyond_last_sent_is_clamped_and_infinity_means_last_sent() {
    let mut g = Given::logged_on();
    let out = g.send("35=2|7=1|16=999|");
    assert!(out.contains(&Action::Resend { begin: 1, end: 1 }));
    let out = g.send("35=2|7=5|16=0|");
    assert!(
        !out.iter().any(|a| matches!(a, Action::Resend { .. })),
        "{out:?}"
    );
}

#[test]
fn end_below_begin_is_rejected() {
    let mut g = Given::logged_on();
    let out = g.send("35=2|7=5|16=3|");
    assert_fields(&sends(&out)[0], "35=3|373=5|371=16|");
}

#[test]
fn simultaneous_resend_requests_are_both_served() {
    // The client asks for a resend with a MsgSeqNum that is itself too high: the venue serves it at once and
    // asks for its own gap.
    let mut g = Given::logged_on();
    venue_sends(&mut g, 1);
    let out = g.send_seq(5, "35=2|7=1|16=0|");
    assert!(out.contains(&Action::Resend { begin: 1, end: 2 }));
    assert_fields(&sends(&out)[0], "35=2|7=2|16=0|");
    // The gap 2..=4 is filled; the ResendRequest (5) is not served a second time.
    let out = g.send_seq(2, "35=4|43=Y|122=20270115-07:59:00|123=Y|36=5|");
    assert!(
        !out.iter().any(|a| matches!(a, Action::Resend { .. })),
        "{out:?}"
    );
    assert_eq!(g.session.seqnums().next_in, 6);
}

#[test]
fn an_unreadable_stored_message_is_gap_filled() {
    let mut g = Given::logged_on();
    venue_sends(&mut g, 1);
    let sent = sends(&g.session.replay(2, 2, &[(2, b"garbage".to_vec())], g.now));
    assert_fields(&sent[0], "35=4|34=2|123=Y|36=3|");
}

#[test]
fn a_message_that_may_have_been_sent_before_carries_poss_resend_and_keeps_it_when_resent() {
    let mut g = Given::logged_on();
    let msg = AppMessage {
        msg_type: b"8".to_vec(),
        routing: Routing {
            poss_resend: true,
            ..Routing::default()
        },
        body: b"37=O1\x0117=7.1\x01".to_vec(),
    };
    let out = g.session.handle(Event::Send(&msg), g.now);
    let sent = sends(&out);
    assert_fields(&sent[0], "35=8|34=2|97=Y|37=O1|17=7.1|");
    let stored: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) if o.store => Some((o.seq, o.bytes.to_vec())),
            _ => None,
        })
        .collect();
    g.send("35=2|7=2|16=2|");
    let replayed = g.session.replay(2, 2, &stored, g.now);
    assert_fields(&sends(&replayed)[0], "35=8|34=2|43=Y|97=Y|37=O1|");
}
