//! What a comparison forgives.

/// A property a server may add on its own: it is forgiven when it appears only on the
/// actual side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAdded {
    /// Component name (`VEVENT`, `VCARD`, …) or `*` for any component.
    pub component: String,
    /// Property name.
    pub property: String,
    /// The value it may carry (compared case-insensitively); `None` for any value.
    pub value: Option<String>,
}

impl ServerAdded {
    /// A server-added property with the given component, name and optional value.
    pub fn new(component: &str, property: &str, value: Option<&str>) -> Self {
        Self {
            component: component.to_ascii_uppercase(),
            property: property.to_ascii_uppercase(),
            value: value.map(str::to_owned),
        }
    }
}

/// Which rewrites [`crate::compare`] forgives.
///
/// Always forgiven, because they are representation, not content: line folding, line
/// endings, property and parameter order, case of property and parameter names,
/// quoting and RFC 6868 caret encoding of parameter values, the case of a `mailto:`
/// scheme, component order (components are matched by identity, alarms as a
/// multiset) and list values split over several lines (`EXDATE`, `RDATE`,
/// `CATEGORIES`, `RESOURCES`, `FREEBUSY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tolerance {
    /// Properties never compared (upper-case names).
    pub ignore_properties: Vec<String>,
    /// Parameters never compared (upper-case names).
    pub ignore_params: Vec<String>,
    /// Ignore the organizer's display name (`ORGANIZER;CN=…`): SOGo replaces it with the
    /// account's full name when the organizer is the account owner. The address itself
    /// is still compared.
    pub organizer_cn: bool,
    /// Properties a server may add (see [`ServerAdded`]).
    pub server_added: Vec<ServerAdded>,
    /// Ignore a vCard's `VERSION` (3.0 ↔ 4.0 conversions by CardDAV servers).
    pub vcard_version: bool,
    /// Do not compare `VTIMEZONE` components at all.
    pub ignore_vtimezones: bool,
    /// Ignore `VTIMEZONE`s whose TZID no property of the same side references.
    pub ignore_unused_vtimezones: bool,
    /// Forgive a `VTIMEZONE` present only on the actual side.
    pub allow_added_vtimezones: bool,
    /// Treat `TZID=UTC` / `Etc/UTC` / `GMT` … local times as the same instant written
    /// with a `Z` suffix.
    pub utc_forms: bool,
    /// Compare TEXT values unescaped (`\,` and `,` are the same comma in `SUMMARY`).
    pub unescape_text: bool,
    /// Ignore trailing empty components of structured values (`N:Smith;Søren;;;`).
    pub trailing_structured: bool,
    /// Ignore the order of `RRULE`/`EXRULE` parts and the case of their names.
    pub rrule_part_order: bool,
    /// Compare `TYPE` parameter values case-insensitively.
    pub type_case: bool,
    /// Compare vCard group names case-insensitively (`item1.` vs `ITEM1.`).
    pub group_case: bool,
    /// Drop parameters that restate a default: `VALUE=<default type>`,
    /// `CHARSET=UTF-8`, and decode `ENCODING=QUOTED-PRINTABLE` values.
    pub redundant_params: bool,
}

impl Default for Tolerance {
    /// The rewrites servers are allowed to make; suitable for comparing a migrated copy
    /// with its source. `LAST-MODIFIED` is still compared.
    fn default() -> Self {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        let mut server_added: Vec<ServerAdded> = ["VEVENT", "VTODO", "VJOURNAL"]
            .iter()
            .map(|c| ServerAdded::new(c, "CLASS", Some("PUBLIC")))
            .collect();
        server_added.extend([
            ServerAdded::new("*", "SEQUENCE", Some("0")),
            ServerAdded::new("VEVENT", "TRANSP", Some("OPAQUE")),
            ServerAdded::new("VCARD", "REV", None),
        ]);
        Self {
            ignore_properties: names(&["PRODID", "DTSTAMP", "METHOD", "X-CALPORT-ORIGIN"]),
            // RSVP only asks attendees for a reply (SOGo adds RSVP=TRUE to every attendee).
            ignore_params: names(&["SCHEDULE-AGENT", "SCHEDULE-STATUS", "RSVP"]),
            organizer_cn: true,
            server_added,
            vcard_version: true,
            ignore_vtimezones: false,
            ignore_unused_vtimezones: true,
            allow_added_vtimezones: true,
            utc_forms: true,
            unescape_text: true,
            trailing_structured: true,
            rrule_part_order: true,
            type_case: true,
            group_case: true,
            redundant_params: true,
        }
    }
}

impl Tolerance {
    /// Forgives only representation (see the type's documentation): every property,
    /// parameter and `VTIMEZONE` is compared.
    pub fn strict() -> Self {
        Self {
            ignore_properties: Vec::new(),
            ignore_params: Vec::new(),
            organizer_cn: false,
            server_added: Vec::new(),
            vcard_version: false,
            ignore_vtimezones: false,
            ignore_unused_vtimezones: false,
            allow_added_vtimezones: false,
            utc_forms: false,
            unescape_text: false,
            trailing_structured: false,
            rrule_part_order: false,
            type_case: false,
            group_case: false,
            redundant_params: false,
        }
    }

    pub(crate) fn ignores_property(&self, name: &str) -> bool {
        self.ignore_properties
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
    }

    pub(crate) fn ignores_param(&self, name: &str) -> bool {
        self.ignore_params
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
    }

    /// Whether a property seen only on the actual side is a forgiven server addition.
    pub(crate) fn is_server_added(&self, component: &str, property: &str, value: &str) -> bool {
        self.server_added.iter().any(|s| {
            (s.component == "*" || s.component.eq_ignore_ascii_case(component))
                && s.property.eq_ignore_ascii_case(property)
                && s.value
                    .as_deref()
                    .is_none_or(|v| v.eq_ignore_ascii_case(value.trim()))
        })
    }
}

#[cfg(test)]
mod sogo_rewrite_tests {
    use super::Tolerance;

    const SENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTART:20260105T090000Z\r\nORGANIZER;CN=Ops:mailto:ops@example.org\r\nATTENDEE;CN=Kim:mailto:kim@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn rsvp_added_and_organizer_name_replaced_are_forgiven_by_default_only() {
        let stored = SENT
            .replace("ORGANIZER;CN=Ops", "ORGANIZER;CN=Alice Example")
            .replace("ATTENDEE;CN=Kim", "ATTENDEE;CN=Kim;RSVP=TRUE");
        let lenient =
            crate::compare(SENT.as_bytes(), stored.as_bytes(), &Tolerance::default()).unwrap();
        assert!(lenient.is_empty(), "{lenient:?}");
        let strict =
            crate::compare(SENT.as_bytes(), stored.as_bytes(), &Tolerance::strict()).unwrap();
        assert_eq!(strict.len(), 2, "{strict:?}");
        // The organizer's address is still compared.
        let moved = SENT.replace("mailto:ops@", "mailto:other@");
        assert!(
            !crate::compare(SENT.as_bytes(), moved.as_bytes(), &Tolerance::default())
                .unwrap()
                .is_empty()
        );
    }
}
