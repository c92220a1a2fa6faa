//! Where the venue behaves as the reference FIX engines (QuickFIX C++, QuickFIX/J) do (issue 11): the Logon
//! answer's ResetSeqNumFlag, SequenceReset-Reset without a usable MsgSeqNum, undefined tags in administrative
//! messages, a missing or empty CompID, an invalid MsgType, empty routing tags.

use super::*;

#[test]
fn reset_on_logon_without_141_resets_silently() {
    let mut g = Given::connected_with(
        "ResetOnLogon=Y\n",
        SeqNums {
            next_in: 7,
            next_out: 9,
            period_start_s: 0,
        },
    );
    let out = g.send_seq(1, "35=A|98=0|108=30|");
    let sent = sends(&out);
    assert_fields(&sent[0], "35=A|34=1|98=0|108=30|");
    assert_no_field(&sent[0], 141);
    assert_eq!(g.session.seqnums().next_in, 2);
}

#[test]
fn reset_on_logon_with_141_echoes_it() {
    let mut g = Given::connected("ResetOnLogon=Y\n");
    let out = g.send_seq(1, "35=A|98=0|108=30|141=Y|");
    assert_fields(&sends(&out)[0], "35=A|34=1|141=Y|");
}

#[test]
fn sequence_reset_reset_with_msgseqnum_zero_is_honoured_and_without_one_rejected() {
    let mut g = Given::logged_on();
    let out = g.send_seq(0, "35=4|36=25|");
    assert!(sends(&out).is_empty(), "{out:?}");
    assert!(!disconnected(&out));
    assert_eq!(g.session.seqnums().next_in, 25);
    // A header without 34 is malformed (a required header tag missing), whatever the message.
    let out = g.send_raw(&format!("35=4|49=CLIENT|56=VENUE|52={}|36=30|", ts(g.now)));
    assert_fields(&sends(&out)[0], "35=3|45=0|373=1|371=34|");
    assert!(!disconnected(&out));
    assert_eq!(g.session.seqnums().next_in, 25);
}

#[test]
fn sequence_reset_reset_lowering_with_msgseqnum_zero_is_rejected_and_the_session_stays() {
    let mut g = Given::logged_on();
    let out = g.send_seq(0, "35=4|36=1|");
    assert_fields(&sends(&out)[0], "35=3|45=0|373=5|371=36|");
    assert!(!disconnected(&out));
    assert_eq!(g.session.seqnums().next_in, 2);
}

#[test]
fn undefined_tags_in_heartbeat_and_test_request_are_rejected_0() {
    let mut g = Given::logged_on();
    for body in [
        "35=0|5000=HI|",
        "35=0|999=HI|",
        "35=1|112=x|5000=HI|",
        "35=1|112=x|999=HI|",
    ] {
        let tag = body.rsplit('|').nth(1).unwrap().split('=').next().unwrap();
        let out = g.send(body);
        assert_fields(&sends(&out)[0], &format!("35=3|373=0|371={tag}|"));
    }
}

#[test]
fn tags_zero_and_negative_are_invalid_tag_numbers_not_garbled() {
    let mut g = Given::logged_on();
    for body in [
        "35=0|0=HI|",
        "35=0|-1=HI|",
        "35=1|112=x|0=HI|",
        "35=1|112=x|-1=HI|",
    ] {
        let seq = g.client_seq;
        let out = g.send(body);
        assert_fields(&sends(&out)[0], &format!("35=3|45={seq}|373=0|371=0|"));
        assert_eq!(g.session.seqnums().next_in, seq + 1, "{body}");
    }
}

#[test]
fn missing_or_empty_target_comp_id_is_a_malformed_header_not_a_comp_id_problem() {
    let mut g = Given::logged_on();
    let out = g.send_raw(&format!("35=0|49=CLIENT|34=2|52={}|", ts(g.now)));
    assert_fields(&sends(&out)[0], "35=3|45=2|373=1|371=56|");
    assert!(!disconnected(&out));
    let out = g.send_raw(&format!("35=0|49=CLIENT|56=|34=3|52={}|", ts(g.now)));
    assert_fields(&sends(&out)[0], "35=3|45=3|373=4|371=56|");
    assert!(!disconnected(&out));
    assert_eq!(g.session.seqnums().next_in, 4);
    let out = g.send_raw(&format!(
        "35=0|49=CLIENT|56=ELSEWHERE|34=4|52={}|",
        ts(g.now)
    ));
    assert_fields(&sends(&out)[0], "35=3|373=9|371=56|");
    assert!(disconnected(&out));
}

#[test]
fn invalid_msg_type_is_named_in_ref_msg_type() {
    let mut g = Given::logged_on();
    let out = g.send("35=*|");
    assert_fields(&sends(&out)[0], "35=3|45=2|372=*|373=11|");
}

#[test]
fn empty_routing_tag_is_rejected_without_an_empty_tag_in_the_answer() {
    let mut g = Given::logged_on();
    let out = g.send("35=0|115=|");
    let sent = sends(&out);
    assert_fields(&sent[0], "35=3|373=4|371=115|");
    assert!(!sent[0].contains("=|"), "{}", sent[0]);
}

/// The SendingTime of `msg`.
fn sending_time(msg: &str) -> &str {
    msg.split('|')
        .find_map(|f| f.strip_prefix("52="))
        .expect("SendingTime")
}

#[test]
fn timestamps_follow_time_stamp_precision_default_milliseconds() {
    for (extra, len) in [
        ("", 21),
        ("TimeStampPrecision=0\n", 17),
        ("TimeStampPrecision=6\n", 24),
        ("TimeStampPrecision=9\n", 27),
    ] {
        let mut g = Given::connected(extra);
        let out = g.send("35=A|98=0|108=30|");
        assert_eq!(sending_time(&sends(&out)[0]).len(), len, "{extra}");
        // OrigSendingTime of a resend too.
        let out = g.send("35=2|7=1|16=0|");
        for sent in sends(&out) {
            assert_eq!(sending_time(&sent).len(), len, "{extra}: {sent}");
            if let Some(orig) = sent.split('|').find_map(|f| f.strip_prefix("122=")) {
                assert_eq!(orig.len(), len, "{extra}: {sent}");
            }
        }
    }
}
