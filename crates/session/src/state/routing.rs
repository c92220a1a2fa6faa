//! Third-party routing (OnBehalfOf and DeliverTo) read from a message, reversed for its answer, and written into
//! a header; and PossResend (97), which the application sets on a message that may have been sent before under
//! another MsgSeqNum (a report rebuilt from the journal after a crash).

use fix::Message;
use fix::encode::Header;
use fix::tags;

/// Third-party routing of a message: OnBehalfOf (115/116/144) and DeliverTo (128/129/145), CompID, SubID and
/// LocationID in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    pub on_behalf_of: [Option<String>; 3],
    pub deliver_to: [Option<String>; 3],
    /// Send with PossResend=Y (97): the same content may have reached the client already under another number.
    pub poss_resend: bool,
}

const ON_BEHALF_OF_TAGS: [u32; 3] = [
    tags::ON_BEHALF_OF_COMP_ID,
    tags::ON_BEHALF_OF_SUB_ID,
    tags::ON_BEHALF_OF_LOCATION_ID,
];
const DELIVER_TO_TAGS: [u32; 3] = [
    tags::DELIVER_TO_COMP_ID,
    tags::DELIVER_TO_SUB_ID,
    tags::DELIVER_TO_LOCATION_ID,
];

impl Routing {
    /// The routing fields of a received message; a tag without a value is no routing (the validator rejects it,
    /// and an answer never carries an empty tag).
    pub fn of(msg: &Message) -> Routing {
        let get = |tag| {
            msg.get(tag)
                .and_then(|v| v.as_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Routing {
            on_behalf_of: ON_BEHALF_OF_TAGS.map(get),
            deliver_to: DELIVER_TO_TAGS.map(get),
            poss_resend: false,
        }
    }

    /// The routing of an answer: OnBehalfOf becomes DeliverTo and the other way round.
    pub fn reversed(&self) -> Routing {
        Routing {
            on_behalf_of: self.deliver_to.clone(),
            deliver_to: self.on_behalf_of.clone(),
            poss_resend: false,
        }
    }

    pub(super) fn apply<'a>(&'a self, header: &mut Header<'a>) {
        header.on_behalf_of_comp_id = self.on_behalf_of[0].as_deref();
        header.on_behalf_of_sub_id = self.on_behalf_of[1].as_deref();
        header.on_behalf_of_location_id = self.on_behalf_of[2].as_deref();
        header.deliver_to_comp_id = self.deliver_to[0].as_deref();
        header.deliver_to_sub_id = self.deliver_to[1].as_deref();
        header.deliver_to_location_id = self.deliver_to[2].as_deref();
        header.poss_resend = self.poss_resend;
    }
}
