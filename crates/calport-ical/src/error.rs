//! The one error type of this crate.

/// Why an object could not be used at all.
///
/// Parsing is lenient: odd lines are kept, not rejected. These errors are reserved for
/// input we truly cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input is empty or only whitespace.
    #[error("empty body")]
    Empty,
    /// The input is not text we can read (UTF-16/UTF-32 or binary data).
    #[error("not text: {0}")]
    NotText(&'static str),
    /// The body is the literal text `(null)`: a broken client or server replaced it.
    #[error("body is the literal text \"(null)\", not calendar or contact data")]
    NullBody,
    /// No `BEGIN:VCALENDAR` or `BEGIN:VCARD` where one was expected.
    #[error("not calendar or contact data: {found}")]
    NotCalendarData {
        /// What was found instead (a component name or a description).
        found: String,
    },
    /// A `BEGIN:` line whose `END:` never came (the data was probably truncated).
    #[error("BEGIN:{component} has no matching END (truncated data?)")]
    Truncated {
        /// The innermost component left open at the end of the input.
        component: String,
    },
    /// The object has no component carrying a UID.
    #[error("object has no UID")]
    NoUid,
    /// The calendar holds no event, to-do, journal or free/busy component.
    #[error("calendar holds no event, to-do, journal or free/busy component")]
    NoItem,
}
