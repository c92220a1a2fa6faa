//! MsgSeqNum rules: correct, too high (gap, queue, one ResendRequest), too low, PossDup.

use super::*;

#[test]
fn correct_msgseqnum_is_processed() {
    let mut g = Given::logged_on();
    let out = g.send("35=1|112=hello|");
    assert_fields(&sends(&out)[0], "35=0|34=2|112=hello|");
    assert_eq!(g.session.seqnums().next_in, 3);
}

#[test]
fn too_high_requests_a_resend_once_and_processes_the_queue_in_order() {
    let mut g = Given::logged_on();
    let out = g.send_seq(4, "35=1|112=four|");
    assert_eq!(sends(&out).len(), 1);
    assert_fields(&sends(&out)[0], "35=2|7=2|16=0|");
    // A second message beyond the gap does not repeat the ResendRequest.
    let out = g.send_seq(5, "35=1|112=five|");
    assert!(sends(&out).is_empty(), "{out:?}");
    // The resent 2 and 3 fill the gap; then 4 and 5 are processed from the queue, in order.
    let out = g.send_seq(2, "35=0|");
    assert!(sends(&out).is_empty());
    let out = g.send_seq(3, "35=0|");
    let sent = sends(&out);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_fields(&sent[0], "35=0|112=four|");
    assert_fields(&sent[1], "35=0|112=five|");
    assert_eq!(g.session.seqnums().next_in, 6);
}

#[test]
fn too_low_without_possdup_is_logged_out() {
    let mut g = Given::logged_on();
    g.send("35=0|");
    let out = g.send_seq(2, "35=0|");
    assert_fields(
        &sends(&out)[0],
        "35=5|58=MsgSeqNum too low, expecting 3 but received 2|",
    );
    assert!(disconnected(&out));
}

#[test]
fn possdup_already_processed_is_ignored() {
    let mut g = Given::logged_on();
    g.send("35=0|");
    let out = g.send_seq(2, "35=1|43=Y|122=20270115-07:59:59|112=x|");
    assert!(sends(&out).is_empty(), "{out:?}");
    assert_eq!(g.session.seqnums().next_in, 3);
}

#[test]
fn possdup_not_yet_seen_is_processed() {
    let mut g = Given::logged_on();
    let out = g.send("35=1|43=Y|122=20270115-07:59:59|112=x|");
    assert_fields(&sends(&out)[0], "35=0|112=x|");
}

#[test]
fn possdup_without_orig_sending_time_is_rejected() {
    let mut g = Given::logged_on();
    let out = g.send("35=1|43=Y|112=x|");
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert_fields(&sent[0], "35=3|45=2|373=1|371=122|372=1|");
    assert_eq!(g.session.seqnums().next_in, 3);
}

#[test]
fn orig_sending_time_after_sending_time_is_rejected_and_logged_out() {
    let mut g = Given::logged_on();
    let later = ts(g.now + TimeDelta::seconds(5));
    let out = g.send(&format!("35=1|43=Y|122={later}|112=x|"));
    let sent = sends(&out);
    assert_fields(&sent[0], "35=3|45=2|373=10|371=122|");
    assert_fields(&sent[1], "35=5|");
    assert!(disconnected(&out));
}

#[test]
fn missing_msgseqnum_is_logged_out() {
    let mut g = Given::logged_on();
    let out = g.send_raw(&format!("35=0|49=CLIENT|56=VENUE|52={}|", ts(g.now)));
    assert_fields(
        &sends(&out)[0],
        "35=5|58=MsgSeqNum (34) missing or not a positive number|",
    );
    assert!(disconnected(&out));
}

#[test]
fn the_queue_behind_a_gap_is_bounded() {
    let mut g = Given::logged_on();
    let mut last = Vec::new();
    for i in 0..=crate::QUEUED_MESSAGES_MAX as u64 {
        last = g.send_seq(10 + i, "35=0|");
        if disconnected(&last) {
            break;
        }
    }
    assert!(disconnected(&last));
    assert_fields(
        &sends(&last)[0],
        "35=5|58=Too many messages queued behind a sequence gap|",
    );
}

#[test]
fn garbled_events_are_counted_and_consume_nothing() {
    let mut g = Given::logged_on();
    let out = g
        .session
        .handle(Event::Garbled(fix::Garble::BadCheckSumFormat), g.now);
    assert!(sends(&out).is_empty() && !disconnected(&out));
    assert_eq!(g.session.counters().garbled, 1);
    assert_eq!(g.session.seqnums().next_in, 2);
}
