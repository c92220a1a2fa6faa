//! The data dictionary: `fix-spec/FIX44.xml` (QuickFIX's XML format) turned into lookup tables at start-up.
//!
//! Components are flattened into the messages that use them (a field of an optional component is never
//! required), repeating groups keep their nesting. Every lookup the validator does per field is an index into a
//! dense table or a binary search in a small sorted one: no hashing, no allocation.

use std::collections::{BTreeMap, BTreeSet};

use roxmltree::{Document, Node};

use super::types;

/// The venue's dictionary, embedded in the binary.
pub const FIX44_XML: &str = include_str!("../../../fix-spec/FIX44.xml");

/// Tags from this number on are user-defined (FIX reserves 5000-9999 and above for bilateral use).
pub const USER_DEFINED_TAG_MIN: u32 = 5000;

/// Largest tag the dictionary may define; field tables are dense up to the largest defined tag.
pub const TAG_MAX: u32 = 99_999;

/// Fields whose FIX 4.4 definition allows values beyond the listed ones, which the XML format cannot express:
/// TargetStrategy (847) from 1000 up, TradeRequestResult (749) and PartySubIDType (803) from 4000 up are for
/// private use; IOIQty (27) and LegIOIQty (682) may also carry a plain quantity.
const OPEN_ENUMS: &[(u32, OpenValues)] = &[
    (27, OpenValues::Any),
    (682, OpenValues::Any),
    (749, OpenValues::IntFrom(4000)),
    (803, OpenValues::IntFrom(4000)),
    (847, OpenValues::IntFrom(1000)),
];

/// What an enumerated field accepts beyond its listed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenValues {
    None,
    Any,
    IntFrom(i64),
}

/// Components nest; deeper than this is a cycle or a broken file.
const COMPONENT_DEPTH_MAX: usize = 16;

/// Declares [`FieldType`] once: each variant with the name the dictionary XML gives it.
macro_rules! field_types {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        /// A FIX data type, as named in the dictionary.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum FieldType { $($variant),+ }

        impl FieldType {
            /// Every type, in declaration order: `ALL[t as usize] == t`.
            const ALL: &[FieldType] = &[$(FieldType::$variant),+];

            fn from_name(name: &str) -> Option<FieldType> {
                match name {
                    $($name => Some(FieldType::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

field_types! {
    Int = "INT",
    Length = "LENGTH",
    NumInGroup = "NUMINGROUP",
    SeqNum = "SEQNUM",
    TagNum = "TAGNUM",
    DayOfMonth = "DAYOFMONTH",
    Float = "FLOAT",
    Qty = "QTY",
    Price = "PRICE",
    PriceOffset = "PRICEOFFSET",
    Amt = "AMT",
    Percentage = "PERCENTAGE",
    Char = "CHAR",
    Boolean = "BOOLEAN",
    String = "STRING",
    MultipleValueString = "MULTIPLEVALUESTRING",
    Country = "COUNTRY",
    Currency = "CURRENCY",
    Exchange = "EXCHANGE",
    MonthYear = "MONTHYEAR",
    UtcTimestamp = "UTCTIMESTAMP",
    UtcTimeOnly = "UTCTIMEONLY",
    UtcDateOnly = "UTCDATEONLY",
    LocalMktDate = "LOCALMKTDATE",
    Data = "DATA",
    Language = "LANGUAGE",
}

impl FieldType {
    /// Whether `value` is in this type's wire format.
    #[inline]
    pub fn accepts(self, value: &[u8]) -> bool {
        use FieldType::*;
        match self {
            Int | TagNum => types::parse_int(value).is_some(),
            Length | NumInGroup | SeqNum => types::parse_uint(value).is_some(),
            DayOfMonth => matches!(types::parse_int(value), Some(1..=31)),
            Float | Qty | Price | PriceOffset | Amt | Percentage => types::is_decimal(value),
            Char => types::parse_char(value).is_some(),
            Boolean => types::parse_bool(value).is_some(),
            MonthYear => types::is_month_year(value),
            UtcTimestamp => types::is_utc_timestamp(value),
            UtcTimeOnly => types::parse_utc_time_only(value).is_some(),
            UtcDateOnly | LocalMktDate => types::parse_utc_date_only(value).is_some(),
            Currency => value.len() == 3 && value.iter().all(u8::is_ascii_alphanumeric),
            Country | Language => value.len() == 2 && value.iter().all(u8::is_ascii_alphanumeric),
            // Free text: any bytes but SOH, which the tokenizer has already excluded.
            String | MultipleValueString | Exchange | Data => true,
        }
    }
}

/// The values an enumerated field allows.
#[derive(Debug, Clone)]
enum AllowedValues {
    Any,
    /// One-byte values: a bitmap over the byte.
    Bytes([u64; 4]),
    /// Longer values: sorted for binary search.
    Strings(Box<[Box<[u8]>]>),
}

impl AllowedValues {
    fn new(values: &[Vec<u8>]) -> AllowedValues {
        if values.is_empty() {
            AllowedValues::Any
        } else if values.iter().all(|v| v.len() == 1) {
            let mut bits = [0u64; 4];
            for v in values {
                bits[usize::from(v[0] >> 6)] |= 1 << (v[0] & 63);
            }
            AllowedValues::Bytes(bits)
        } else {
            let mut sorted: Vec<Box<[u8]>> = values
                .iter()
                .map(|v| v.clone().into_boxed_slice())
                .collect();
            sorted.sort();
            sorted.dedup();
            AllowedValues::Strings(sorted.into_boxed_slice())
        }
    }

    fn contains(&self, value: &[u8]) -> bool {
        match self {
            AllowedValues::Any => true,
            AllowedValues::Bytes(bits) => match value {
                [b] => bits[usize::from(b >> 6)] & (1 << (b & 63)) != 0,
                _ => false,
            },
            AllowedValues::Strings(sorted) => sorted.binary_search_by(|v| (**v).cmp(value)).is_ok(),
        }
    }
}

/// One field of the dictionary.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub tag: u32,
    pub name: Box<str>,
    pub field_type: FieldType,
    allowed: AllowedValues,
    open: OpenValues,
}

impl FieldDef {
    /// Whether the field lists enumerated values.
    pub fn is_enumerated(&self) -> bool {
        !matches!(self.allowed, AllowedValues::Any)
    }

    /// The enumerated values, sorted (empty when the field is not enumerated).
    pub fn values(&self) -> Vec<Vec<u8>> {
        match &self.allowed {
            AllowedValues::Any => Vec::new(),
            AllowedValues::Bytes(bits) => (0..=255u8)
                .filter(|&b| bits[usize::from(b >> 6)] & (1 << (b & 63)) != 0)
                .map(|b| vec![b])
                .collect(),
            AllowedValues::Strings(sorted) => sorted.iter().map(|v| v.to_vec()).collect(),
        }
    }

    /// Whether `value` is one of the enumerated values (every space-separated one for a MULTIPLEVALUESTRING).
    pub fn allows(&self, value: &[u8]) -> bool {
        if self.field_type == FieldType::MultipleValueString && self.is_enumerated() {
            return value.split(|&b| b == b' ').all(|v| self.allows_one(v));
        }
        self.allows_one(value)
    }

    fn allows_one(&self, value: &[u8]) -> bool {
        self.allowed.contains(value)
            || match self.open {
                OpenValues::None => false,
                OpenValues::Any => true,
                OpenValues::IntFrom(min) => types::parse_int(value).is_some_and(|n| n >= min),
            }
    }
}

/// Where a tag may appear in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Header,
    Body,
    Trailer,
}

/// A member of a message, a group entry, the header or the trailer: a field, or the NumInGroup field of a group.
#[derive(Debug, Clone)]
pub struct Member {
    pub tag: u32,
    pub required: bool,
    pub group: Option<Box<GroupDef>>,
    /// The field's type, copied here so that validating a member needs no second lookup.
    pub field_type: FieldType,
    /// Whether the field lists enumerated values (then [`Dictionary::field`] has them).
    pub enumerated: bool,
}

/// An ordered list of members with a dense tag -> position index.
#[derive(Debug, Clone, Default)]
pub struct StructDef {
    members: Vec<Member>,
    /// Indexed by tag up to the largest tag in the structure (nested groups included): the member's [`Slot`]
    /// packed in 32 bits, [`NESTED`] for a tag of a nested group, [`ABSENT`] otherwise. What validating a field
    /// needs sits in this one table, so the hot path reads one word per field.
    dense: Vec<u32>,
    /// Positions of the required members, in order.
    required: Vec<u16>,
}

const ABSENT: u32 = u32::MAX;
const NESTED: u32 = u32::MAX - 1;
/// The dictionary's "no such field" index in [`TagInfo`].
const NO_DEF: u16 = u16::MAX;

/// Members in one structure; positions fit the 16 bits a [`Slot`] gives them.
const MEMBERS_MAX: usize = 4096;

/// What the validator needs of a member, from one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub position: usize,
    pub field_type: FieldType,
    pub enumerated: bool,
    pub group: bool,
}

impl Slot {
    const ENUMERATED: u32 = 1 << 24;
    const GROUP: u32 = 1 << 25;

    fn pack(position: usize, m: &Member) -> u32 {
        position as u32
            | (m.field_type as u32) << 16
            | if m.enumerated { Slot::ENUMERATED } else { 0 }
            | if m.group.is_some() { Slot::GROUP } else { 0 }
    }

    #[inline]
    fn unpack(word: u32) -> Slot {
        Slot {
            position: (word & 0xffff) as usize,
            field_type: FieldType::ALL[((word >> 16) & 0xff) as usize],
            enumerated: word & Slot::ENUMERATED != 0,
            group: word & Slot::GROUP != 0,
        }
    }
}

impl StructDef {
    fn new(members: Vec<Member>) -> Result<StructDef, String> {
        if members.len() > MEMBERS_MAX {
            return Err(format!("{} members in one structure", members.len()));
        }
        let mut nested = Vec::new();
        for group in members.iter().filter_map(|m| m.group.as_deref()) {
            group.entry.all_tags(&mut nested);
        }
        let max_tag = members
            .iter()
            .map(|m| m.tag)
            .chain(nested.iter().copied())
            .max()
            .unwrap_or(0);
        let mut dense = vec![ABSENT; max_tag as usize + 1];
        for &tag in &nested {
            dense[tag as usize] = NESTED;
        }
        for (position, m) in members.iter().enumerate() {
            if dense[m.tag as usize] < NESTED {
                return Err(format!("tag {} appears twice", m.tag));
            }
            dense[m.tag as usize] = Slot::pack(position, m);
        }
        let required = (0..members.len() as u16)
            .filter(|&i| members[usize::from(i)].required)
            .collect();
        Ok(StructDef {
            members,
            dense,
            required,
        })
    }

    /// Every tag of the structure, nested groups included.
    fn all_tags(&self, out: &mut Vec<u32>) {
        out.extend((0..self.dense.len() as u32).filter(|&t| self.dense[t as usize] != ABSENT));
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The direct member `tag`, unpacked from the dense table.
    #[inline]
    pub fn slot(&self, tag: u32) -> Option<Slot> {
        self.dense
            .get(tag as usize)
            .copied()
            .filter(|&p| p < NESTED)
            .map(Slot::unpack)
    }

    /// Position of `tag` among the direct members.
    #[inline]
    pub fn position(&self, tag: u32) -> Option<usize> {
        self.slot(tag).map(|s| s.position)
    }

    /// Whether `tag` is a direct member.
    #[inline]
    pub fn contains(&self, tag: u32) -> bool {
        self.position(tag).is_some()
    }

    /// Whether `tag` is a direct member or a member of a group nested at any depth.
    #[inline]
    pub fn contains_nested(&self, tag: u32) -> bool {
        self.dense.get(tag as usize).is_some_and(|&p| p != ABSENT)
    }

    pub fn member(&self, position: usize) -> &Member {
        &self.members[position]
    }

    /// The group whose NumInGroup field is `count_tag`, at this level.
    pub fn group(&self, count_tag: u32) -> Option<&GroupDef> {
        self.position(count_tag)
            .and_then(|p| self.members[p].group.as_deref())
    }

    pub(crate) fn required_positions(&self) -> &[u16] {
        &self.required
    }
}

/// A repeating group: its NumInGroup field, the delimiter (first field of every entry) and the entry layout.
#[derive(Debug, Clone)]
pub struct GroupDef {
    pub count_tag: u32,
    pub delimiter: u32,
    pub entry: StructDef,
}

/// One message type the venue handles.
#[derive(Debug, Clone)]
pub struct MessageDef {
    pub msg_type: Box<[u8]>,
    pub name: Box<str>,
    pub admin: bool,
    pub body: StructDef,
}

/// The loaded dictionary.
#[derive(Debug, Clone)]
pub struct Dictionary {
    /// Indexed by tag, dense up to the largest defined tag: what the decoder and validator look up first.
    tags: Vec<TagInfo>,
    /// The field definitions, in tag order; `TagInfo::def` indexes it.
    defs: Vec<FieldDef>,
    header: StructDef,
    trailer: StructDef,
    /// The MsgType keys of `messages`, sorted: a small array the lookup searches without touching the definitions.
    message_keys: Vec<u16>,
    /// In the order of `message_keys`.
    messages: Vec<MessageDef>,
    /// Every MsgType value FIX 4.4 defines (the enum of field 35), sorted.
    known_msg_types: Vec<Box<[u8]>>,
}

/// What one tag is, in 8 bytes.
#[derive(Debug, Clone, Copy)]
struct TagInfo {
    /// Index into `defs`, or [`NO_DEF`].
    def: u16,
    section: Section,
    /// For a LENGTH field, the DATA field whose byte count it gives; 0 for none.
    data_tag: u32,
}

const UNDEFINED_TAG: TagInfo = TagInfo {
    def: NO_DEF,
    section: Section::Body,
    data_tag: 0,
};

/// MsgType values are one or two characters in FIX 4.4: as a number, for cheap lookups.
fn msg_type_key(msg_type: &[u8]) -> Option<u16> {
    match *msg_type {
        [a] => Some(u16::from(a)),
        [a, b] => Some(u16::from(a) << 8 | u16::from(b)),
        _ => None,
    }
}

/// The dictionary file is not usable.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    #[error("dictionary is not well-formed XML: {0}")]
    Xml(roxmltree::Error),
    #[error("dictionary: {0}")]
    Invalid(String),
}

// Not `#[from]`: the message already carries the XML error, and a source would print it twice.
impl From<roxmltree::Error> for DictionaryError {
    fn from(e: roxmltree::Error) -> Self {
        DictionaryError::Xml(e)
    }
}

impl Dictionary {
    /// The venue's embedded FIX 4.4 dictionary.
    pub fn fix44() -> Result<Dictionary, DictionaryError> {
        Dictionary::from_xml(FIX44_XML)
    }

    /// Loads a dictionary in QuickFIX's XML format.
    pub fn from_xml(xml: &str) -> Result<Dictionary, DictionaryError> {
        let doc = Document::parse(xml)?;
        Loader::new(&doc)?.load().map_err(DictionaryError::Invalid)
    }

    #[inline]
    fn info(&self, tag: u32) -> TagInfo {
        self.tags
            .get(tag as usize)
            .copied()
            .unwrap_or(UNDEFINED_TAG)
    }

    /// The definition of `tag`, if the dictionary has one.
    #[inline]
    pub fn field(&self, tag: u32) -> Option<&FieldDef> {
        let def = self.info(tag).def;
        (def != NO_DEF).then(|| &self.defs[usize::from(def)])
    }

    /// The definition and the section of `tag` in one lookup.
    #[inline]
    pub fn field_and_section(&self, tag: u32) -> (Option<&FieldDef>, Section) {
        let info = self.info(tag);
        (
            (info.def != NO_DEF).then(|| &self.defs[usize::from(info.def)]),
            info.section,
        )
    }

    /// The section a tag belongs to (`Body` for any tag that is not a header or trailer field).
    #[inline]
    pub fn section(&self, tag: u32) -> Section {
        self.info(tag).section
    }

    /// For a LENGTH field, the tag of the DATA field whose byte count it gives.
    #[inline]
    pub fn data_tag_for_length(&self, tag: u32) -> Option<u32> {
        Some(self.info(tag).data_tag).filter(|&t| t != 0)
    }

    pub fn header(&self) -> &StructDef {
        &self.header
    }

    pub fn trailer(&self) -> &StructDef {
        &self.trailer
    }

    /// The definition of a message type the venue handles.
    #[inline]
    pub fn message(&self, msg_type: &[u8]) -> Option<&MessageDef> {
        let key = msg_type_key(msg_type)?;
        self.message_keys
            .binary_search(&key)
            .ok()
            .map(|i| &self.messages[i])
    }

    /// The message types the venue handles.
    pub fn messages(&self) -> impl Iterator<Item = &MessageDef> {
        self.messages.iter()
    }

    /// Whether FIX 4.4 defines this MsgType (handled by the venue or not).
    pub fn is_known_msg_type(&self, msg_type: &[u8]) -> bool {
        self.known_msg_types
            .binary_search_by(|m| (**m).cmp(msg_type))
            .is_ok()
    }

    /// Every field definition, in tag order.
    pub fn fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.defs.iter()
    }

    /// The tag of the field called `name`.
    pub fn tag_of(&self, name: &str) -> Option<u32> {
        self.fields().find(|f| &*f.name == name).map(|f| f.tag)
    }
}

type FieldsAndMsgTypes = (Vec<Option<FieldDef>>, Vec<Box<[u8]>>);

/// Turns the XML tree into tables; every error names what is wrong.
struct Loader<'a, 'input> {
    root: Node<'a, 'input>,
    fields_by_name: BTreeMap<&'a str, u32>,
    /// By tag: the type and whether the field is enumerated.
    types: BTreeMap<u32, (FieldType, bool)>,
    components: BTreeMap<&'a str, Node<'a, 'input>>,
}

impl<'a, 'input> Loader<'a, 'input> {
    fn new(doc: &'a Document<'input>) -> Result<Self, DictionaryError> {
        let root = doc.root_element();
        if root.tag_name().name() != "fix" {
            return Err(DictionaryError::Invalid(
                "the root element is not <fix>".into(),
            ));
        }
        let components = section(root, "components")
            .map(|s| {
                s.children()
                    .filter(|n| n.has_tag_name("component"))
                    .filter_map(|n| Some((n.attribute("name")?, n)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Loader {
            root,
            fields_by_name: BTreeMap::new(),
            types: BTreeMap::new(),
            components,
        })
    }

    fn load(mut self) -> Result<Dictionary, String> {
        let (fields, known_msg_types) = self.load_fields()?;
        let header = self.structure(section(self.root, "header").ok_or("no <header>")?, true, 0)?;
        let trailer = self.structure(
            section(self.root, "trailer").ok_or("no <trailer>")?,
            true,
            0,
        )?;
        let mut messages = Vec::new();
        let mut data_pairs = BTreeSet::new();
        for node in section(self.root, "messages")
            .ok_or("no <messages>")?
            .children()
            .filter(|n| n.has_tag_name("message"))
        {
            messages.push(self.message(node)?);
            collect_data_pairs(
                &messages.last().expect("just pushed").body,
                &fields,
                &mut data_pairs,
            );
        }
        collect_data_pairs(&header, &fields, &mut data_pairs);
        collect_data_pairs(&trailer, &fields, &mut data_pairs);
        let mut keyed = Vec::with_capacity(messages.len());
        for m in messages {
            if known_msg_types.binary_search(&m.msg_type).is_err() {
                return Err(format!(
                    "message {} has MsgType {} which field 35 does not list",
                    m.name,
                    String::from_utf8_lossy(&m.msg_type)
                ));
            }
            let key = msg_type_key(&m.msg_type)
                .ok_or_else(|| format!("message {}: MsgType is not 1 or 2 characters", m.name))?;
            keyed.push((key, m));
        }
        keyed.sort_by_key(|(k, _)| *k);
        if let Some(w) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!(
                "MsgType {} is defined twice",
                String::from_utf8_lossy(&w[0].1.msg_type)
            ));
        }
        let mut tags: Vec<TagInfo> = fields
            .iter()
            .scan(0u16, |next, f| {
                Some(match f {
                    Some(_) => {
                        *next += 1;
                        TagInfo {
                            def: *next - 1,
                            ..UNDEFINED_TAG
                        }
                    }
                    None => UNDEFINED_TAG,
                })
            })
            .collect();
        mark_section(&header, Section::Header, &mut tags);
        mark_section(&trailer, Section::Trailer, &mut tags);
        for (length, data) in data_pairs {
            tags[length as usize].data_tag = data;
        }
        let defs = fields.into_iter().flatten().collect();
        Ok(Dictionary {
            tags,
            defs,
            header,
            trailer,
            message_keys: keyed.iter().map(|(k, _)| *k).collect(),
            messages: keyed.into_iter().map(|(_, m)| m).collect(),
            known_msg_types,
        })
    }

    /// The fields by tag (dense, `None` where undefined) and the sorted MsgType values of field 35.
    fn load_fields(&mut self) -> Result<FieldsAndMsgTypes, String> {
        let mut fields: Vec<Option<FieldDef>> = Vec::new();
        let mut msg_types = Vec::new();
        for node in section(self.root, "fields")
            .ok_or("no <fields>")?
            .children()
            .filter(|n| n.has_tag_name("field"))
        {
            let name = node.attribute("name").ok_or("a <field> without name")?;
            let tag: u32 = node
                .attribute("number")
                .and_then(|n| n.parse().ok())
                .filter(|&t| (1..=TAG_MAX).contains(&t))
                .ok_or_else(|| format!("field {name}: number missing or not in 1..={TAG_MAX}"))?;
            let type_name = node.attribute("type").unwrap_or("");
            let mut field_type = FieldType::from_name(type_name)
                .ok_or_else(|| format!("field {name}: unknown type {type_name:?}"))?;
            let values: Vec<Vec<u8>> = node
                .children()
                .filter(|n| n.has_tag_name("value"))
                .map(|v| {
                    v.attribute("enum")
                        .map(|e| e.as_bytes().to_vec())
                        .ok_or_else(|| format!("field {name}: <value> without enum"))
                })
                .collect::<Result<_, _>>()?;
            // FIX 4.4 types MiscFeeType (139) and MassCancelRejectReason (532) as char yet lists values "10", "11",
            // "12" and "99" for them (FIX 5.0 made them strings): the listed values must pass the format check.
            if field_type == FieldType::Char && values.iter().any(|v| v.len() > 1) {
                field_type = FieldType::String;
            }
            if tag == 35 {
                msg_types = values
                    .iter()
                    .map(|v| v.clone().into_boxed_slice())
                    .collect();
            }
            if fields.len() <= tag as usize {
                fields.resize(tag as usize + 1, None);
            }
            if fields[tag as usize].is_some() {
                return Err(format!("field number {tag} is defined twice"));
            }
            if self.fields_by_name.insert(name, tag).is_some() {
                return Err(format!("field name {name} is defined twice"));
            }
            let open = OPEN_ENUMS
                .iter()
                .find(|(t, _)| *t == tag)
                .map_or(OpenValues::None, |(_, o)| *o);
            let allowed = AllowedValues::new(&values);
            self.types
                .insert(tag, (field_type, !matches!(allowed, AllowedValues::Any)));
            fields[tag as usize] = Some(FieldDef {
                tag,
                name: name.into(),
                field_type,
                allowed,
                open,
            });
        }
        msg_types.sort();
        if fields.iter().flatten().count() >= usize::from(NO_DEF) {
            return Err("too many fields".into());
        }
        if msg_types.is_empty() {
            return Err("field 35 (MsgType) lists no values".into());
        }
        Ok((fields, msg_types))
    }

    fn message(&self, node: Node) -> Result<MessageDef, String> {
        let name = node.attribute("name").ok_or("a <message> without name")?;
        let msg_type = node
            .attribute("msgtype")
            .ok_or_else(|| format!("message {name}: no msgtype"))?;
        let admin = match node.attribute("msgcat") {
            Some("admin") => true,
            Some("app") => false,
            other => {
                return Err(format!(
                    "message {name}: msgcat {other:?} is neither admin nor app"
                ));
            }
        };
        let body = self
            .structure(node, true, 0)
            .map_err(|e| format!("message {name}: {e}"))?;
        Ok(MessageDef {
            msg_type: msg_type.as_bytes().into(),
            name: name.into(),
            admin,
            body,
        })
    }

    /// The members of a message, header, trailer, group or component, components flattened.
    fn structure(&self, node: Node, required_ok: bool, depth: usize) -> Result<StructDef, String> {
        let mut members = Vec::new();
        self.flatten_into(node, required_ok, depth, &mut members)?;
        StructDef::new(members)
    }

    fn flatten_into(
        &self,
        node: Node,
        required_ok: bool,
        depth: usize,
        out: &mut Vec<Member>,
    ) -> Result<(), String> {
        if depth > COMPONENT_DEPTH_MAX {
            return Err("components nest too deep (a cycle?)".into());
        }
        for child in node.children().filter(Node::is_element) {
            let name = child
                .attribute("name")
                .ok_or_else(|| format!("a <{}> without name", child.tag_name().name()))?;
            let required = required_ok && child.attribute("required") == Some("Y");
            match child.tag_name().name() {
                "field" => out.push(self.member(name, required, None)?),
                "group" => out.push(self.group(child, name, required, depth)?),
                "component" => {
                    let component = self
                        .components
                        .get(name)
                        .ok_or_else(|| format!("unknown component {name}"))?;
                    self.flatten_into(*component, required, depth + 1, out)
                        .map_err(|e| format!("component {name}: {e}"))?;
                }
                other => return Err(format!("unexpected <{other}>")),
            }
        }
        Ok(())
    }

    fn group(
        &self,
        node: Node,
        name: &str,
        required: bool,
        depth: usize,
    ) -> Result<Member, String> {
        let count_tag = self.tag(name)?;
        let entry = self
            .structure(node, true, depth + 1)
            .map_err(|e| format!("group {name}: {e}"))?;
        let delimiter = entry
            .members
            .first()
            .ok_or_else(|| format!("group {name} is empty"))?
            .tag;
        let group = GroupDef {
            count_tag,
            delimiter,
            entry,
        };
        self.member(name, required, Some(Box::new(group)))
    }

    fn member(
        &self,
        name: &str,
        required: bool,
        group: Option<Box<GroupDef>>,
    ) -> Result<Member, String> {
        let tag = self.tag(name)?;
        let (field_type, enumerated) = self.types[&tag];
        if group.is_some() != (field_type == FieldType::NumInGroup) {
            return Err(format!(
                "{name}: a group's field must be NUMINGROUP and a NUMINGROUP field a group"
            ));
        }
        Ok(Member {
            tag,
            required,
            group,
            field_type,
            enumerated,
        })
    }

    fn tag(&self, name: &str) -> Result<u32, String> {
        self.fields_by_name
            .get(name)
            .copied()
            .ok_or_else(|| format!("field {name} is used but not defined"))
    }
}

fn section<'a, 'input>(root: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    root.children().find(|n| n.has_tag_name(name))
}

fn mark_section(def: &StructDef, section: Section, tags: &mut [TagInfo]) {
    for m in &def.members {
        tags[m.tag as usize].section = section;
        if let Some(g) = &m.group {
            mark_section(&g.entry, section, tags);
        }
    }
}

/// A DATA field that directly follows a LENGTH field in a structure is the data of that length.
fn collect_data_pairs(
    def: &StructDef,
    fields: &[Option<FieldDef>],
    out: &mut BTreeSet<(u32, u32)>,
) {
    let type_of = |tag: u32| fields[tag as usize].as_ref().map(|f| f.field_type);
    for pair in def.members.windows(2) {
        if type_of(pair[0].tag) == Some(FieldType::Length)
            && type_of(pair[1].tag) == Some(FieldType::Data)
        {
            out.insert((pair[0].tag, pair[1].tag));
        }
    }
    for g in def.members.iter().filter_map(|m| m.group.as_deref()) {
        collect_data_pairs(&g.entry, fields, out);
    }
}

#[cfg(test)]
pub(crate) mod tests;
