//! Webhook bodies in either shape, read into one [`EventPayload`].
//!
//! INTERFACE (fixed; the server depends on it): the types and the signatures of
//! [`parse`] and [`parse_deleted`].
//!
//! The shape is told by `start`: an object (`{dateTime, timeZone}`) is Graph, a string
//! is Power Automate; without `start`, `@odata.*` keys mean Graph and `actionType`,
//! `isHtml` or `startWithTimeZone` mean Power Automate. Each field is then read in
//! whichever form it comes (a Graph `location` object or a flow's string, `attendees[]`
//! or `requiredAttendees`), so a flow that mixes the two still reads.
//!
//! Keys match ignoring case (the V2 trigger's `Id`, `Subject`, `Start`). A field of the
//! wrong JSON type is an error naming it; an unknown *value* of a descriptive field
//! (`showAs`, `sensitivity`, `importance`, `actionType`) falls back to the default, so
//! a new Microsoft enum member does not turn an event into a dead letter.

mod json;
mod people;
mod series;
mod time;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;
use thiserror::Error;

use json::{Obj, invalid, kind};

/// Why a webhook body cannot be used. Every variant names the JSON field at fault
/// (dotted path, e.g. `start.timeZone`), or `body` for the document as a whole.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PayloadError {
    /// Not JSON, or not a JSON object.
    #[error("the body is not a JSON object: {0}")]
    Malformed(String),
    /// A required field is absent or null.
    #[error("missing required field {0}")]
    Missing(String),
    /// A field has the wrong type or an unreadable value.
    #[error("field {field}: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A time-zone name that is neither a Windows name of the CLDR table, nor IANA, nor UTC.
    #[error("field {field}: unknown time zone {zone:?}")]
    UnknownTimeZone {
        /// The field.
        field: String,
        /// The name as sent.
        zone: String,
    },
}

impl PayloadError {
    /// The JSON field at fault (`body` for the whole document).
    pub fn field(&self) -> &str {
        match self {
            PayloadError::Malformed(_) => "body",
            PayloadError::Missing(field) => field,
            PayloadError::Invalid { field, .. } | PayloadError::UnknownTimeZone { field, .. } => {
                field
            }
        }
    }
}

/// Which sender's shape the body has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Microsoft Graph event JSON (PROTOCOLS 4.1).
    Graph,
    /// The flat Power Automate V3 trigger payload (PROTOCOLS 4.5).
    PowerAutomate,
}

/// Graph's `type` of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A one-off event (also the default when the field is absent).
    SingleInstance,
    /// An unchanged occurrence of a series.
    Occurrence,
    /// A changed occurrence of a series.
    Exception,
    /// The series itself, with `recurrence`.
    SeriesMaster,
}

/// A start or end time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventTime {
    /// A time of day in a zone (`zone` resolved to IANA; UTC is `chrono_tz::UTC`).
    Zoned {
        /// Local wall-clock time.
        local: NaiveDateTime,
        /// The zone.
        zone: chrono_tz::Tz,
    },
    /// A whole day (all-day events; the end is exclusive).
    Date(NaiveDate),
}

/// `showAs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowAs {
    /// `free`: TRANSP:TRANSPARENT.
    Free,
    /// `tentative`: OPAQUE, STATUS:TENTATIVE.
    Tentative,
    /// `busy`, `unknown`, a value not known here, and absent: OPAQUE.
    Busy,
    /// `oof`.
    OutOfOffice,
    /// `workingElsewhere`.
    WorkingElsewhere,
}

/// `sensitivity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sensitivity {
    /// `normal` (CLASS:PUBLIC).
    Normal,
    /// `personal` (CLASS:PRIVATE).
    Personal,
    /// `private` (CLASS:PRIVATE).
    Private,
    /// `confidential` (CLASS:CONFIDENTIAL).
    Confidential,
}

/// An attendee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendee {
    /// Display name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: String,
    /// `required`, `optional` or `resource`.
    pub kind: AttendeeKind,
    /// Graph `status.response`: `accepted`, `declined`, `tentativelyAccepted`, `none`, …
    pub response: Option<String>,
}

/// The role of an attendee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttendeeKind {
    /// REQ-PARTICIPANT.
    Required,
    /// OPT-PARTICIPANT.
    Optional,
    /// CUTYPE=RESOURCE.
    Resource,
}

/// Graph `recurrence`: pattern and range (PROTOCOLS 4.3). Power Automate's plain
/// `recurrence` string (`daily`/`weekly`/`monthly`/`yearly`) is read into the same
/// shape with interval 1 and the day fields taken from `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    /// `pattern.type`.
    pub pattern: PatternType,
    /// `pattern.interval` (≥ 1).
    pub interval: u32,
    /// `pattern.daysOfWeek`, as `SU`..`SA`.
    pub days_of_week: Vec<String>,
    /// `pattern.firstDayOfWeek`, as `SU`..`SA` (default `SU`).
    pub first_day_of_week: String,
    /// `pattern.dayOfMonth`.
    pub day_of_month: Option<u32>,
    /// `pattern.month`.
    pub month: Option<u32>,
    /// `pattern.index`: 1..4, or -1 for `last`.
    pub index: i32,
    /// `range`.
    pub range: RecurrenceRange,
}

/// `pattern.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternType {
    /// `daily`.
    Daily,
    /// `weekly`.
    Weekly,
    /// `absoluteMonthly`.
    AbsoluteMonthly,
    /// `relativeMonthly`.
    RelativeMonthly,
    /// `absoluteYearly`.
    AbsoluteYearly,
    /// `relativeYearly`.
    RelativeYearly,
}

/// `range`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecurrenceRange {
    /// `noEnd`.
    NoEnd,
    /// `endDate` (inclusive date).
    EndDate(NaiveDate),
    /// `numbered`: `numberOfOccurrences`.
    Numbered(u32),
}

/// What Power Automate's `actionType` (or V2's `ActionType`) says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `added`.
    Added,
    /// `updated`.
    Updated,
    /// `deleted`.
    Deleted,
}

/// One event as a webhook delivered it, in either shape.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPayload {
    /// Which shape it came in.
    pub shape: Shape,
    /// `id` (mailbox-specific event id; the key of the mapping).
    pub id: String,
    /// `iCalUId`, when sent (the same meeting in several mailboxes shares it).
    pub ical_uid: Option<String>,
    /// `type`.
    pub event_type: EventType,
    /// `seriesMasterId`, for occurrences and exceptions.
    pub series_master_id: Option<String>,
    /// `originalStart` (UTC), for occurrences and exceptions: the RECURRENCE-ID.
    pub original_start: Option<DateTime<Utc>>,
    /// `lastModifiedDateTime`.
    pub last_modified: Option<DateTime<Utc>>,
    /// `createdDateTime`.
    pub created: Option<DateTime<Utc>>,
    /// `actionType` of Power Automate, when sent.
    pub action: Option<Action>,
    /// `isCancelled`.
    pub is_cancelled: bool,
    /// `subject`.
    pub subject: Option<String>,
    /// `body.content` (or Power Automate's `body`).
    pub body: Option<String>,
    /// Whether `body` is HTML (`body.contentType == "html"` or `isHtml`).
    pub body_is_html: bool,
    /// `location.displayName` (or Power Automate's `location`).
    pub location: Option<String>,
    /// `start` (all-day events: a date).
    pub start: EventTime,
    /// `end` (all-day events: the exclusive end date).
    pub end: EventTime,
    /// `isAllDay`.
    pub is_all_day: bool,
    /// `showAs`.
    pub show_as: ShowAs,
    /// `sensitivity`.
    pub sensitivity: Sensitivity,
    /// `importance`: `low`, `normal`, `high` (→ PRIORITY 9 / none / 1).
    pub importance: Option<String>,
    /// `categories`.
    pub categories: Vec<String>,
    /// `reminderMinutesBeforeStart`, when `isReminderOn` (→ VALARM).
    pub reminder_minutes: Option<u32>,
    /// `organizer`.
    pub organizer: Option<Attendee>,
    /// `attendees` (Power Automate: `requiredAttendees`, `optionalAttendees`,
    /// `resourceAttendees`).
    pub attendees: Vec<Attendee>,
    /// `recurrence`, on series masters.
    pub recurrence: Option<Recurrence>,
    /// `webLink`.
    pub web_link: Option<String>,
}

/// The least a delete needs: the event's identity (PROTOCOLS 4.5: rely only on
/// `id`/`iCalUId` for deletes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedEvent {
    /// Which shape it came in.
    pub shape: Shape,
    /// `id`.
    pub id: String,
    /// `iCalUId`, when sent.
    pub ical_uid: Option<String>,
    /// `seriesMasterId`, when the deleted event is one occurrence of a series.
    pub series_master_id: Option<String>,
    /// `originalStart` (UTC) of a deleted occurrence.
    pub original_start: Option<DateTime<Utc>>,
    /// `lastModifiedDateTime`, when sent.
    pub last_modified: Option<DateTime<Utc>>,
}

/// The top-level object of a body.
fn root(body: &[u8]) -> Result<serde_json::Map<String, Value>, PayloadError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(PayloadError::Malformed(format!(
            "expected an object, found {}",
            kind(&other)
        ))),
        Err(err) => Err(PayloadError::Malformed(err.to_string())),
    }
}

/// Which sender wrote `root` (see the module documentation).
fn shape(root: &Obj<'_>) -> Shape {
    match root.get("start") {
        Some(Value::Object(_)) => return Shape::Graph,
        Some(Value::String(_)) => return Shape::PowerAutomate,
        _ => {}
    }
    if ["@odata.etag", "@odata.type", "@odata.context", "@odata.id"]
        .iter()
        .any(|k| root.has(k))
    {
        Shape::Graph
    } else if [
        "actionType",
        "isHtml",
        "startWithTimeZone",
        "isAdded",
        "isUpdated",
    ]
    .iter()
    .any(|k| root.has(k))
    {
        Shape::PowerAutomate
    } else {
        Shape::Graph
    }
}

/// `actionType` (`added`/`updated`/`deleted`), or the V2 `IsAdded`/`IsUpdated` flags.
fn action(root: &Obj<'_>) -> Result<Option<Action>, PayloadError> {
    if let Some(word) = root.str("actionType")? {
        return Ok(match word.trim().to_ascii_lowercase().as_str() {
            "added" | "created" => Some(Action::Added),
            "updated" | "modified" => Some(Action::Updated),
            "deleted" | "removed" => Some(Action::Deleted),
            _ => None,
        });
    }
    if root.bool("isAdded")? == Some(true) {
        Ok(Some(Action::Added))
    } else if root.bool("isUpdated")? == Some(true) {
        Ok(Some(Action::Updated))
    } else {
        Ok(None)
    }
}

/// A descriptive enum field: a word (any case), or the V2 trigger's number, which
/// indexes `words`. `None` when absent or not one of `words`.
fn word_or_number(
    root: &Obj<'_>,
    key: &str,
    words: &[&str],
) -> Result<Option<String>, PayloadError> {
    match root.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => {
            let text = text.trim().to_ascii_lowercase();
            Ok(words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(&text))
                .map(|w| (*w).to_owned()))
        }
        Some(Value::Number(n)) => Ok(n
            .as_u64()
            .and_then(|i| words.get(usize::try_from(i).ok()?))
            .map(|w| (*w).to_owned())),
        Some(other) => Err(invalid(
            root.field(key),
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

fn event_type(root: &Obj<'_>, recurring: bool, master: bool) -> Result<EventType, PayloadError> {
    let words = ["singleinstance", "occurrence", "exception", "seriesmaster"];
    Ok(match word_or_number(root, "type", &words)?.as_deref() {
        Some("singleinstance") => EventType::SingleInstance,
        Some("occurrence") => EventType::Occurrence,
        Some("exception") => EventType::Exception,
        Some("seriesmaster") => EventType::SeriesMaster,
        _ if recurring => EventType::SeriesMaster,
        // A flow reports a changed occurrence with its series' id and no `type`.
        _ if master => EventType::Exception,
        _ => EventType::SingleInstance,
    })
}

fn show_as(root: &Obj<'_>) -> Result<ShowAs, PayloadError> {
    let words = [
        "free",
        "tentative",
        "busy",
        "oof",
        "workingelsewhere",
        "unknown",
    ];
    Ok(match word_or_number(root, "showAs", &words)?.as_deref() {
        Some("free") => ShowAs::Free,
        Some("tentative") => ShowAs::Tentative,
        Some("oof") => ShowAs::OutOfOffice,
        Some("workingelsewhere") => ShowAs::WorkingElsewhere,
        _ => ShowAs::Busy,
    })
}

fn sensitivity(root: &Obj<'_>) -> Result<Sensitivity, PayloadError> {
    let words = ["normal", "personal", "private", "confidential"];
    Ok(
        match word_or_number(root, "sensitivity", &words)?.as_deref() {
            Some("personal") => Sensitivity::Personal,
            Some("private") => Sensitivity::Private,
            Some("confidential") => Sensitivity::Confidential,
            _ => Sensitivity::Normal,
        },
    )
}

/// `body`: Graph's `{contentType, content}` or a flow's string with `isHtml` (when a
/// flow leaves `isHtml` out, a body that looks like HTML is taken as HTML). Without a
/// body, Graph's `bodyPreview` is used as text.
fn body(root: &Obj<'_>) -> Result<(Option<String>, bool), PayloadError> {
    let (content, html) = match root.get("body") {
        None => (None, false),
        Some(Value::String(_)) => {
            let content = root.string("body")?;
            let html = match root.bool("isHtml")? {
                Some(flag) => flag,
                None => content.as_deref().is_some_and(looks_like_html),
            };
            (content, html)
        }
        Some(Value::Object(_)) => match root.child("body")? {
            Some(body) => {
                let html = body
                    .str("contentType")?
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("html"));
                (body.string("content")?, html)
            }
            None => (None, false),
        },
        Some(other) => {
            return Err(invalid(
                "body",
                format!("expected an object or a string, found {}", kind(other)),
            ));
        }
    };
    match content {
        Some(content) => Ok((Some(content), html)),
        None => Ok((root.string("bodyPreview")?, false)),
    }
}

fn looks_like_html(text: &str) -> bool {
    let lower = text
        .trim_start()
        .get(..6)
        .unwrap_or("")
        .to_ascii_lowercase();
    lower.starts_with("<html")
        || lower.starts_with("<!doc")
        || text.contains("</")
        || text.contains("<br")
}

/// `location`: Graph's `{displayName}` (else the names of `locations[]`) or a string.
fn location(root: &Obj<'_>) -> Result<Option<String>, PayloadError> {
    let single = match root.get("location") {
        None => None,
        Some(Value::String(_)) => root.string("location")?,
        Some(Value::Object(_)) => match root.child("location")? {
            Some(place) => place.string("displayName")?,
            None => None,
        },
        Some(other) => {
            return Err(invalid(
                "location",
                format!("expected an object or a string, found {}", kind(other)),
            ));
        }
    };
    if single.is_some() {
        return Ok(single);
    }
    let mut names = Vec::new();
    for (i, item) in root
        .array("locations")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Value::Object(map) = item
            && let Some(name) = Obj::at(map, format!("locations.{i}")).string("displayName")?
        {
            names.push(name);
        }
    }
    Ok((!names.is_empty()).then(|| names.join("; ")))
}

/// `categories`: an array of names (a flow's comma-separated string is accepted too).
fn categories(root: &Obj<'_>) -> Result<Vec<String>, PayloadError> {
    let names: Vec<String> = match root.get("categories") {
        None => Vec::new(),
        Some(Value::String(list)) => list.split(',').map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    invalid("categories", format!("expected names, found {}", kind(v)))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(
                "categories",
                format!("expected an array, found {}", kind(other)),
            ));
        }
    };
    Ok(names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect())
}

/// `reminderMinutesBeforeStart`, unless `isReminderOn` is false.
fn reminder(root: &Obj<'_>) -> Result<Option<u32>, PayloadError> {
    let minutes = root.u32("reminderMinutesBeforeStart")?;
    Ok(match root.bool("isReminderOn")? {
        Some(false) => None,
        _ => minutes,
    })
}

/// Reads a created/updated event body in either shape.
///
/// # Errors
/// [`PayloadError`] naming the field: not JSON, `id`/`start`/`end` missing, a time that
/// does not parse, an unknown time zone, a recurrence pattern without its fields.
pub fn parse(body: &[u8]) -> Result<EventPayload, PayloadError> {
    let map = root(body)?;
    let root = Obj::root(&map);
    let shape = shape(&root);
    let id = root.required_str("id")?.to_owned();
    let is_all_day = root.bool("isAllDay")?.unwrap_or(false);
    let start = time::event_time(&root, "start", is_all_day)?;
    let mut end = time::event_time(&root, "end", is_all_day)?;
    if let (EventTime::Date(first), EventTime::Date(last)) = (&start, &end) {
        // The end is exclusive: an all-day event lasts at least its first day.
        if last <= first {
            end = EventTime::Date(first.succ_opt().unwrap_or(*first));
        }
    }
    let recurrence = series::recurrence(&root, &start)?;
    let series_master_id = root.string("seriesMasterId")?;
    let (body, body_is_html) = self::body(&root)?;
    let importance = word_or_number(&root, "importance", &["low", "normal", "high"])?;
    Ok(EventPayload {
        shape,
        ical_uid: root.string("iCalUId")?,
        event_type: event_type(&root, recurrence.is_some(), series_master_id.is_some())?,
        series_master_id,
        original_start: time::utc(&root, "originalStart")?,
        last_modified: time::utc(&root, "lastModifiedDateTime")?,
        created: time::utc(&root, "createdDateTime")?,
        action: action(&root)?,
        is_cancelled: root.bool("isCancelled")?.unwrap_or(false),
        subject: root.string("subject")?,
        body,
        body_is_html,
        location: location(&root)?,
        start,
        end,
        is_all_day,
        show_as: show_as(&root)?,
        sensitivity: sensitivity(&root)?,
        importance,
        categories: categories(&root)?,
        reminder_minutes: reminder(&root)?,
        organizer: people::organizer(&root)?,
        attendees: people::attendees(&root)?,
        recurrence,
        web_link: root.string("webLink")?,
        id,
    })
}

/// Reads a deleted event body: only `id` is required.
///
/// # Errors
/// [`PayloadError`]: not JSON, no `id`.
pub fn parse_deleted(body: &[u8]) -> Result<DeletedEvent, PayloadError> {
    let map = root(body)?;
    let root = Obj::root(&map);
    Ok(DeletedEvent {
        shape: shape(&root),
        id: root.required_str("id")?.to_owned(),
        ical_uid: root.string("iCalUId")?,
        series_master_id: root.string("seriesMasterId")?,
        original_start: time::utc(&root, "originalStart")?,
        last_modified: time::utc(&root, "lastModifiedDateTime")?,
    })
}
