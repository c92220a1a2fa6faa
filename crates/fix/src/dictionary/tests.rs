//! Unit tests of the dictionary loader, and the small dictionary the decoder and validator tests share.

use super::*;

/// A small dictionary for unit tests: the header, the trailer, Heartbeat, NewOrderSingle (with Parties and
/// nested PtysSubGrp), MarketDataIncrementalRefresh, a user-defined field, and one known but unhandled MsgType.
pub(crate) const MINI_XML: &str = r#"<fix type="FIX" major="4" minor="4" servicepack="0">
 <header>
  <field name="BeginString" required="Y"/><field name="BodyLength" required="Y"/><field name="MsgType" required="Y"/>
  <field name="SenderCompID" required="Y"/><field name="TargetCompID" required="Y"/>
  <field name="OnBehalfOfCompID" required="N"/><field name="DeliverToCompID" required="N"/>
  <field name="SecureDataLen" required="N"/><field name="SecureData" required="N"/>
  <field name="MsgSeqNum" required="Y"/><field name="PossDupFlag" required="N"/>
  <field name="SendingTime" required="Y"/><field name="OrigSendingTime" required="N"/>
 </header>
 <messages>
  <message name="Heartbeat" msgtype="0" msgcat="admin"><field name="TestReqID" required="N"/></message>
  <message name="NewOrderSingle" msgtype="D" msgcat="app">
   <field name="ClOrdID" required="Y"/>
   <component name="Parties" required="N"/>
   <field name="Account" required="N"/>
   <field name="HandlInst" required="N"/>
   <field name="ExecInst" required="N"/>
   <component name="Instrument" required="Y"/>
   <field name="Side" required="Y"/>
   <field name="TransactTime" required="Y"/>
   <field name="OrderQty" required="N"/>
   <field name="OrdType" required="Y"/>
   <field name="Price" required="N"/>
   <field name="RawDataLength" required="N"/><field name="RawData" required="N"/>
   <field name="Text" required="N"/>
   <field name="CancelOnDisconnect" required="N"/>
  </message>
  <message name="MarketDataIncrementalRefresh" msgtype="X" msgcat="app">
   <field name="MDReqID" required="N"/>
   <group name="NoMDEntries" required="Y">
    <field name="MDUpdateAction" required="Y"/><field name="MDEntryType" required="N"/><field name="MDEntryID" required="N"/>
    <component name="Instrument" required="N"/>
    <field name="MDEntryPx" required="N"/><field name="MDEntrySize" required="N"/>
   </group>
  </message>
 </messages>
 <trailer><field name="SignatureLength" required="N"/><field name="Signature" required="N"/><field name="CheckSum" required="Y"/></trailer>
 <components>
  <component name="Instrument"><field name="Symbol" required="Y"/><field name="SecurityType" required="N"/></component>
  <component name="Parties">
   <group name="NoPartyIDs" required="N">
    <field name="PartyID" required="N"/><field name="PartyIDSource" required="N"/><field name="PartyRole" required="N"/>
    <component name="PtysSubGrp" required="N"/>
   </group>
  </component>
  <component name="PtysSubGrp">
   <group name="NoPartySubIDs" required="N"><field name="PartySubID" required="Y"/><field name="PartySubIDType" required="N"/></group>
  </component>
 </components>
 <fields>
  <field number="1" name="Account" type="STRING"/>
  <field number="8" name="BeginString" type="STRING"/>
  <field number="9" name="BodyLength" type="LENGTH"/>
  <field number="10" name="CheckSum" type="STRING"/>
  <field number="11" name="ClOrdID" type="STRING"/>
  <field number="18" name="ExecInst" type="MULTIPLEVALUESTRING"><value enum="1" description="NOT_HELD"/><value enum="6" description="PARTICIPANT_DONT_INITIATE"/><value enum="G" description="ALL_OR_NONE"/></field>
  <field number="21" name="HandlInst" type="CHAR"><value enum="1" description="A"/><value enum="2" description="B"/><value enum="3" description="C"/></field>
  <field number="34" name="MsgSeqNum" type="SEQNUM"/>
  <field number="35" name="MsgType" type="STRING"><value enum="0" description="HEARTBEAT"/><value enum="D" description="ORDER_SINGLE"/><value enum="X" description="MD_INCR"/><value enum="d" description="SECURITY_DEFINITION"/></field>
  <field number="38" name="OrderQty" type="QTY"/>
  <field number="40" name="OrdType" type="CHAR"><value enum="1" description="MARKET"/><value enum="2" description="LIMIT"/></field>
  <field number="43" name="PossDupFlag" type="BOOLEAN"/>
  <field number="44" name="Price" type="PRICE"/>
  <field number="49" name="SenderCompID" type="STRING"/>
  <field number="52" name="SendingTime" type="UTCTIMESTAMP"/>
  <field number="54" name="Side" type="CHAR"><value enum="1" description="BUY"/><value enum="2" description="SELL"/></field>
  <field number="55" name="Symbol" type="STRING"/>
  <field number="56" name="TargetCompID" type="STRING"/>
  <field number="58" name="Text" type="STRING"/>
  <field number="60" name="TransactTime" type="UTCTIMESTAMP"/>
  <field number="89" name="Signature" type="DATA"/>
  <field number="90" name="SecureDataLen" type="LENGTH"/>
  <field number="91" name="SecureData" type="DATA"/>
  <field number="93" name="SignatureLength" type="LENGTH"/>
  <field number="95" name="RawDataLength" type="LENGTH"/>
  <field number="96" name="RawData" type="DATA"/>
  <field number="112" name="TestReqID" type="STRING"/>
  <field number="115" name="OnBehalfOfCompID" type="STRING"/>
  <field number="122" name="OrigSendingTime" type="UTCTIMESTAMP"/>
  <field number="128" name="DeliverToCompID" type="STRING"/>
  <field number="167" name="SecurityType" type="STRING"><value enum="CS" description="COMMON_STOCK"/><value enum="FUT" description="FUTURE"/></field>
  <field number="262" name="MDReqID" type="STRING"/>
  <field number="268" name="NoMDEntries" type="NUMINGROUP"/>
  <field number="269" name="MDEntryType" type="CHAR"><value enum="0" description="BID"/><value enum="1" description="OFFER"/><value enum="2" description="TRADE"/></field>
  <field number="270" name="MDEntryPx" type="PRICE"/>
  <field number="271" name="MDEntrySize" type="QTY"/>
  <field number="278" name="MDEntryID" type="STRING"/>
  <field number="279" name="MDUpdateAction" type="CHAR"><value enum="0" description="NEW"/><value enum="1" description="CHANGE"/><value enum="2" description="DELETE"/></field>
  <field number="447" name="PartyIDSource" type="CHAR"><value enum="D" description="PROPRIETARY"/></field>
  <field number="448" name="PartyID" type="STRING"/>
  <field number="452" name="PartyRole" type="INT"><value enum="1" description="EXECUTING_FIRM"/><value enum="3" description="CLIENT_ID"/><value enum="11" description="ORDER_ORIGINATION_TRADER"/></field>
  <field number="453" name="NoPartyIDs" type="NUMINGROUP"/>
  <field number="523" name="PartySubID" type="STRING"/>
  <field number="802" name="NoPartySubIDs" type="NUMINGROUP"/>
  <field number="803" name="PartySubIDType" type="INT"/>
  <field number="5001" name="CancelOnDisconnect" type="BOOLEAN"/>
  <field number="5002" name="UnusedUserField" type="STRING"/>
 </fields>
</fix>"#;

pub(crate) fn mini() -> Dictionary {
    Dictionary::from_xml(MINI_XML).expect("mini dictionary loads")
}

#[test]
fn loads_structure() {
    let d = mini();
    let nos = d.message(b"D").unwrap();
    assert_eq!(&*nos.name, "NewOrderSingle");
    assert!(!nos.admin);
    // Instrument is required, so Symbol is; Parties is not, so nothing in it is.
    let required: Vec<u32> = nos
        .body
        .required_positions()
        .iter()
        .map(|&p| nos.body.member(p.into()).tag)
        .collect();
    assert_eq!(required, vec![11, 55, 54, 60, 40]);
    let parties = nos.body.group(453).unwrap();
    assert_eq!(parties.delimiter, 448);
    let sub = parties.entry.group(802).unwrap();
    assert_eq!(sub.delimiter, 523);
    assert!(sub.entry.member(0).required);
    assert!(d.message(b"d").is_none());
    assert!(d.is_known_msg_type(b"d"));
    assert!(!d.is_known_msg_type(b"ZZ"));
    assert_eq!(d.section(52), Section::Header);
    assert_eq!(d.section(10), Section::Trailer);
    assert_eq!(d.section(11), Section::Body);
    assert_eq!(d.section(123_456), Section::Body);
    assert_eq!(d.data_tag_for_length(95), Some(96));
    assert_eq!(d.data_tag_for_length(90), Some(91));
    assert_eq!(d.data_tag_for_length(93), Some(89));
    assert_eq!(d.data_tag_for_length(11), None);
    assert_eq!(d.tag_of("ClOrdID"), Some(11));
}

#[test]
fn enumerations() {
    let d = mini();
    let side = d.field(54).unwrap();
    assert!(side.allows(b"1") && !side.allows(b"3") && !side.allows(b"12"));
    let sec_type = d.field(167).unwrap();
    assert!(sec_type.allows(b"FUT") && sec_type.allows(b"CS") && !sec_type.allows(b"BOO"));
    let exec_inst = d.field(18).unwrap();
    assert!(
        exec_inst.allows(b"6")
            && exec_inst.allows(b"1 G")
            && !exec_inst.allows(b"1 Z")
            && !exec_inst.allows(b"1  G")
    );
    let role = d.field(452).unwrap();
    assert!(role.allows(b"11") && !role.allows(b"2"));
    assert!(!d.field(55).unwrap().is_enumerated());
}

#[test]
fn broken_dictionaries_are_refused_with_a_reason() {
    let cases = [
        (
            MINI_XML.replace(
                r#"<field name="Side" required="Y"/>"#,
                r#"<field name="Sidе" required="Y"/>"#,
            ),
            "Sidе is used but not defined",
        ),
        (
            MINI_XML.replace(
                r#"number="54" name="Side" type="CHAR""#,
                r#"number="54" name="Side" type="WHATEVER""#,
            ),
            "unknown type",
        ),
        (
            MINI_XML.replace(r#"number="58""#, r#"number="55""#),
            "defined twice",
        ),
        (
            MINI_XML.replace(
                r#"<component name="Instrument" required="Y"/>"#,
                r#"<component name="Instrumnt" required="Y"/>"#,
            ),
            "unknown component",
        ),
        (
            MINI_XML.replace(r#"msgtype="X""#, r#"msgtype="XX""#),
            "which field 35 does not list",
        ),
        (
            MINI_XML.replace(
                r#"<field name="MDReqID" required="N"/>"#,
                r#"<field name="MDReqID" required="N"/><field name="MDReqID" required="N"/>"#,
            ),
            "appears twice",
        ),
        (
            MINI_XML
                .replace("<header>", "<header><component name=\"Loop\"/>")
                .replace(
                    "<components>",
                    "<components><component name=\"Loop\"><component name=\"Loop\"/></component>",
                ),
            "too deep",
        ),
    ];
    for (xml, expect) in cases {
        let err = Dictionary::from_xml(&xml).unwrap_err().to_string();
        assert!(err.contains(expect), "{err} should contain {expect}");
    }
    assert!(matches!(
        Dictionary::from_xml("<fix"),
        Err(DictionaryError::Xml(_))
    ));
}
