//! The parsed tree: documents, components, properties and parameters.

use std::ops::Range;

use crate::text::unescape_text;

/// Where a parsed line came from in the input, as a byte range (folds and the line
/// terminator included). It is bookkeeping for minimal edits, not content: two trees
/// that differ only in where they came from compare equal.
#[derive(Clone, Debug, Default)]
pub(crate) struct Span(pub(crate) Option<Range<usize>>);

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Span {}

/// One property parameter: `NAME=value[,value…]`.
///
/// Values are stored decoded: surrounding double quotes are removed and RFC 6868 caret
/// escapes are resolved. A vCard 2.1 bare parameter (`TEL;WORK:`) has no values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Param {
    /// Upper-cased parameter name.
    pub name: String,
    /// Decoded values, in order; empty for a bare vCard 2.1 parameter.
    pub values: Vec<String>,
}

impl Param {
    /// A parameter with the given name (upper-cased) and values.
    pub fn new(name: &str, values: Vec<String>) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            values,
        }
    }

    /// All values joined with `,`, the way an unquoted parameter would read.
    pub fn joined(&self) -> String {
        self.values.join(",")
    }
}

/// One content line: `[group.]NAME[;params]:value`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Property {
    /// vCard group prefix (`item1` in `item1.EMAIL`), as written.
    pub group: Option<String>,
    /// Upper-cased property name.
    pub name: String,
    /// Parameters in their original order.
    pub params: Vec<Param>,
    /// The raw value, still escaped (`\,` `\;` `\n` …) and unfolded.
    pub value: String,
    pub(crate) span: Span,
}

impl Property {
    /// A new property without parameters; `value` must already be escaped.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            group: None,
            name: name.to_ascii_uppercase(),
            params: Vec::new(),
            value: value.into(),
            span: Span::default(),
        }
    }

    /// The values of the first parameter called `name` (case-insensitive), joined with `,`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(Param::joined)
    }

    /// Replaces every parameter called `name` by one with `values`, keeping the position
    /// of the first one (or appending it).
    pub fn set_param(&mut self, name: &str, values: Vec<String>) {
        let new = Param::new(name, values);
        match self
            .params
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(first) => {
                self.params[first] = new;
                let mut i = 0;
                self.params.retain(|p| {
                    let keep = i <= first || !p.name.eq_ignore_ascii_case(name);
                    i += 1;
                    keep
                });
            }
            None => self.params.push(new),
        }
    }

    /// Removes every parameter called `name`.
    pub fn remove_param(&mut self, name: &str) {
        self.params.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// The value read as TEXT (escapes decoded).
    pub fn text(&self) -> String {
        unescape_text(&self.value)
    }

    /// The byte range this property occupied in the parsed input, if it was parsed.
    pub fn source_range(&self) -> Option<Range<usize>> {
        self.span.0.clone()
    }
}

/// A `BEGIN:NAME … END:NAME` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Component {
    /// Upper-cased component name (`VCALENDAR`, `VEVENT`, `VCARD`, …).
    pub name: String,
    /// Properties in their original order.
    pub properties: Vec<Property>,
    /// Nested components in their original order.
    pub children: Vec<Component>,
    /// Lines inside this component that are not content lines (no `:`), kept verbatim
    /// (unfolded) so nothing is lost; written after the properties.
    pub unparsed: Vec<String>,
    pub(crate) begin: Span,
    pub(crate) end: Span,
}

impl Component {
    /// An empty component called `name` (upper-cased).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            ..Self::default()
        }
    }

    /// The first property called `name` (case-insensitive).
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Every property called `name` (case-insensitive).
    pub fn properties_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> {
        self.properties
            .iter()
            .filter(move |p| p.name.eq_ignore_ascii_case(name))
    }

    /// The raw `UID` value, if present and not empty.
    pub fn uid(&self) -> Option<&str> {
        self.property("UID")
            .map(|p| p.value.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// Whether this is a `VTIMEZONE`.
    pub fn is_timezone(&self) -> bool {
        self.name == "VTIMEZONE"
    }

    /// The byte range from the start of the `BEGIN` line to the end of the `END` line in
    /// the parsed input, if the component was parsed.
    pub fn source_range(&self) -> Option<Range<usize>> {
        match (&self.begin.0, &self.end.0) {
            (Some(b), Some(e)) => Some(b.start..e.end),
            _ => None,
        }
    }

    /// The byte range of the `END` line in the parsed input, if parsed.
    pub(crate) fn end_line(&self) -> Option<Range<usize>> {
        self.end.0.clone()
    }

    /// Calls `f` on this component and every descendant, parents first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Component)) {
        f(self);
        for child in &self.children {
            child.walk(f);
        }
    }
}

/// A parsed file: one or more top-level components (`VCALENDAR`s or `VCARD`s).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    /// Top-level components in file order.
    pub components: Vec<Component>,
    /// True when some bytes were not valid UTF-8 and were read as Windows-1252; field
    /// values may then differ from what the producer meant.
    pub lossy: bool,
    /// Things the lenient parser tolerated (stray lines, unmatched `END`s …), for logs.
    pub warnings: Vec<String>,
}

/// What a document holds, judged by its first top-level component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DocKind {
    Calendar,
    Cards,
}

impl Document {
    /// Parses bytes; see [`crate::parse`].
    ///
    /// # Errors
    /// As [`crate::parse`].
    pub fn parse(bytes: &[u8]) -> Result<Self, crate::ParseError> {
        crate::parse::parse(bytes)
    }

    /// Whether the document holds calendars or cards.
    pub(crate) fn kind(&self) -> Result<DocKind, crate::ParseError> {
        match self.components.first().map(|c| c.name.as_str()) {
            Some("VCALENDAR") => Ok(DocKind::Calendar),
            Some("VCARD") => Ok(DocKind::Cards),
            Some(other) => Err(crate::ParseError::NotCalendarData {
                found: format!("top-level component {other}"),
            }),
            None => Err(crate::ParseError::NotCalendarData {
                found: "no BEGIN line".to_owned(),
            }),
        }
    }

    /// The item components: children of every `VCALENDAR` except `VTIMEZONE`s, or the
    /// `VCARD`s themselves.
    pub fn item_components(&self) -> Vec<&Component> {
        let mut items = Vec::new();
        for top in &self.components {
            match top.name.as_str() {
                "VCALENDAR" => items.extend(top.children.iter().filter(|c| !c.is_timezone())),
                "VCARD" => items.push(top),
                _ => {}
            }
        }
        items
    }
}
