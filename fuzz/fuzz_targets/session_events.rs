//! Arbitrary event sequences through the session state machine (client messages near the expected MsgSeqNum,
//! raw bytes, time passing, disconnects, shutdowns, application sends). `session::fuzz::drive` panics
//! on a broken invariant: a sent message that does not frame or decode, outgoing numbers that are not
//! consecutive, a resend beyond the last sent number, a send while disconnected.

#![no_main]

use std::sync::{Arc, OnceLock};

use fix::Dictionary;
use session::config::{SessionConfig, parse};
use libfuzzer_sys::fuzz_target;

fn setup() -> &'static (Arc<SessionConfig>, Arc<Dictionary>) {
    static SETUP: OnceLock<(Arc<SessionConfig>, Arc<Dictionary>)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let text = "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=VENUE\nNonStopSession=Y\n[SESSION]\nTargetCompID=CLIENT\n";
        let config = parse("fuzz.cfg", text).expect("the fuzz configuration parses").sessions.remove(0);
        (Arc::new(config), Arc::new(Dictionary::fix44().expect("the embedded dictionary loads")))
    })
}

fuzz_target!(|data: &[u8]| {
    let (config, dict) = setup();
    session::fuzz::drive(Arc::clone(config), Arc::clone(dict), data);
});
