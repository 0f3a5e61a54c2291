//! Microsoft 365 calendar events, as Graph or Power Automate push them, turned into
//! iCalendar items for a CalDAV calendar.
//!
//! - [`payload`] reads a webhook body in either shape — Graph event JSON
//!   (`start: {dateTime, timeZone}`, `@odata.etag`) or the flat Power Automate V3
//!   trigger (`start` strings, `actionType`) — into one [`payload::EventPayload`], with
//!   errors that name the field at fault.
//! - [`tz`] maps Windows time-zone names to IANA zones (a table generated from CLDR
//!   `windowsZones.xml`) and writes the VTIMEZONE of a zone.
//! - [`recurrence`] turns Graph recurrence patterns into RRULEs.
//! - [`html`] turns an HTML body into plain text.
//! - [`render`] writes the whole item: the series master or single event, its
//!   exceptions as RECURRENCE-ID overrides, its cancelled occurrences as EXDATEs.
//!
//! Pure code: no I/O, no async.

pub mod html;
pub mod payload;
pub mod recurrence;
pub mod render;
pub mod tz;
