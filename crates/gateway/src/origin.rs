//! What the journal keeps beside each command for the gateway: the FIX context the engine does not know (the
//! session by name, the account by name, the client's ids). Replaying the journal hands it back, so the gateway
//! rebuilds its ClOrdID maps and its session and account numbering exactly.
//!
//! Format: a kind byte, then strings as a big-endian u16 length and UTF-8 bytes. Decoding is strict.

use journal::sequencer::ORIGIN_BYTES_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin<'a> {
    /// A command the gateway issued for nobody (the time).
    Venue,
    New {
        session: &'a str,
        account: &'a str,
        cl_ord_id: &'a str,
    },
    Cancel {
        session: &'a str,
        cl_ord_id: &'a str,
    },
    Replace {
        session: &'a str,
        cl_ord_id: &'a str,
    },
    MassCancel {
        session: &'a str,
        cl_ord_id: &'a str,
        /// MassCancelRequestType (530).
        req_type: u8,
    },
    CancelOnDisconnect {
        session: &'a str,
    },
}

const VENUE: u8 = 0;
const NEW: u8 = 1;
const CANCEL: u8 = 2;
const REPLACE: u8 = 3;
const MASS_CANCEL: u8 = 4;
const CANCEL_ON_DISCONNECT: u8 = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal origin record: {0}")]
pub struct OriginError(&'static str);

impl<'a> Origin<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let strings: &[&str] = match self {
            Origin::Venue => {
                // An empty origin is the venue's own command.
                let _ = VENUE;
                return out;
            }
            Origin::New {
                session,
                account,
                cl_ord_id,
            } => {
                out.push(NEW);
                &[session, account, cl_ord_id]
            }
            Origin::Cancel { session, cl_ord_id } => {
                out.push(CANCEL);
                &[session, cl_ord_id]
            }
            Origin::Replace { session, cl_ord_id } => {
                out.push(REPLACE);
                &[session, cl_ord_id]
            }
            Origin::MassCancel {
                session,
                cl_ord_id,
                req_type,
            } => {
                out.push(MASS_CANCEL);
                out.push(*req_type);
                &[session, cl_ord_id]
            }
            Origin::CancelOnDisconnect { session } => {
                out.push(CANCEL_ON_DISCONNECT);
                &[session]
            }
        };
        for s in strings {
            let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
        }
        debug_assert!(out.len() <= ORIGIN_BYTES_MAX);
        out
    }

    pub fn decode(bytes: &'a [u8]) -> Result<Origin<'a>, OriginError> {
        let Some((&kind, rest)) = bytes.split_first() else {
            return Ok(Origin::Venue);
        };
        let mut reader = Reader { rest };
        let origin = match kind {
            NEW => Origin::New {
                session: reader.string()?,
                account: reader.string()?,
                cl_ord_id: reader.string()?,
            },
            CANCEL => Origin::Cancel {
                session: reader.string()?,
                cl_ord_id: reader.string()?,
            },
            REPLACE => Origin::Replace {
                session: reader.string()?,
                cl_ord_id: reader.string()?,
            },
            MASS_CANCEL => {
                let req_type = reader.byte()?;
                Origin::MassCancel {
                    req_type,
                    session: reader.string()?,
                    cl_ord_id: reader.string()?,
                }
            }
            CANCEL_ON_DISCONNECT => Origin::CancelOnDisconnect {
                session: reader.string()?,
            },
            _ => return Err(OriginError("unknown kind")),
        };
        if !reader.rest.is_empty() {
            return Err(OriginError("trailing bytes"));
        }
        Ok(origin)
    }

    /// The session the command came from, if any.
    pub fn session(&self) -> Option<&'a str> {
        match *self {
            Origin::Venue => None,
            Origin::New { session, .. }
            | Origin::Cancel { session, .. }
            | Origin::Replace { session, .. }
            | Origin::MassCancel { session, .. }
            | Origin::CancelOnDisconnect { session } => Some(session),
        }
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, OriginError> {
        let (&b, rest) = self.rest.split_first().ok_or(OriginError("truncated"))?;
        self.rest = rest;
        Ok(b)
    }

    fn string(&mut self) -> Result<&'a str, OriginError> {
        if self.rest.len() < 2 {
            return Err(OriginError("truncated length"));
        }
        let len = usize::from(u16::from_be_bytes([self.rest[0], self.rest[1]]));
        let body = self
            .rest
            .get(2..2 + len)
            .ok_or(OriginError("truncated string"))?;
        self.rest = &self.rest[2 + len..];
        std::str::from_utf8(body).map_err(|_| OriginError("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_and_damage_is_refused() {
        let all = [
            Origin::Venue,
            Origin::New {
                session: "FIXVENUE->CLIENT1",
                account: "ACC",
                cl_ord_id: "A1",
            },
            Origin::Cancel {
                session: "S",
                cl_ord_id: "C",
            },
            Origin::Replace {
                session: "S",
                cl_ord_id: "",
            },
            Origin::MassCancel {
                session: "S",
                cl_ord_id: "Q",
                req_type: b'7',
            },
            Origin::CancelOnDisconnect { session: "S" },
        ];
        for origin in all {
            let bytes = origin.encode();
            assert_eq!(Origin::decode(&bytes), Ok(origin));
            if !bytes.is_empty() {
                assert!(Origin::decode(&bytes[..bytes.len() - 1]).is_err());
                let mut longer = bytes.clone();
                longer.push(0);
                assert!(Origin::decode(&longer).is_err());
            }
        }
        assert!(Origin::decode(&[9]).is_err());
        assert!(Origin::decode(&[NEW, 0, 1, 0xff, 0, 0, 0, 0]).is_err());
    }
}
