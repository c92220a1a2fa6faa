//! Third-party routing is reflected on answers.

use super::*;

#[test]
fn on_behalf_of_comes_back_as_deliver_to() {
    let mut g = Given::logged_on();
    let out = g.send_raw(&format!(
        "35=1|49=CLIENT|56=VENUE|115=FIRM|116=DESK|144=LDN|34=2|52={}|112=r|",
        ts(g.now)
    ));
    let sent = &sends(&out)[0];
    assert_fields(sent, "35=0|128=FIRM|129=DESK|145=LDN|112=r|");
    assert_no_field(sent, 115);
}

#[test]
fn deliver_to_comes_back_as_on_behalf_of_on_rejects() {
    let mut g = Given::logged_on();
    let out = g.send_raw(&format!(
        "35=D|49=CLIENT|56=VENUE|128=BROKER|34=2|52={}|11=a|21=1|55=X|54=1|60=20270115-08:00:00|40=2|38=1|44=1|",
        ts(g.now)
    ));
    assert_fields(&sends(&out)[0], "35=j|115=BROKER|380=4|");
    let out = g.send_raw(&format!(
        "35=1|49=CLIENT|56=VENUE|128=BROKER|34=3|52={}|",
        ts(g.now)
    ));
    assert_fields(&sends(&out)[0], "35=3|115=BROKER|373=1|");
}
