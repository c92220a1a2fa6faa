//! Validation of a decoded message against the dictionary, yielding the exact SessionRejectReason (373) and
//! RefTagID (371) a Reject must carry.
//!
//! One pass over the fields in wire order checks, for each field: a value is present (4), the tag is defined (0),
//! the value has the type's format (6) and is one of the enumerated values (5); then where it stands: header
//! fields before the body and the trailer last (14), no tag twice at one level (13), a group entry starts with its
//! delimiter and keeps the defined order (15), the entries match NumInGroup (16), the tag belongs to the message
//! (2). After the pass, the required fields (1). The first problem found in wire order is the one reported.
//!
//! QuickFIX's switches, with QuickFIX's defaults, are in [`ValidationOptions`]. Nothing allocates once the
//! validator's scratch space has grown to the deepest group nesting seen.

use super::decode::{FieldRef, Message};
use super::dictionary::{
    Dictionary, FieldDef, FieldType, GroupDef, MessageDef, Section, Slot, StructDef,
    USER_DEFINED_TAG_MIN,
};
use super::tags::SessionRejectReason as Reason;
use super::types;

/// QuickFIX's validation switches. The defaults are QuickFIX's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationOptions {
    /// ValidateFieldsOutOfOrder: header fields in the body (or body fields in the trailer) are rejected with 14,
    /// and fields of a group entry must keep the dictionary's order (15).
    pub fields_out_of_order: bool,
    /// ValidateFieldsHaveValues: an empty value is rejected with 4.
    pub fields_have_values: bool,
    /// ValidateUserDefinedFields: user-defined tags (5000 and up) must be defined and belong to the message.
    pub user_defined_fields: bool,
    /// AllowUnknownMsgFields: standard tags that are undefined or not part of the message are let through.
    pub allow_unknown_msg_fields: bool,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            fields_out_of_order: true,
            fields_have_values: true,
            user_defined_fields: true,
            allow_unknown_msg_fields: false,
        }
    }
}

/// What a Reject (3) must say about a message that fails validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub reason: Reason,
    /// RefTagID (371): the tag the problem is about, when there is one.
    pub ref_tag: Option<u32>,
}

/// Why a message is not accepted as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Answer with a Reject (3).
    Reject(Reject),
    /// FIX 4.4 defines this MsgType but the venue does not handle it: a BusinessMessageReject (380=3). Header and
    /// trailer were valid.
    UnsupportedMsgType,
}

/// The deepest group nesting accepted (FIX 4.4 nests three deep at most).
const GROUP_DEPTH_MAX: usize = 8;

/// Validates messages; holds the scratch space for the "seen" bitsets, reused across messages.
#[derive(Debug, Clone, Default)]
pub struct Validator {
    pub options: ValidationOptions,
    seen: Vec<u64>,
}

impl Validator {
    pub fn new(options: ValidationOptions) -> Validator {
        Validator {
            options,
            seen: Vec::new(),
        }
    }

    /// Validates `msg`; on success returns the definition of its message type.
    pub fn validate<'d>(
        &mut self,
        dict: &'d Dictionary,
        msg: &Message,
    ) -> Result<&'d MessageDef, Invalid> {
        let msg_type = msg.msg_type();
        let def = dict.message(msg_type);
        if def.is_none() && !dict.is_known_msg_type(msg_type) {
            return Err(reject(Reason::InvalidMsgType, 35));
        }
        let body = def.map(|d| &d.body);
        self.seen.clear();
        let mut walk = Walk {
            dict,
            msg,
            fields: msg.fields(),
            pos: 0,
            options: self.options,
            seen: &mut self.seen,
            depth: 0,
        };
        walk.message(body).map_err(Invalid::Reject)?;
        def.ok_or(Invalid::UnsupportedMsgType)
    }
}

fn reject(reason: Reason, tag: u32) -> Invalid {
    Invalid::Reject(Reject {
        reason,
        ref_tag: Some(tag),
    })
}

fn fail<T>(reason: Reason, tag: u32) -> Result<T, Reject> {
    Err(Reject {
        reason,
        ref_tag: Some(tag),
    })
}

/// Whether a field takes part in structure checks after its value was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// The dictionary defines the tag.
    Defined,
    /// Undefined, and the options let it through: skip it.
    Ignored,
}

/// A "seen" bitset: a window into the validator's scratch vector.
#[derive(Debug, Clone, Copy)]
struct Seen {
    offset: usize,
}

struct Walk<'a, 'm> {
    dict: &'a Dictionary,
    msg: &'a Message<'m>,
    fields: &'m [FieldRef],
    pos: usize,
    options: ValidationOptions,
    seen: &'a mut Vec<u64>,
    depth: usize,
}

impl Walk<'_, '_> {
    fn message(&mut self, body: Option<&StructDef>) -> Result<(), Reject> {
        let (dict, fields) = (self.dict, self.fields);
        let header_seen = self.push_seen(dict.header());
        let body_seen = body.map(|b| self.push_seen(b));
        let trailer_seen = self.push_seen(dict.trailer());
        // 8, 9 and 35 were checked by framing, decoding and the MsgType lookup.
        for tag in [8, 9, 35] {
            if let Some(position) = dict.header().position(tag) {
                self.test_and_set(header_seen, position);
            }
        }
        self.pos = 3;
        let mut state = Section::Header;
        while let Some(&field) = fields.get(self.pos) {
            // The common cases first: a member of the header while in the header, or of the body; checked from the
            // member's own copy of its type, without a dictionary lookup.
            if state == Section::Header {
                if let Some(slot) = dict.header().slot(field.tag) {
                    self.member_at(dict.header(), header_seen, slot, &field)?;
                    continue;
                }
            }
            if let (Some(def), Some(seen)) = (body, body_seen) {
                if let Some(slot) = def.slot(field.tag) {
                    if state == Section::Trailer && self.options.fields_out_of_order {
                        return fail(Reason::TagSpecifiedOutOfRequiredOrder, field.tag);
                    }
                    state = Section::Body;
                    self.member_at(def, seen, slot, &field)?;
                    continue;
                }
            }
            state = self.other_field(body, body_seen, header_seen, trailer_seen, state, &field)?;
        }
        self.check_required(dict.header(), header_seen)?;
        if let (Some(def), Some(seen)) = (body, body_seen) {
            self.check_required(def, seen)?;
        }
        self.check_required(dict.trailer(), trailer_seen)
    }

    /// A field that is not where the common case expects it: a header field after the header, a trailer field, a
    /// body field of a message type the venue does not handle, or a tag foreign to the message. Returns the section
    /// the walk is in after it.
    fn other_field(
        &mut self,
        body: Option<&StructDef>,
        body_seen: Option<Seen>,
        header_seen: Seen,
        trailer_seen: Seen,
        mut state: Section,
        field: &FieldRef,
    ) -> Result<Section, Reject> {
        let dict = self.dict;
        let (field_def, section) = dict.field_and_section(field.tag);
        if section == Section::Body && body.is_none() {
            // A known MsgType the venue does not handle: its body is not ours to judge, only its place.
            if state == Section::Trailer && self.options.fields_out_of_order {
                return fail(Reason::TagSpecifiedOutOfRequiredOrder, field.tag);
            }
            self.pos += 1;
            return Ok(Section::Body);
        }
        let known = self.check_value(field, field_def)?;
        match section {
            Section::Header => {
                if state != Section::Header && self.options.fields_out_of_order {
                    return fail(Reason::TagSpecifiedOutOfRequiredOrder, field.tag);
                }
                self.member(dict.header(), header_seen, known)?;
            }
            Section::Trailer => {
                state = Section::Trailer;
                self.member(dict.trailer(), trailer_seen, known)?;
            }
            Section::Body => {
                if state == Section::Trailer && self.options.fields_out_of_order {
                    return fail(Reason::TagSpecifiedOutOfRequiredOrder, field.tag);
                }
                state = Section::Body;
                match (body, body_seen) {
                    (Some(def), Some(seen)) => self.member(def, seen, known)?,
                    _ => self.pos += 1,
                }
            }
        }
        Ok(state)
    }

    /// The field at `pos`, whose value was checked, as a member of `def` (message level), or a foreign tag.
    fn member(&mut self, def: &StructDef, seen: Seen, known: Known) -> Result<(), Reject> {
        let tag = self.fields[self.pos].tag;
        let Some(slot) = def.slot(tag) else {
            self.foreign(tag, known)?;
            self.pos += 1;
            return Ok(());
        };
        self.place_member(def, seen, slot)
    }

    /// The field at `pos`, member `slot` of `def` (message level): its value, then its place.
    #[inline(always)]
    fn member_at(
        &mut self,
        def: &StructDef,
        seen: Seen,
        slot: Slot,
        field: &FieldRef,
    ) -> Result<(), Reject> {
        self.check_member_value(field, slot.field_type, slot.enumerated)?;
        self.place_member(def, seen, slot)
    }

    /// Not repeated; a NumInGroup field brings its entries.
    #[inline(always)]
    fn place_member(&mut self, def: &StructDef, seen: Seen, slot: Slot) -> Result<(), Reject> {
        if self.test_and_set(seen, slot.position) {
            return fail(
                Reason::TagAppearsMoreThanOnce,
                def.member(slot.position).tag,
            );
        }
        self.pos += 1;
        if !slot.group {
            return Ok(());
        }
        match def.member(slot.position).group.as_deref() {
            Some(group) => self.group(group),
            None => Ok(()),
        }
    }

    /// A tag that is not a member where it stands.
    fn foreign(&self, tag: u32, known: Known) -> Result<(), Reject> {
        if known == Known::Ignored || self.lets_through(tag) {
            return Ok(());
        }
        fail(Reason::TagNotDefinedForMessageType, tag)
    }

    /// The entries of `group`, whose NumInGroup field was just consumed.
    fn group(&mut self, group: &GroupDef) -> Result<(), Reject> {
        let count_field = self.fields[self.pos - 1];
        // The NumInGroup value was format-checked with the field; an unreadable one counts as zero entries.
        let declared = types::parse_uint(self.msg.value(&count_field)).unwrap_or(0);
        if self.depth >= GROUP_DEPTH_MAX {
            return fail(Reason::RepeatingGroupFieldsOutOfOrder, group.count_tag);
        }
        self.depth += 1;
        let mut entries: u64 = 0;
        while let Some(field) = self.fields.get(self.pos) {
            if !group.entry.contains(field.tag) {
                break;
            }
            if field.tag != group.delimiter {
                return fail(Reason::RepeatingGroupFieldsOutOfOrder, field.tag);
            }
            entries += 1;
            self.entry(group)?;
        }
        self.depth -= 1;
        if entries != declared {
            return fail(Reason::IncorrectNumInGroupCount, group.count_tag);
        }
        Ok(())
    }

    /// One entry, from its delimiter to the next delimiter or the first field that is not a member.
    fn entry(&mut self, group: &GroupDef) -> Result<(), Reject> {
        let def = &group.entry;
        let seen = self.push_seen(def);
        let mut last_position = None;
        while let Some(&field) = self.fields.get(self.pos) {
            let Some(slot) = def.slot(field.tag) else {
                break;
            };
            let position = slot.position;
            if field.tag == group.delimiter && last_position.is_some() {
                break;
            }
            self.check_member_value(&field, slot.field_type, slot.enumerated)?;
            if self.test_and_set(seen, position) {
                return fail(Reason::TagAppearsMoreThanOnce, field.tag);
            }
            if self.options.fields_out_of_order && last_position.is_some_and(|last| position < last)
            {
                return fail(Reason::RepeatingGroupFieldsOutOfOrder, field.tag);
            }
            last_position = Some(position);
            self.pos += 1;
            if slot.group {
                if let Some(nested) = def.member(position).group.as_deref() {
                    self.group(nested)?;
                }
            }
        }
        self.check_required(def, seen)?;
        self.pop_seen(seen);
        Ok(())
    }

    /// The value checks: present (4), defined (0), format (6), enumerated (5).
    #[inline]
    fn check_value(&self, field: &FieldRef, def: Option<&FieldDef>) -> Result<Known, Reject> {
        let Some(def) = def else {
            if self.msg.value(field).is_empty() && self.options.fields_have_values {
                return fail(Reason::TagSpecifiedWithoutValue, field.tag);
            }
            return if self.lets_through(field.tag) {
                Ok(Known::Ignored)
            } else {
                fail(Reason::InvalidTagNumber, field.tag)
            };
        };
        self.check_member_value(field, def.field_type, def.is_enumerated())?;
        Ok(Known::Defined)
    }

    /// The value checks of a defined field: present (4), format (6), enumerated (5).
    #[inline(always)]
    fn check_member_value(
        &self,
        field: &FieldRef,
        field_type: FieldType,
        enumerated: bool,
    ) -> Result<(), Reject> {
        let value = self.msg.value(field);
        if value.is_empty() {
            return if self.options.fields_have_values {
                fail(Reason::TagSpecifiedWithoutValue, field.tag)
            } else {
                Ok(())
            };
        }
        if !field_type.accepts(value) {
            return fail(Reason::IncorrectDataFormat, field.tag);
        }
        if enumerated
            && !self
                .dict
                .field(field.tag)
                .is_some_and(|def| def.allows(value))
        {
            return fail(Reason::ValueIsIncorrect, field.tag);
        }
        Ok(())
    }

    /// Whether the options let `tag` through where the dictionary does not place it (undefined, or not part of
    /// the message): ValidateUserDefinedFields for tags from 5000, AllowUnknownMsgFields below.
    fn lets_through(&self, tag: u32) -> bool {
        if tag >= USER_DEFINED_TAG_MIN {
            !self.options.user_defined_fields
        } else {
            self.options.allow_unknown_msg_fields
        }
    }

    fn check_required(&self, def: &StructDef, seen: Seen) -> Result<(), Reject> {
        for &position in def.required_positions() {
            if !self.is_set(seen, usize::from(position)) {
                return fail(
                    Reason::RequiredTagMissing,
                    def.member(usize::from(position)).tag,
                );
            }
        }
        Ok(())
    }

    fn push_seen(&mut self, def: &StructDef) -> Seen {
        let offset = self.seen.len();
        self.seen
            .resize(offset + def.members().len().div_ceil(64), 0);
        Seen { offset }
    }

    /// Frees a group entry's bitset: entries are walked depth-first, so it is always the last one.
    fn pop_seen(&mut self, seen: Seen) {
        self.seen.truncate(seen.offset);
    }

    fn test_and_set(&mut self, seen: Seen, position: usize) -> bool {
        let word = &mut self.seen[seen.offset + position / 64];
        let bit = 1u64 << (position % 64);
        let was = *word & bit != 0;
        *word |= bit;
        was
    }

    fn is_set(&self, seen: Seen, position: usize) -> bool {
        self.seen[seen.offset + position / 64] & (1u64 << (position % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Decoder;
    use crate::dictionary::tests::mini;
    use crate::frame::from_text as frame;

    const HDR: &str = "49=A|56=B|34=2|52=20261122-10:00:00.000|";
    const NOS: &str = "11=C1|55=ZVZZT|54=1|60=20261122-10:00:00|38=100|40=2|44=10.5|";

    /// Runs one message (MsgType, header and body given with `|`) through decode and validation.
    fn check_with(options: ValidationOptions, body: &str) -> Result<String, Invalid> {
        let d = mini();
        let f = frame(body);
        let mut dec = Decoder::new();
        let m = dec.decode(&d, &f).expect("test message decodes");
        Validator::new(options)
            .validate(&d, &m)
            .map(|def| def.name.to_string())
    }

    fn check(body: &str) -> Result<String, Invalid> {
        check_with(ValidationOptions::default(), body)
    }

    fn rejected(reason: Reason, tag: u32) -> Result<String, Invalid> {
        Err(reject(reason, tag))
    }

    #[test]
    fn valid_messages() {
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}")),
            Ok("NewOrderSingle".into())
        );
        assert_eq!(check(&format!("35=0|{HDR}112=T1|")), Ok("Heartbeat".into()));
        assert_eq!(
            check(&format!(
                "35=D|{HDR}11=C1|453=2|448=P1|447=D|452=3|802=1|523=S|448=P2|55=ZVZZT|54=2|60=20261122-10:00:00|40=1|18=1 G|"
            )),
            Ok("NewOrderSingle".into())
        );
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}95=3|96=a|b|93=1|89=x|")),
            Ok("NewOrderSingle".into())
        );
    }

    #[test]
    fn invalid_msg_type_11() {
        assert_eq!(
            check(&format!("35=ZZ|{HDR}")),
            Err(reject(Reason::InvalidMsgType, 35))
        );
    }

    #[test]
    fn known_but_unhandled_msg_type() {
        assert_eq!(
            check(&format!("35=d|{HDR}320=R|")),
            Err(Invalid::UnsupportedMsgType)
        );
        // The header still counts.
        assert_eq!(
            check("35=d|49=A|56=B|52=20261122-10:00:00|320=R|"),
            rejected(Reason::RequiredTagMissing, 34)
        );
        assert_eq!(
            check(&format!("35=d|{HDR}320=R|115=X|")),
            rejected(Reason::TagSpecifiedOutOfRequiredOrder, 115)
        );
    }

    #[test]
    fn required_tag_missing_1() {
        assert_eq!(
            check(&format!("35=D|{HDR}11=C1|54=1|60=20261122-10:00:00|40=2|")),
            rejected(Reason::RequiredTagMissing, 55)
        );
        assert_eq!(
            check("35=0|49=A|56=B|34=2|"),
            rejected(Reason::RequiredTagMissing, 52)
        );
        // Inside a group entry.
        assert_eq!(
            check(&format!(
                "35=D|{HDR}11=C1|453=1|448=P|802=1|803=2|{}",
                &NOS[6..]
            )),
            rejected(Reason::RepeatingGroupFieldsOutOfOrder, 803)
        );
        assert_eq!(
            check(&format!("35=X|{HDR}268=1|279=0|269=0|270=1|")),
            Ok("MarketDataIncrementalRefresh".into())
        );
        assert_eq!(
            check(&format!("35=X|{HDR}268=1|")),
            rejected(Reason::IncorrectNumInGroupCount, 268)
        );
        assert_eq!(
            check(&format!("35=X|{HDR}262=R|")),
            rejected(Reason::RequiredTagMissing, 268)
        );
    }

    #[test]
    fn tag_not_defined_for_message_2() {
        assert_eq!(
            check(&format!("35=0|{HDR}11=C1|")),
            rejected(Reason::TagNotDefinedForMessageType, 11)
        );
        // User-defined, defined in the dictionary, not part of Heartbeat.
        assert_eq!(
            check(&format!("35=0|{HDR}5001=Y|")),
            rejected(Reason::TagNotDefinedForMessageType, 5001)
        );
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}5001=Y|")),
            Ok("NewOrderSingle".into())
        );
    }

    #[test]
    fn undefined_tag_0() {
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}4999=1|")),
            rejected(Reason::InvalidTagNumber, 4999)
        );
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}7777=1|")),
            rejected(Reason::InvalidTagNumber, 7777)
        );
    }

    #[test]
    fn tag_without_value_4() {
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}58=|")),
            rejected(Reason::TagSpecifiedWithoutValue, 58)
        );
        let lenient = ValidationOptions {
            fields_have_values: false,
            ..Default::default()
        };
        assert_eq!(
            check_with(lenient, &format!("35=D|{HDR}{NOS}58=|")),
            Ok("NewOrderSingle".into())
        );
    }

    #[test]
    fn value_not_allowed_5() {
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}21=4|")),
            rejected(Reason::ValueIsIncorrect, 21)
        );
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}167=BOO|")),
            rejected(Reason::ValueIsIncorrect, 167)
        );
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}167=CS|")),
            Ok("NewOrderSingle".into())
        );
        assert_eq!(
            check(&format!(
                "35=D|{HDR}{}54=7|60=20261122-10:00:00|40=2|",
                &NOS[..15]
            )),
            rejected(Reason::ValueIsIncorrect, 54)
        );
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}18=1 Z|")),
            rejected(Reason::ValueIsIncorrect, 18)
        );
    }

    #[test]
    fn incorrect_data_format_6() {
        for (field, tag) in [
            ("38=1x0|", 38),
            ("44=1,5|", 44),
            ("43=X|", 43),
            ("60=20261122|", 60),
            ("95=x|", 95),
        ] {
            let body = format!("35=D|{HDR}{}", NOS.replace(&format!("{tag}="), "99999="));
            // Put the bad field where the good one was, keeping the rest of the message valid.
            let body = body.replace(
                &format!(
                    "99999={}",
                    &NOS[NOS.find(&format!("|{tag}=")).map_or(0, |i| i + 1)..]
                        .split('|')
                        .next()
                        .unwrap()[tag.to_string().len() + 1..]
                ),
                &field[..field.len() - 1],
            );
            let body = if body.contains(field) {
                body
            } else {
                format!("35=D|{HDR}{NOS}{field}")
            };
            assert_eq!(
                check(&body),
                rejected(Reason::IncorrectDataFormat, tag),
                "{field}"
            );
        }
        assert_eq!(
            check(&format!("35=X|{HDR}268=x|")),
            rejected(Reason::IncorrectDataFormat, 268)
        );
    }

    #[test]
    fn tag_repeated_13() {
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}58=a|58=b|")),
            rejected(Reason::TagAppearsMoreThanOnce, 58)
        );
        assert_eq!(
            check("35=0|49=A|49=A|56=B|34=2|52=20261122-10:00:00|"),
            rejected(Reason::TagAppearsMoreThanOnce, 49)
        );
        assert_eq!(
            check(&format!("35=D|{HDR}11=C1|453=1|448=P|448=Q|{}", &NOS[6..])),
            rejected(Reason::IncorrectNumInGroupCount, 453)
        );
        assert_eq!(
            check(&format!(
                "35=D|{HDR}11=C1|453=1|448=P|452=3|452=1|{}",
                &NOS[6..]
            )),
            rejected(Reason::TagAppearsMoreThanOnce, 452)
        );
    }

    #[test]
    fn out_of_order_14() {
        assert_eq!(
            check(&format!("35=D|{HDR}{NOS}115=X|")),
            rejected(Reason::TagSpecifiedOutOfRequiredOrder, 115)
        );
        assert_eq!(
            check(&format!(
                "35=D|{HDR}11=C1|93=1|89=x|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|"
            )),
            rejected(Reason::TagSpecifiedOutOfRequiredOrder, 55)
        );
        let lenient = ValidationOptions {
            fields_out_of_order: false,
            ..Default::default()
        };
        assert_eq!(
            check_with(lenient, &format!("35=D|{HDR}{NOS}115=X|")),
            Ok("NewOrderSingle".into())
        );
    }

    #[test]
    fn group_out_of_order_15() {
        // An entry that does not start with the delimiter.
        assert_eq!(
            check(&format!("35=D|{HDR}11=C1|453=1|447=D|448=P|{}", &NOS[6..])),
            rejected(Reason::RepeatingGroupFieldsOutOfOrder, 447)
        );
        // Fields of an entry in another order than the dictionary's.
        assert_eq!(
            check(&format!(
                "35=D|{HDR}11=C1|453=1|448=P|452=3|447=D|{}",
                &NOS[6..]
            )),
            rejected(Reason::RepeatingGroupFieldsOutOfOrder, 447)
        );
        let lenient = ValidationOptions {
            fields_out_of_order: false,
            ..Default::default()
        };
        assert_eq!(
            check_with(
                lenient,
                &format!("35=D|{HDR}11=C1|453=1|448=P|452=3|447=D|{}", &NOS[6..])
            ),
            Ok("NewOrderSingle".into())
        );
    }

    #[test]
    fn num_in_group_count_16() {
        let entries = "279=0|269=0|270=1|279=1|269=1|270=2|";
        assert_eq!(
            check(&format!("35=X|{HDR}268=2|{entries}")),
            Ok("MarketDataIncrementalRefresh".into())
        );
        assert_eq!(
            check(&format!("35=X|{HDR}268=3|{entries}")),
            rejected(Reason::IncorrectNumInGroupCount, 268)
        );
        assert_eq!(
            check(&format!("35=X|{HDR}268=1|{entries}")),
            rejected(Reason::IncorrectNumInGroupCount, 268)
        );
        assert_eq!(
            check(&format!("35=X|{HDR}268=999999999|{entries}")),
            rejected(Reason::IncorrectNumInGroupCount, 268)
        );
        // A group with count zero and no entries is fine.
        assert_eq!(
            check(&format!("35=D|{HDR}11=C1|453=0|{}", &NOS[6..])),
            Ok("NewOrderSingle".into())
        );
    }

    #[test]
    fn user_defined_and_unknown_switches() {
        let no_udf = ValidationOptions {
            user_defined_fields: false,
            ..Default::default()
        };
        assert_eq!(
            check_with(no_udf, &format!("35=D|{HDR}{NOS}7777=1|")),
            Ok("NewOrderSingle".into())
        );
        assert_eq!(
            check_with(no_udf, &format!("35=0|{HDR}5001=Y|")),
            Ok("Heartbeat".into())
        );
        assert_eq!(
            check_with(no_udf, &format!("35=D|{HDR}{NOS}4999=1|")),
            rejected(Reason::InvalidTagNumber, 4999)
        );
        let allow_unknown = ValidationOptions {
            allow_unknown_msg_fields: true,
            ..Default::default()
        };
        assert_eq!(
            check_with(allow_unknown, &format!("35=D|{HDR}{NOS}4999=1|")),
            Ok("NewOrderSingle".into())
        );
        assert_eq!(
            check_with(allow_unknown, &format!("35=0|{HDR}11=C1|")),
            Ok("Heartbeat".into())
        );
        assert_eq!(
            check_with(allow_unknown, &format!("35=D|{HDR}{NOS}7777=1|")),
            rejected(Reason::InvalidTagNumber, 7777)
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // Nesting is bounded by the dictionary; a count tag that repeats inside its own entry is not a member.
        assert_eq!(
            check(&format!(
                "35=D|{HDR}11=C1|453=1|448=P|453=1|448=Q|{}",
                &NOS[6..]
            )),
            rejected(Reason::TagAppearsMoreThanOnce, 453)
        );
    }
}
