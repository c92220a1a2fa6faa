//! Heartbeats and TestRequest.

use super::*;

#[test]
fn heartbeat_after_heartbtint_without_sending() {
    let mut g = Given::logged_on();
    assert_eq!(
        g.session.next_deadline(),
        Some(g.now + TimeDelta::seconds(30))
    );
    g.advance(29);
    g.send("35=0|"); // the client is alive
    g.advance(1);
    let out = g.tick();
    assert_fields(&sends(&out)[0], "35=0|34=2|");
    assert_no_field(&sends(&out)[0], 112);
}

#[test]
fn silence_brings_a_test_request_then_a_disconnect() {
    let mut g = Given::logged_on();
    g.advance(30);
    let out = g.tick();
    assert_eq!(sends(&out).len(), 1, "{out:?}"); // the heartbeat
    g.advance(6); // 36 s = 1.2 x 30 without receiving
    let out = g.tick();
    assert_fields(&sends(&out)[0], "35=1|112=TEST-1|");
    // No heartbeats while the TestRequest is outstanding.
    g.advance(35);
    let out = g.tick();
    assert!(sends(&out).is_empty() && !disconnected(&out), "{out:?}");
    g.advance(1); // 72 s = 2.4 x 30
    assert!(disconnected(&g.tick()));
}

#[test]
fn a_late_tick_sends_the_due_heartbeat_not_a_test_request() {
    let mut g = Given::logged_on();
    // The tick due at 30 s comes at 37 s (a loaded machine): past 1.2 x 30 of silence too.
    g.advance(37);
    let out = g.tick();
    assert_eq!(sends(&out).len(), 1, "{out:?}");
    assert_fields(&sends(&out)[0], "35=0|");
    assert_no_field(&sends(&out)[0], 112);
    // The peer gets a fifth of HeartBtInt after that Heartbeat before it is asked with a TestRequest.
    assert_eq!(
        g.session.next_deadline(),
        Some(g.now + TimeDelta::seconds(6))
    );
    g.advance(5);
    assert!(sends(&g.tick()).is_empty());
    g.advance(1);
    let out = g.tick();
    assert_fields(&sends(&out)[0], "35=1|112=TEST-1|");
}

#[test]
fn a_peer_that_answers_after_a_late_heartbeat_gets_no_test_request() {
    let mut g = Given::logged_on();
    g.advance(37);
    g.tick();
    g.advance(1);
    g.send("35=0|");
    g.advance(5);
    assert!(sends(&g.tick()).is_empty());
}

#[test]
fn an_answer_clears_the_test_request() {
    let mut g = Given::logged_on();
    g.advance(36);
    g.tick();
    let out = g.tick();
    assert!(sends(&out).is_empty());
    g.send("35=0|112=TEST-1|");
    g.advance(40);
    assert!(!disconnected(&g.tick()));
}

#[test]
fn test_request_is_answered_with_its_id() {
    let mut g = Given::logged_on();
    let out = g.send("35=1|112=ABC 123|");
    assert_fields(&sends(&out)[0], "35=0|112=ABC 123|");
}
