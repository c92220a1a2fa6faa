//! Tag numbers, MsgType values and enumerations the venue code uses by name.
//!
//! The dictionary knows every field; this module only names the ones Rust code refers to, so that `tags::PRICE`
//! reads better than `44`. Enumerations implement [`FixEnum`] to convert from and to wire values.

/// A FIX enumeration with a fixed wire value per variant.
pub trait FixEnum: Sized + Copy {
    fn from_fix(value: &[u8]) -> Option<Self>;
    fn to_fix(self) -> &'static [u8];
}

/// Declares an enum whose variants map one-to-one to wire values.
macro_rules! fix_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl FixEnum for $name {
            fn from_fix(value: &[u8]) -> Option<Self> {
                match value { $($wire => Some($name::$variant),)+ _ => None }
            }
            fn to_fix(self) -> &'static [u8] {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }
    };
}

fix_enum! {
    /// SessionRejectReason (373).
    SessionRejectReason {
        InvalidTagNumber = b"0",
        RequiredTagMissing = b"1",
        TagNotDefinedForMessageType = b"2",
        UndefinedTag = b"3",
        TagSpecifiedWithoutValue = b"4",
        ValueIsIncorrect = b"5",
        IncorrectDataFormat = b"6",
        DecryptionProblem = b"7",
        SignatureProblem = b"8",
        CompIdProblem = b"9",
        SendingTimeAccuracyProblem = b"10",
        InvalidMsgType = b"11",
        XmlValidationError = b"12",
        TagAppearsMoreThanOnce = b"13",
        TagSpecifiedOutOfRequiredOrder = b"14",
        RepeatingGroupFieldsOutOfOrder = b"15",
        IncorrectNumInGroupCount = b"16",
        NonDataValueIncludesFieldDelimiter = b"17",
        Other = b"99",
    }
}

impl SessionRejectReason {
    /// The text the FIX specification gives the reason, for Reject's Text (58).
    pub fn text(self) -> &'static str {
        use SessionRejectReason::*;
        match self {
            InvalidTagNumber => "Invalid tag number",
            RequiredTagMissing => "Required tag missing",
            TagNotDefinedForMessageType => "Tag not defined for this message type",
            UndefinedTag => "Undefined Tag",
            TagSpecifiedWithoutValue => "Tag specified without a value",
            ValueIsIncorrect => "Value is incorrect (out of range) for this tag",
            IncorrectDataFormat => "Incorrect data format for value",
            DecryptionProblem => "Decryption problem",
            SignatureProblem => "Signature problem",
            CompIdProblem => "CompID problem",
            SendingTimeAccuracyProblem => "SendingTime accuracy problem",
            InvalidMsgType => "Invalid MsgType",
            XmlValidationError => "XML Validation error",
            TagAppearsMoreThanOnce => "Tag appears more than once",
            TagSpecifiedOutOfRequiredOrder => "Tag specified out of required order",
            RepeatingGroupFieldsOutOfOrder => "Repeating group fields out of order",
            IncorrectNumInGroupCount => "Incorrect NumInGroup count for repeating group",
            NonDataValueIncludesFieldDelimiter => {
                "Non-data value includes field delimiter (SOH character)"
            }
            Other => "Other",
        }
    }
}

fix_enum! {
    /// BusinessRejectReason (380).
    BusinessRejectReason {
        Other = b"0",
        UnknownId = b"1",
        UnknownSecurity = b"2",
        UnsupportedMessageType = b"3",
        ApplicationNotAvailable = b"4",
        ConditionallyRequiredFieldMissing = b"5",
        NotAuthorized = b"6",
        DeliverToFirmNotAvailable = b"7",
    }
}

fix_enum! {
    /// Side (54), the values the venue trades.
    Side { Buy = b"1", Sell = b"2" }
}

fix_enum! {
    /// OrdType (40), the values the venue supports.
    OrdType { Market = b"1", Limit = b"2", Stop = b"3", StopLimit = b"4" }
}

fix_enum! {
    /// TimeInForce (59), the values the venue supports.
    TimeInForce { Day = b"0", GoodTillCancel = b"1", ImmediateOrCancel = b"3", FillOrKill = b"4", GoodTillDate = b"6" }
}

fix_enum! {
    /// ExecType (150) in FIX 4.4.
    ExecType {
        New = b"0",
        DoneForDay = b"3",
        Canceled = b"4",
        Replaced = b"5",
        PendingCancel = b"6",
        Stopped = b"7",
        Rejected = b"8",
        Suspended = b"9",
        PendingNew = b"A",
        Calculated = b"B",
        Expired = b"C",
        Restated = b"D",
        PendingReplace = b"E",
        Trade = b"F",
        TriggeredOrActivated = b"L",
        TradeCorrect = b"G",
        TradeCancel = b"H",
        OrderStatus = b"I",
    }
}

fix_enum! {
    /// OrdStatus (39) in FIX 4.4.
    OrdStatus {
        New = b"0",
        PartiallyFilled = b"1",
        Filled = b"2",
        DoneForDay = b"3",
        Canceled = b"4",
        PendingCancel = b"6",
        Stopped = b"7",
        Rejected = b"8",
        Suspended = b"9",
        PendingNew = b"A",
        Calculated = b"B",
        Expired = b"C",
        AcceptedForBidding = b"D",
        PendingReplace = b"E",
    }
}

/// MsgType (35) values the venue handles.
pub mod msg_type {
    pub const HEARTBEAT: &[u8] = b"0";
    pub const TEST_REQUEST: &[u8] = b"1";
    pub const RESEND_REQUEST: &[u8] = b"2";
    pub const REJECT: &[u8] = b"3";
    pub const SEQUENCE_RESET: &[u8] = b"4";
    pub const LOGOUT: &[u8] = b"5";
    pub const LOGON: &[u8] = b"A";
    pub const EXECUTION_REPORT: &[u8] = b"8";
    pub const ORDER_CANCEL_REJECT: &[u8] = b"9";
    pub const NEW_ORDER_SINGLE: &[u8] = b"D";
    pub const ORDER_CANCEL_REQUEST: &[u8] = b"F";
    pub const ORDER_CANCEL_REPLACE_REQUEST: &[u8] = b"G";
    pub const ORDER_STATUS_REQUEST: &[u8] = b"H";
    pub const BUSINESS_MESSAGE_REJECT: &[u8] = b"j";
    pub const ORDER_MASS_CANCEL_REQUEST: &[u8] = b"q";
    pub const ORDER_MASS_CANCEL_REPORT: &[u8] = b"r";
    pub const ORDER_MASS_STATUS_REQUEST: &[u8] = b"AF";
    pub const MARKET_DATA_REQUEST: &[u8] = b"V";
    pub const MARKET_DATA_SNAPSHOT: &[u8] = b"W";
    pub const MARKET_DATA_INCREMENTAL_REFRESH: &[u8] = b"X";
    pub const MARKET_DATA_REQUEST_REJECT: &[u8] = b"Y";
}

pub const ACCOUNT: u32 = 1;
pub const AVG_PX: u32 = 6;
pub const BEGIN_STRING: u32 = 8;
pub const BODY_LENGTH: u32 = 9;
pub const CHECK_SUM: u32 = 10;
pub const CL_ORD_ID: u32 = 11;
pub const CUM_QTY: u32 = 14;
pub const EXEC_ID: u32 = 17;
pub const EXEC_INST: u32 = 18;
pub const LAST_PX: u32 = 31;
pub const LAST_QTY: u32 = 32;
pub const MSG_SEQ_NUM: u32 = 34;
pub const MSG_TYPE: u32 = 35;
pub const NEW_SEQ_NO: u32 = 36;
pub const ORDER_ID: u32 = 37;
pub const ORDER_QTY: u32 = 38;
pub const ORD_STATUS: u32 = 39;
pub const ORD_TYPE: u32 = 40;
pub const ORIG_CL_ORD_ID: u32 = 41;
pub const POSS_DUP_FLAG: u32 = 43;
pub const PRICE: u32 = 44;
pub const REF_SEQ_NUM: u32 = 45;
pub const SENDER_COMP_ID: u32 = 49;
pub const SENDER_SUB_ID: u32 = 50;
pub const SENDING_TIME: u32 = 52;
pub const SIDE: u32 = 54;
pub const SYMBOL: u32 = 55;
pub const TARGET_COMP_ID: u32 = 56;
pub const TARGET_SUB_ID: u32 = 57;
pub const TEXT: u32 = 58;
pub const TIME_IN_FORCE: u32 = 59;
pub const TRANSACT_TIME: u32 = 60;
pub const SIGNATURE: u32 = 89;
pub const SECURE_DATA_LEN: u32 = 90;
pub const SECURE_DATA: u32 = 91;
pub const SIGNATURE_LENGTH: u32 = 93;
pub const POSS_RESEND: u32 = 97;
pub const ENCRYPT_METHOD: u32 = 98;
pub const STOP_PX: u32 = 99;
pub const ORD_REJ_REASON: u32 = 103;
pub const HEART_BT_INT: u32 = 108;
pub const TEST_REQ_ID: u32 = 112;
pub const ON_BEHALF_OF_COMP_ID: u32 = 115;
pub const ON_BEHALF_OF_SUB_ID: u32 = 116;
pub const ORIG_SENDING_TIME: u32 = 122;
pub const GAP_FILL_FLAG: u32 = 123;
pub const DELIVER_TO_COMP_ID: u32 = 128;
pub const DELIVER_TO_SUB_ID: u32 = 129;
pub const RESET_SEQ_NUM_FLAG: u32 = 141;
pub const ON_BEHALF_OF_LOCATION_ID: u32 = 144;
pub const DELIVER_TO_LOCATION_ID: u32 = 145;
pub const EXEC_TYPE: u32 = 150;
pub const LEAVES_QTY: u32 = 151;
pub const NO_MD_ENTRIES: u32 = 268;
pub const MD_ENTRY_TYPE: u32 = 269;
pub const MD_ENTRY_PX: u32 = 270;
pub const MD_ENTRY_SIZE: u32 = 271;
pub const MD_UPDATE_ACTION: u32 = 279;
pub const REF_TAG_ID: u32 = 371;
pub const REF_MSG_TYPE: u32 = 372;
pub const SESSION_REJECT_REASON: u32 = 373;
pub const BUSINESS_REJECT_REASON: u32 = 380;
pub const TRD_MATCH_ID: u32 = 880;
pub const SECONDARY_EXEC_ID: u32 = 527;
pub const LAST_LIQUIDITY_IND: u32 = 851;
pub const USERNAME: u32 = 553;
pub const CXL_REJ_REASON: u32 = 102;
pub const MIN_QTY: u32 = 110;
pub const MAX_FLOOR: u32 = 111;
pub const EXPIRE_TIME: u32 = 126;
pub const EXPIRE_DATE: u32 = 432;
pub const CXL_REJ_RESPONSE_TO: u32 = 434;
pub const MASS_CANCEL_REQUEST_TYPE: u32 = 530;
pub const MASS_CANCEL_RESPONSE: u32 = 531;
pub const MASS_CANCEL_REJECT_REASON: u32 = 532;
pub const TOTAL_AFFECTED_ORDERS: u32 = 533;
pub const MASS_STATUS_REQ_ID: u32 = 584;
pub const MASS_STATUS_REQ_TYPE: u32 = 585;
pub const ORD_STATUS_REQ_ID: u32 = 790;
pub const TOT_NUM_REPORTS: u32 = 911;
pub const LAST_RPT_REQUESTED: u32 = 912;
/// The venue's user-defined Logon field: Y/N overrides the session's CancelOnDisconnect setting.
pub const CANCEL_ON_DISCONNECT: u32 = 5001;
pub const PASSWORD: u32 = 554;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for r in SessionRejectReason::ALL {
            assert_eq!(SessionRejectReason::from_fix(r.to_fix()), Some(*r));
        }
        assert_eq!(SessionRejectReason::ALL.len(), 19);
        assert_eq!(ExecType::from_fix(b"F"), Some(ExecType::Trade));
        assert_eq!(Side::from_fix(b"3"), None);
        assert_eq!(OrdStatus::Filled.to_fix(), b"2");
    }
}
