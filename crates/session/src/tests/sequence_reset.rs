//! SequenceReset in GapFill and Reset mode.

use super::*;

#[test]
fn gap_fill_moves_the_expected_number() {
    let mut g = Given::logged_on();
    let out = g.send_seq(2, "35=4|123=Y|36=10|");
    assert!(sends(&out).is_empty());
    assert_eq!(g.session.seqnums().next_in, 10);
}

#[test]
fn gap_fill_with_too_high_msgseqnum_requests_a_resend() {
    let mut g = Given::logged_on();
    let out = g.send_seq(5, "35=4|123=Y|36=10|");
    assert_fields(&sends(&out)[0], "35=2|7=2|16=0|");
}

#[test]
fn gap_fill_lowering_the_number_is_rejected() {
    let mut g = Given::logged_on();
    let out = g.send_seq(2, "35=4|123=Y|36=2|");
    assert_fields(&sends(&out)[0], "35=3|45=2|373=5|371=36|");
    assert_eq!(g.session.seqnums().next_in, 3);
}

#[test]
fn gap_fill_too_low_without_possdup_is_logged_out() {
    let mut g = Given::logged_on();
    g.send("35=0|");
    let out = g.send_seq(2, "35=4|123=Y|36=10|");
    assert!(disconnected(&out));
}

#[test]
fn reset_with_new_seq_no_greater_moves_the_expected_number_whatever_msgseqnum() {
    let mut g = Given::logged_on();
    let out = g.send_seq(99, "35=4|36=20|");
    assert!(sends(&out).is_empty(), "{out:?}");
    assert_eq!(g.session.seqnums().next_in, 20);
}

#[test]
fn reset_with_new_seq_no_equal_is_accepted_with_a_warning() {
    let mut g = Given::logged_on();
    let out = g.send_seq(2, "35=4|36=2|");
    assert!(sends(&out).is_empty());
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Log(_, t) if t.contains("already expected")))
    );
    assert_eq!(g.session.seqnums().next_in, 2);
}

#[test]
fn reset_with_new_seq_no_less_is_rejected() {
    let mut g = Given::logged_on();
    g.send("35=0|");
    g.send("35=0|");
    let out = g.send_seq(4, "35=4|36=2|");
    assert_fields(&sends(&out)[0], "35=3|45=4|373=5|371=36|");
    assert_eq!(g.session.seqnums().next_in, 4);
}
