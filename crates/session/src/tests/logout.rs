//! Logout and disconnection.

use super::*;

#[test]
fn client_logout_is_answered_then_disconnected() {
    let mut g = Given::logged_on();
    let out = g.send("35=5|");
    assert_fields(&sends(&out)[0], "35=5|34=2|");
    assert!(disconnected(&out));
}

#[test]
fn venue_logout_waits_logout_timeout_for_the_answer() {
    let mut g = Given::logged_on();
    let out = g.session.handle(Event::Shutdown, g.now);
    assert_fields(&sends(&out)[0], "35=5|58=Venue shutting down|");
    assert!(!disconnected(&out));
    g.advance(1);
    assert!(!disconnected(&g.tick()));
    let out = g.send("35=5|");
    assert!(sends(&out).is_empty(), "no second Logout: {out:?}");
    assert!(disconnected(&out));
}

#[test]
fn a_venue_that_halts_after_a_failure_says_why_in_its_logout() {
    let mut g = Given::logged_on();
    let out = g.session.handle(
        Event::Halted("the sequencer stopped: journal fdatasync failed"),
        g.now,
    );
    assert_fields(
        &sends(&out)[0],
        "35=5|58=Venue stopping after a failure: the sequencer stopped: journal fdatasync failed|",
    );
    g.advance(2);
    assert!(disconnected(&g.tick()));
}

#[test]
fn operator_logout_says_so_and_waits_for_the_answer() {
    let mut g = Given::logged_on();
    let out = g.session.handle(
        Event::OperatorLogout("Logged out by the venue operator"),
        g.now,
    );
    assert_fields(&sends(&out)[0], "35=5|58=Logged out by the venue operator|");
    assert!(!disconnected(&out));
    let out = g.send("35=5|");
    assert!(disconnected(&out));
    // Nothing to log out once disconnected.
    let out = g.session.handle(
        Event::OperatorLogout("Logged out by the venue operator"),
        g.now,
    );
    assert!(sends(&out).is_empty(), "{out:?}");
}

#[test]
fn venue_logout_without_answer_disconnects_after_logout_timeout() {
    let mut g = Given::logged_on();
    g.session.handle(Event::Shutdown, g.now);
    g.advance(2);
    assert!(disconnected(&g.tick()));
}

#[test]
fn reset_on_logout_and_on_disconnect() {
    let mut g = Given::connected("ResetOnLogout=Y\n");
    g.send("35=A|98=0|108=30|");
    let out = g.send("35=5|");
    assert!(out.contains(&Action::ResetStore));
    assert_eq!(g.session.seqnums().next_in, 1);

    let mut g = Given::connected("ResetOnDisconnect=Y\n");
    g.send("35=A|98=0|108=30|");
    let out = g.session.handle(Event::Disconnected, g.now);
    assert!(out.contains(&Action::ResetStore));
    assert_eq!(g.session.seqnums().next_out, 1);
}

#[test]
fn numbers_survive_a_disconnect_by_default() {
    let mut g = Given::logged_on();
    g.send("35=0|");
    g.session.handle(Event::Disconnected, g.now);
    assert_eq!(
        g.session.seqnums(),
        SeqNums {
            next_in: 3,
            next_out: 2,
            period_start_s: 0
        }
    );
}
