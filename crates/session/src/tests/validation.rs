//! Validation rejects, CompID and SendingTime checks, unsupported and application messages.

use super::*;

#[test]
fn dictionary_rejects_carry_the_reference_fields_and_consume_the_number() {
    let mut g = Given::logged_on();
    let cases = [
        ("35=1|112=x|9999=1|", "373=0|371=9999|"),
        ("35=1|", "373=1|371=112|"),
        ("35=1|112=x|44=1|", "373=2|371=44|"),
        ("35=1|112=|", "373=4|371=112|"),
        (
            "35=D|11=a|21=1|55=X|54=X|60=20270115-08:00:00|40=2|38=1|44=1|",
            "373=5|371=54|",
        ),
        (
            "35=D|11=a|21=1|55=X|54=1|60=notatime|40=2|38=1|44=1|",
            "373=6|371=60|",
        ),
        ("35=1|112=x|112=y|", "373=13|371=112|"),
        ("35=ZZ|", "373=11|371=35|"),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let seq = g.client_seq;
        let out = g.send(body);
        let sent = sends(&out);
        assert_eq!(sent.len(), 1, "{body}: {sent:?}");
        assert_fields(&sent[0], &format!("35=3|45={seq}|{expected}58=*|"));
        assert_eq!(g.session.seqnums().next_in, seq + 1, "case {i}");
        assert!(!disconnected(&out));
    }
}

#[test]
fn header_field_in_the_body_is_rejected_14() {
    let mut g = Given::logged_on();
    let out = g.send("35=1|112=x|50=SUB|");
    assert_fields(&sends(&out)[0], "35=3|373=14|371=50|");
}

#[test]
fn comp_id_mismatch_is_rejected_and_logged_out() {
    let mut g = Given::logged_on();
    let out = g.send_raw(&format!("35=0|49=INTRUDER|56=VENUE|34=2|52={}|", ts(g.now)));
    let sent = sends(&out);
    assert_fields(&sent[0], "35=3|45=2|373=9|371=49|");
    assert_fields(&sent[1], "35=5|58=CompID problem|");
    assert!(disconnected(&out));
}

#[test]
fn sending_time_out_of_range_is_rejected_and_logged_out() {
    let mut g = Given::logged_on();
    let future = ts(g.now + TimeDelta::seconds(121));
    let out = g.send_raw(&format!("35=0|49=CLIENT|56=VENUE|34=2|52={future}|"));
    let sent = sends(&out);
    assert_fields(&sent[0], "35=3|373=10|371=52|");
    assert_fields(&sent[1], "35=5|");
}

#[test]
fn check_latency_off_accepts_any_sending_time() {
    let mut g = Given::connected("CheckLatency=N\n");
    let stale = ts(g.now - TimeDelta::days(1));
    let out = g.send_raw(&format!(
        "35=A|49=CLIENT|56=VENUE|34=1|52={stale}|98=0|108=30|"
    ));
    assert_fields(&sends(&out)[0], "35=A|");
}

#[test]
fn unsupported_message_type_gets_business_reject_3() {
    let mut g = Given::logged_on();
    let out = g.send("35=c|320=R1|321=0|");
    assert_fields(&sends(&out)[0], "35=j|45=2|372=c|380=3|");
    assert_eq!(g.session.seqnums().next_in, 3);
}

#[test]
fn application_message_gets_exactly_one_business_reject_4() {
    let mut g = Given::logged_on();
    let out = g.send("35=D|11=a|21=1|55=X|54=1|60=20270115-08:00:00|40=2|38=1|44=1|");
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert_fields(&sent[0], "35=j|34=2|45=2|372=D|380=4|");
    assert!(matches!(&out[0], Action::Send(o) if o.store));
}

#[test]
fn reject_from_the_client_is_logged_and_consumes_its_number() {
    let mut g = Given::logged_on();
    let out = g.send("35=3|45=1|58=bad|");
    assert!(sends(&out).is_empty());
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Log(_, t) if t.contains("Reject received")))
    );
    assert_eq!(g.session.seqnums().next_in, 3);
}

#[test]
fn repeating_group_with_count_zero_is_accepted() {
    let mut g = Given::logged_on();
    let out = g.send("35=V|262=R1|263=0|264=0|268=0|146=1|55=X|");
    let sent = sends(&out);
    // NoMDEntryTypes=0 while the dictionary requires entries: a NumInGroup problem, or the request goes to the
    // application. Either way one answer, not a crash.
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[test]
fn redact_hides_passwords() {
    let frame = fix::frame::from_text(
        "35=A|49=C|56=V|34=1|52=20270115-08:00:00|98=0|108=30|553=u|554=secret|95=3|96=a\x01b|",
    );
    let text = String::from_utf8_lossy(&crate::redact(&frame)).replace('\x01', "|");
    assert!(!text.contains("secret") && !text.contains("a|b"), "{text}");
    assert!(
        text.contains("|554=***|") && text.contains("|96=***|") && text.contains("|553=u|"),
        "{text}"
    );
}
