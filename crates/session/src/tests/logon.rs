//! Logon rules.

use super::*;
use crate::auth::{LOGON_FAILURES_MAX, cheap_hash};

#[test]
fn valid_logon_is_answered_with_heartbtint() {
    let g = Given::logged_on();
    assert_eq!(
        g.session.seqnums(),
        SeqNums {
            next_in: 2,
            next_out: 2,
            period_start_s: 0
        }
    );
    assert_eq!(g.session.heartbeat_interval_s(), 30);
}

#[test]
fn first_message_not_a_logon_disconnects_without_reply() {
    let mut g = Given::connected("");
    let out = g.send("35=0|");
    assert!(sends(&out).is_empty());
    assert!(disconnected(&out));
    assert_eq!(g.session.status(), Status::Disconnected);
}

#[test]
fn logon_with_msgseqnum_too_high_is_accepted_then_resend_requested() {
    let mut g = Given::connected("");
    let out = g.send_seq(5, "35=A|98=0|108=30|");
    let sent = sends(&out);
    assert_fields(&sent[0], "35=A|34=1|");
    assert_fields(&sent[1], "35=2|34=2|7=1|16=0|");
    assert_eq!(g.session.status(), Status::LoggedOn);
    // The client fills 1..=4 with a GapFill; 5 was the Logon, so 6 is expected next.
    let out = g.send_seq(1, "35=4|43=Y|122=20270115-08:00:00|123=Y|36=5|");
    assert!(sends(&out).is_empty(), "{out:?}");
    assert_eq!(g.session.seqnums().next_in, 6);
}

#[test]
fn logon_with_msgseqnum_too_low_is_logged_out() {
    let mut g = Given::connected_with(
        "",
        SeqNums {
            next_in: 5,
            next_out: 7,
            period_start_s: 0,
        },
    );
    let out = g.send_seq(3, "35=A|98=0|108=30|");
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert_fields(
        &sent[0],
        "35=5|34=7|58=MsgSeqNum too low, expecting 5 but received 3|",
    );
    assert!(disconnected(&out));
}

#[test]
fn heartbtint_outside_bounds_is_logged_out_with_the_reason() {
    let mut g = Given::connected("HeartBtIntMin=5\nHeartBtIntMax=60\n");
    let out = g.send("35=A|98=0|108=61|");
    assert_fields(
        &sends(&out)[0],
        "35=5|58=HeartBtInt 61 is outside the allowed range 5 to 60 seconds|",
    );
    assert!(disconnected(&out));
}

#[test]
fn reset_seq_num_flag_resets_both_sides_and_is_echoed() {
    let mut g = Given::connected_with(
        "",
        SeqNums {
            next_in: 40,
            next_out: 50,
            period_start_s: 0,
        },
    );
    let out = g.send_seq(1, "35=A|98=0|108=30|141=Y|");
    assert!(out.contains(&Action::ResetStore));
    assert_fields(&sends(&out)[0], "35=A|34=1|141=Y|108=30|");
    assert_eq!(
        g.session.seqnums(),
        SeqNums {
            next_in: 2,
            next_out: 2,
            period_start_s: 0
        }
    );
}

#[test]
fn reset_seq_num_flag_is_not_honoured_before_authentication() {
    let hash = cheap_hash(b"right");
    let seq = SeqNums {
        next_in: 40,
        next_out: 50,
        period_start_s: 0,
    };
    let mut g = Given::connected_with(&format!("Username=alice\nPasswordHash={hash}\n"), seq);
    let out = g.send_seq(1, "35=A|98=0|108=30|141=Y|553=alice|554=wrong|");
    assert!(!out.contains(&Action::ResetStore));
    assert!(sends(&out).is_empty(), "{out:?}");
    assert!(disconnected(&out));
    assert_eq!(g.session.seqnums(), seq);
}

#[test]
fn refused_logons_leave_the_sequence_numbers_untouched() {
    let hash = cheap_hash(b"right");
    let seq = SeqNums {
        next_in: 3,
        next_out: 3,
        period_start_s: 0,
    };
    let mut g = Given::connected_with(&format!("Username=alice\nPasswordHash={hash}\n"), seq);
    // Wrong password, then an invalid Logon with a wrong password: a plain disconnect each, no Logout.
    for body in [
        "35=A|98=0|108=30|553=alice|554=wrong|",
        "35=A|98=0|553=alice|554=wrong|",
    ] {
        let out = g.send_seq(3, body);
        assert!(sends(&out).is_empty(), "{out:?}");
        assert!(disconnected(&out));
        g.session.handle(Event::Disconnected, g.now);
        assert_eq!(g.session.seqnums(), seq);
        g.session.handle(Event::Connected, g.now);
    }
    // The real client's Logon continues where it left off.
    let out = g.send_seq(3, "35=A|98=0|108=30|553=alice|554=right|");
    assert_fields(&sends(&out)[0], "35=A|34=3|");
    assert_eq!(g.session.seqnums().next_in, 4);
}

#[test]
fn a_connection_that_never_logs_on_does_not_reset_on_disconnect() {
    let seq = SeqNums {
        next_in: 7,
        next_out: 9,
        period_start_s: 0,
    };
    let mut g = Given::connected_with("ResetOnDisconnect=Y\n", seq);
    g.session.handle(Event::Disconnected, g.now);
    assert_eq!(g.session.seqnums(), seq);
}

#[test]
fn a_wrong_begin_string_before_authentication_is_a_plain_disconnect() {
    let hash = cheap_hash(b"right");
    let mut g = Given::connected(&format!("Username=alice\nPasswordHash={hash}\n"));
    let out = g.session.handle(Event::WrongBeginString, g.now);
    assert!(sends(&out).is_empty(), "{out:?}");
    assert!(disconnected(&out));
    assert_eq!(g.session.seqnums(), SeqNums::default());
}

#[test]
fn right_credentials_log_on_and_repeated_failures_lock_out() {
    let hash = cheap_hash(b"right");
    let mut g = Given::connected(&format!("Username=alice\nPasswordHash={hash}\n"));
    for _ in 0..LOGON_FAILURES_MAX {
        let out = g.send("35=A|98=0|108=30|553=alice|554=wrong|");
        assert!(disconnected(&out));
        g.session.handle(Event::Connected, g.now);
    }
    let out = g.send("35=A|98=0|108=30|553=alice|554=right|");
    assert!(sends(&out).is_empty(), "{out:?}");
    assert!(disconnected(&out));
    g.advance(crate::auth::LOCKOUT_S);
    g.session.handle(Event::Connected, g.now);
    let out = g.send("35=A|98=0|108=30|553=alice|554=right|");
    assert_eq!(g.session.status(), Status::LoggedOn, "{out:?}");
}

#[test]
fn logon_with_bad_sending_time_is_rejected_and_logged_out() {
    let mut g = Given::connected("");
    let stale = ts(g.now - TimeDelta::seconds(121));
    let out = g.send_raw(&format!(
        "35=A|49=CLIENT|56=VENUE|34=1|52={stale}|98=0|108=30|"
    ));
    let sent = sends(&out);
    assert_fields(&sent[0], "35=3|45=1|373=10|371=52|372=A|");
    assert_fields(&sent[1], "35=5|");
    assert!(disconnected(&out));
}

#[test]
fn invalid_logon_is_logged_out() {
    let mut g = Given::connected("");
    let out = g.send("35=A|98=0|");
    assert_fields(
        &sends(&out)[0],
        "35=5|58=Invalid Logon: Required tag missing (tag 108)|",
    );
    assert!(disconnected(&out));
}

#[test]
fn no_logon_within_logon_timeout_disconnects() {
    let mut g = Given::connected("LogonTimeout=5\n");
    assert_eq!(
        g.session.next_deadline(),
        Some(start() + TimeDelta::seconds(5))
    );
    g.advance(4);
    assert!(!disconnected(&g.tick()));
    g.advance(1);
    assert!(disconnected(&g.tick()));
}

#[test]
fn logon_outside_the_schedule_is_refused() {
    // start() is 2027-01-15 08:00 UTC; the window is 09:00 to 17:00.
    let mut g = Given::connected("NonStopSession=N\nStartTime=09:00:00\nEndTime=17:00:00\n");
    let out = g.send("35=A|98=0|108=30|");
    assert_fields(
        &sends(&out)[0],
        "35=5|58=Logon refused: outside the session's hours|",
    );
    assert!(disconnected(&out));
}

#[test]
fn a_new_schedule_period_resets_sequence_numbers() {
    let mut g = Given::connected_with(
        "NonStopSession=N\nStartTime=07:00:00\nEndTime=17:00:00\n",
        SeqNums {
            next_in: 9,
            next_out: 9,
            period_start_s: 1,
        },
    );
    g.client_seq = 1;
    let out = g.send("35=A|98=0|108=30|");
    assert!(out.contains(&Action::ResetStore));
    assert_fields(&sends(&out)[0], "35=A|34=1|");
    let seq = g.session.seqnums();
    assert_eq!((seq.next_in, seq.next_out), (2, 2));
    assert_ne!(seq.period_start_s, 1);
}

#[test]
fn session_end_logs_out() {
    let mut g = Given::connected("NonStopSession=N\nStartTime=07:00:00\nEndTime=08:00:10\n");
    g.send("35=A|98=0|108=30|");
    g.advance(10);
    assert_eq!(g.session.next_deadline(), Some(g.now));
    let out = g.tick();
    assert_fields(&sends(&out)[0], "35=5|58=End of the session's hours|");
    assert!(matches!(g.session.status(), Status::LogoutSent(_)));
}

#[test]
fn reset_seq_num_flag_mid_session_resets() {
    let mut g = Given::logged_on();
    g.send("35=0|");
    let out = g.send_seq(1, "35=A|98=0|108=30|141=Y|");
    assert!(out.contains(&Action::ResetStore));
    assert_fields(&sends(&out)[0], "35=A|34=1|141=Y|");
    assert_eq!(g.session.seqnums().next_in, 2);
    assert_eq!(g.session.status(), Status::LoggedOn);
}

#[test]
fn second_logon_without_reset_is_logged_out() {
    let mut g = Given::logged_on();
    let out = g.send("35=A|98=0|108=30|");
    assert_fields(
        &sends(&out)[0],
        "35=5|58=Logon received while already logged on|",
    );
    assert!(disconnected(&out));
}

#[test]
fn reset_on_logon_config_resets_and_answers_without_141() {
    let mut g = Given::connected_with(
        "ResetOnLogon=Y\n",
        SeqNums {
            next_in: 3,
            next_out: 3,
            period_start_s: 0,
        },
    );
    let out = g.send_seq(1, "35=A|98=0|108=30|");
    assert_fields(&sends(&out)[0], "35=A|34=1|");
    assert_no_field(&sends(&out)[0], 141);
}

#[test]
fn wrong_begin_string_is_logged_out() {
    let mut g = Given::connected("");
    let out = g.session.handle(Event::WrongBeginString, g.now);
    assert_fields(
        &sends(&out)[0],
        "35=5|34=1|58=Incorrect BeginString: this venue speaks FIX.4.4|",
    );
    assert!(disconnected(&out));
}

#[test]
fn a_message_kept_for_a_session_away_since_a_new_period_is_numbered_in_that_period_and_survives_its_logon()
 {
    use crate::Routing;
    use crate::app::AppMessage;
    let clock = ManualClock::new();
    let now = clock.now();
    let old = SeqNums {
        next_in: 9,
        next_out: 9,
        period_start_s: 1,
    };
    // Never connected since the period before: a drop copy that has not logged on today.
    let mut session = Session::new(
        Arc::new(config(
            "NonStopSession=N\nStartTime=07:00:00\nEndTime=17:00:00\n",
        )),
        dict(),
        Box::new(NotAvailable),
        old,
        now,
    );
    assert!(
        session.enter_period(now),
        "the period changed: numbers reset"
    );
    assert!(!session.enter_period(now), "once");
    let seq = session.seqnums();
    assert_eq!((seq.next_in, seq.next_out), (1, 1));
    let msg = AppMessage {
        msg_type: b"8".to_vec(),
        routing: Routing::default(),
        body: b"37=O1\x0117=E1\x01".to_vec(),
    };
    let out = session.handle(Event::Send(&msg), now);
    assert_fields(&sends(&out)[0], "35=8|34=1|");
    assert!(session.handle(Event::Connected, now).is_empty());
    let mut g = Given {
        session,
        clock,
        now,
        client_seq: 1,
    };
    let out = g.send("35=A|98=0|108=30|");
    assert!(
        !out.contains(&Action::ResetStore),
        "what was kept stays: {out:?}"
    );
    // The Logon comes after the kept message: the client sees the gap and asks for it.
    assert_fields(&sends(&out)[0], "35=A|34=2|");
    // Connected: nothing changes any more.
    assert!(!g.session.enter_period(g.now + TimeDelta::days(1)));
}
