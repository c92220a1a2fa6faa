//! Arbitrary event sequences ([`crate::fuzz::drive`]) keep the session's invariants.

use proptest::prelude::*;

use super::*;
use crate::fuzz::drive;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_event_sequences_keep_the_invariants(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        drive(Arc::new(config("")), dict(), &data);
    }
}

#[test]
fn a_scripted_run_sends_and_disconnects() {
    // Logon (op 0, type A, seq 1, no flags, time now, fields 98=0 and 108=30), then a TestRequest, then a
    // Logout: the session answers each.
    let logon = [0u8, 0, 0, 0, 0, 2, 0, 1];
    let test_request = [1u8, 2, 0, 0, 0, 1, 3];
    let logout = [2u8, 6, 0, 0, 0, 0];
    let script: Vec<u8> = [&logon[..], &test_request, &logout].concat();
    let report = drive(Arc::new(config("")), dict(), &script);
    assert_eq!(report.events, 3);
    assert_eq!(report.sent, 3, "{report:?}");
    assert_eq!(report.disconnects, 1);
}
