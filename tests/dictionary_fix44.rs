//! The embedded fix-spec/FIX44.xml loads and holds what the venue promises to clients.

use fix::dictionary::{Dictionary, FieldType};

fn dict() -> Dictionary {
    Dictionary::fix44().expect("fix-spec/FIX44.xml loads")
}

#[test]
fn supports_exactly_the_venue_messages() {
    let d = dict();
    let mut supported: Vec<String> = d
        .messages()
        .map(|m| String::from_utf8(m.msg_type.to_vec()).unwrap())
        .collect();
    supported.sort();
    let mut expected: Vec<String> = [
        "0", "1", "2", "3", "4", "5", "A", "D", "F", "G", "H", "AF", "q", "r", "8", "9", "j", "V",
        "W", "X", "Y", "x", "y", "e", "f", "g", "h", "AD", "AQ", "AE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.sort();
    assert_eq!(supported, expected);
    for admin in ["0", "1", "2", "3", "4", "5", "A"] {
        assert!(d.message(admin.as_bytes()).unwrap().admin, "{admin}");
    }
    assert!(!d.message(b"D").unwrap().admin);
}

#[test]
fn knows_every_fix44_msg_type() {
    let d = dict();
    // Standard types the venue does not handle are known (BusinessMessageReject 380=3) ...
    for t in ["d", "c", "E", "AB", "BH", "B", "C", "BE"] {
        assert!(d.is_known_msg_type(t.as_bytes()), "{t}");
        assert!(d.message(t.as_bytes()).is_none(), "{t}");
    }
    // ... while others are not FIX 4.4 at all (Reject 373=11).
    for t in ["BI", "ZZ", "U1", "", "AAA"] {
        assert!(!d.is_known_msg_type(t.as_bytes()), "{t}");
    }
}

#[test]
fn key_fields_and_enums() {
    let d = dict();
    let handl_inst = d.field(21).unwrap();
    assert!(handl_inst.allows(b"1") && handl_inst.allows(b"3") && !handl_inst.allows(b"4"));
    let sec_type = d.field(167).unwrap();
    assert!(sec_type.allows(b"CS") && sec_type.allows(b"FUT") && !sec_type.allows(b"BOO"));
    // Char fields whose standard values have two characters.
    assert!(d.field(139).unwrap().allows(b"12") && d.field(532).unwrap().allows(b"99"));
    assert_eq!(d.field(139).unwrap().field_type, FieldType::String);
    // Private ranges the XML cannot list.
    assert!(d.field(847).unwrap().allows(b"1000") && !d.field(847).unwrap().allows(b"999"));
    assert!(d.field(803).unwrap().allows(b"4001") && d.field(803).unwrap().allows(b"1"));
    assert!(d.field(27).unwrap().allows(b"1500"));
    assert_eq!(d.field(44).unwrap().field_type, FieldType::Price);
    assert_eq!(d.field(38).unwrap().field_type, FieldType::Qty);
    assert_eq!(d.field(52).unwrap().field_type, FieldType::UtcTimestamp);
    assert_eq!(d.field(453).unwrap().field_type, FieldType::NumInGroup);
    assert_eq!(d.data_tag_for_length(95), Some(96));
    assert_eq!(d.data_tag_for_length(93), Some(89));
    assert_eq!(d.data_tag_for_length(354), Some(355));
    // Our user-defined field, on Logon.
    let cod = d
        .tag_of("CancelOnDisconnect")
        .expect("CancelOnDisconnect is declared");
    assert!(cod >= 5000);
    assert!(d.message(b"A").unwrap().body.contains(cod));
    // Every standard tag of FIX 4.4 is defined, so "not in this message" (2) differs from "undefined" (0).
    assert!(d.fields().filter(|f| f.tag < 5000).count() > 900);
}

#[test]
fn groups_whose_entries_start_with_a_component() {
    let d = dict();
    let v = d.message(b"V").unwrap();
    let related = v.body.group(146).expect("NoRelatedSym");
    assert_eq!(related.delimiter, 55);
    let nos = d.message(b"D").unwrap();
    assert_eq!(nos.body.group(453).expect("NoPartyIDs").delimiter, 448);
}
