//! Newtypes and plain data describing collections and item versions.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string as this type without checking it.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// Consumes the wrapper and returns the string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_newtype!(
    /// Where an item or collection lives inside its store. For DAV stores this is the
    /// absolute path of the resource as the server spells it (percent-encoded), e.g.
    /// `/alice/calendar/ev1.ics`; collections end with `/`.
    ItemRef
);
string_newtype!(
    /// An entity tag, kept byte-for-byte as the server sent it, quotes included
    /// (RFC 9110 §8.8.3). Servers compare `If-Match` literally.
    Etag
);

/// What a collection holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionKind {
    /// A CalDAV calendar (events, tasks or journals).
    Calendar,
    /// A CardDAV address book.
    AddressBook,
}

impl CollectionKind {
    /// A lower-case word for messages and the state database.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionKind::Calendar => "calendar",
            CollectionKind::AddressBook => "addressbook",
        }
    }
}

/// The kind of object an item is, from its first real component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// A VEVENT.
    Event,
    /// A VTODO.
    Todo,
    /// A VJOURNAL.
    Journal,
    /// A VFREEBUSY or VAVAILABILITY (rare in stored calendars).
    FreeBusy,
    /// A vCard.
    Card,
}

impl ComponentKind {
    /// The iCalendar component name (or `VCARD`).
    pub fn component_name(self) -> &'static str {
        match self {
            ComponentKind::Event => "VEVENT",
            ComponentKind::Todo => "VTODO",
            ComponentKind::Journal => "VJOURNAL",
            ComponentKind::FreeBusy => "VFREEBUSY",
            ComponentKind::Card => "VCARD",
        }
    }

    /// Parses an iCalendar component name (case-insensitive).
    pub fn from_component_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "VEVENT" => Some(ComponentKind::Event),
            "VTODO" => Some(ComponentKind::Todo),
            "VJOURNAL" => Some(ComponentKind::Journal),
            "VFREEBUSY" | "VAVAILABILITY" => Some(ComponentKind::FreeBusy),
            "VCARD" => Some(ComponentKind::Card),
            _ => None,
        }
    }
}

/// One calendar or address book as discovered in a store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionInfo {
    /// Where the collection lives (ends with `/` for DAV).
    pub href: ItemRef,
    /// Calendar or address book.
    pub kind: CollectionKind,
    /// Human-readable name (`DAV:displayname`), if the server has one.
    pub display_name: Option<String>,
    /// Colour as `#RRGGBB` or `#RRGGBBAA` (Apple `calendar-color`).
    pub color: Option<String>,
    /// Free-text description.
    pub description: Option<String>,
    /// Component names the calendar accepts (`VEVENT`, `VTODO`, …); empty = all / unknown.
    pub components: Vec<String>,
    /// CalendarServer `getctag`: changes whenever any member changes.
    pub ctag: Option<String>,
    /// Current RFC 6578 sync token, when the server exposes one.
    pub sync_token: Option<String>,
    /// Whether the collection supports the sync-collection REPORT.
    pub supports_sync: bool,
    /// Whether the current user lacks write privileges.
    pub read_only: bool,
}

impl CollectionInfo {
    /// The last path segment without slashes (`/alice/work/` → `work`).
    pub fn segment(&self) -> &str {
        self.href
            .as_str()
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }

    /// The name users see: display name, else the path segment.
    pub fn label(&self) -> &str {
        match &self.display_name {
            Some(name) if !name.trim().is_empty() => name,
            _ => self.segment(),
        }
    }

    /// Whether a calendar accepts the given component (`VEVENT` …). An empty component
    /// set means the server did not say, which RFC 4791 §5.2.3 reads as "all".
    pub fn accepts(&self, component: &str) -> bool {
        self.components.is_empty()
            || self
                .components
                .iter()
                .any(|c| c.eq_ignore_ascii_case(component))
    }
}

/// An item's address and current version, as listed by a store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemVersion {
    /// Where the item lives.
    pub href: ItemRef,
    /// Its current entity tag.
    pub etag: Etag,
}
