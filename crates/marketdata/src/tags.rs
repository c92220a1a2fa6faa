//! The FIX tags and values of market data, reference data and status that the venue reads and writes (the order
//! entry ones live in `fix::tags`).

pub const CURRENCY: u32 = 15;
pub const ORDER_ID: u32 = 37;
pub const SYMBOL: u32 = 55;
pub const TEXT: u32 = 58;
/// RptSeq: in FIX 4.4 neither W nor MDIncGrp carries it; a venue extension (fix-spec/FIX44.xml).
pub const RPT_SEQ: u32 = 83;
pub const NO_RELATED_SYM: u32 = 146;
pub const MD_REQ_ID: u32 = 262;
pub const SUBSCRIPTION_REQUEST_TYPE: u32 = 263;
pub const MARKET_DEPTH: u32 = 264;
pub const MD_UPDATE_TYPE: u32 = 265;
pub const AGGREGATED_BOOK: u32 = 266;
pub const NO_MD_ENTRY_TYPES: u32 = 267;
pub const NO_MD_ENTRIES: u32 = 268;
pub const MD_ENTRY_TYPE: u32 = 269;
pub const MD_ENTRY_PX: u32 = 270;
pub const MD_ENTRY_SIZE: u32 = 271;
pub const MD_ENTRY_TIME: u32 = 273;
pub const MD_UPDATE_ACTION: u32 = 279;
pub const MD_REQ_REJ_REASON: u32 = 281;
pub const OPEN_CLOSE_SETTL_FLAG: u32 = 286;
pub const MD_ENTRY_POSITION_NO: u32 = 290;
pub const SECURITY_REQ_ID: u32 = 320;
pub const SECURITY_RESPONSE_ID: u32 = 322;
pub const SECURITY_STATUS_REQ_ID: u32 = 324;
pub const UNSOLICITED_INDICATOR: u32 = 325;
pub const SECURITY_TRADING_STATUS: u32 = 326;
pub const TRAD_SES_REQ_ID: u32 = 335;
pub const TRADING_SESSION_ID: u32 = 336;
pub const TRADING_SESSION_SUB_ID: u32 = 625;
pub const TRAD_SES_METHOD: u32 = 338;
pub const TRAD_SES_MODE: u32 = 339;
pub const TRAD_SES_STATUS: u32 = 340;
pub const NUMBER_OF_ORDERS: u32 = 346;
pub const TOT_NO_RELATED_SYM: u32 = 393;
pub const NO_TRADING_SESSIONS: u32 = 386;
pub const SCOPE: u32 = 546;
pub const MD_IMPLICIT_DELETE: u32 = 547;
pub const SECURITY_LIST_REQUEST_TYPE: u32 = 559;
pub const SECURITY_REQUEST_RESULT: u32 = 560;
pub const ROUND_LOT: u32 = 561;
pub const MIN_TRADE_VOL: u32 = 562;
pub const TRAD_SES_STATUS_REJ_REASON: u32 = 567;
pub const APPL_QUEUE_MAX: u32 = 812;
pub const APPL_QUEUE_ACTION: u32 = 815;
/// MinPriceIncrement: FIX 5.0's tick size; a venue extension in FIX 4.4's SecurityList.
pub const MIN_PRICE_INCREMENT: u32 = 969;
/// MaxTradeVol: FIX 5.0's largest order quantity; a venue extension in FIX 4.4's SecurityList.
pub const MAX_TRADE_VOL: u32 = 1140;

pub mod msg_type {
    pub const MARKET_DATA_REQUEST: &[u8] = b"V";
    pub const SNAPSHOT: &[u8] = b"W";
    pub const INCREMENTAL: &[u8] = b"X";
    pub const REQUEST_REJECT: &[u8] = b"Y";
    pub const SECURITY_LIST_REQUEST: &[u8] = b"x";
    pub const SECURITY_LIST: &[u8] = b"y";
    pub const SECURITY_STATUS_REQUEST: &[u8] = b"e";
    pub const SECURITY_STATUS: &[u8] = b"f";
    pub const TRADING_SESSION_STATUS_REQUEST: &[u8] = b"g";
    pub const TRADING_SESSION_STATUS: &[u8] = b"h";
}

/// MDEntryType (269) values the venue publishes.
pub mod entry_type {
    pub const BID: u8 = b'0';
    pub const OFFER: u8 = b'1';
    pub const TRADE: u8 = b'2';
    pub const OPENING: u8 = b'4';
    pub const HIGH: u8 = b'7';
    pub const LOW: u8 = b'8';
    pub const VWAP: u8 = b'9';
    pub const VOLUME: u8 = b'B';
    /// Every type the venue publishes, in the order a snapshot lists them.
    pub const ALL: [u8; 8] = [BID, OFFER, TRADE, OPENING, HIGH, LOW, VWAP, VOLUME];
}

/// MDUpdateAction (279).
pub mod action {
    pub const NEW: u8 = b'0';
    pub const CHANGE: u8 = b'1';
    pub const DELETE: u8 = b'2';
}

/// MDReqRejReason (281).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    UnknownSymbol,
    DuplicateMdReqId,
    InsufficientBandwidth,
    InsufficientPermissions,
    UnsupportedSubscriptionRequestType,
    UnsupportedMarketDepth,
    UnsupportedMdUpdateType,
    UnsupportedAggregatedBook,
    UnsupportedMdEntryType,
    UnsupportedTradingSessionId,
    UnsupportedScope,
    UnsupportedOpenCloseSettlFlag,
    UnsupportedMdImplicitDelete,
}

impl RejectReason {
    pub fn code(self) -> u8 {
        use RejectReason::*;
        match self {
            UnknownSymbol => b'0',
            DuplicateMdReqId => b'1',
            InsufficientBandwidth => b'2',
            InsufficientPermissions => b'3',
            UnsupportedSubscriptionRequestType => b'4',
            UnsupportedMarketDepth => b'5',
            UnsupportedMdUpdateType => b'6',
            UnsupportedAggregatedBook => b'7',
            UnsupportedMdEntryType => b'8',
            UnsupportedTradingSessionId => b'9',
            UnsupportedScope => b'A',
            UnsupportedOpenCloseSettlFlag => b'B',
            UnsupportedMdImplicitDelete => b'C',
        }
    }
}
