//! Windows time-zone names → IANA zones, and VTIMEZONE components.
//!
//! Graph, Outlook and Power Automate name zones by their Windows ID
//! (`W. Europe Standard Time`), sometimes by the Windows display name
//! (`(UTC+01:00) Amsterdam, Berlin, …`), sometimes by an IANA name. The Windows IDs map
//! to IANA through CLDR `windowsZones.xml` (PROTOCOLS 4.6); the table in
//! [`WINDOWS_ZONES`] is generated from it by `gen/windows_zones.py`.
//!
//! INTERFACE (fixed; the other modules depend on it): [`resolve`], [`windows_to_iana`],
//! [`WINDOWS_ZONES`], [`vtimezone`].

use std::str::FromStr;

use chrono_tz::Tz;

mod vtimezone;
#[rustfmt::skip]
mod windows_zones;

pub use vtimezone::vtimezone;

/// Every Windows zone of CLDR `windowsZones.xml` with its golden (`territory="001"`)
/// IANA zone, as (Windows ID, IANA ID), sorted by Windows ID.
///
/// The IANA IDs are CLDR's, which are sometimes legacy links (`Asia/Calcutta`,
/// `Europe/Kiev`); chrono-tz knows both spellings.
pub static WINDOWS_ZONES: &[(&str, &str)] = windows_zones::ZONES;

/// The golden IANA zone of a Windows zone ID (exact, case-insensitive match).
pub fn windows_to_iana(windows: &str) -> Option<&'static str> {
    WINDOWS_ZONES
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(windows))
        .map(|&(_, iana)| iana)
}

/// A zone name as Graph / Outlook / Power Automate send it: a Windows ID, an IANA ID,
/// `UTC`, `tzone://Microsoft/Utc`, or an Outlook display name like
/// `(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna`.
///
/// Tried in order (after trimming whitespace): an exact IANA name (RFC 5545 §3.2.19
/// TZIDs from most clients, old Thunderbird `/mozilla.org/<version>/` prefixes
/// removed), a Windows ID (case-insensitive; `tzone://Microsoft/` prefix removed), a
/// Windows display name (`(GMT…)` accepted for `(UTC…)`, and the place list alone
/// when it names one zone), `Coordinated Universal Time`, and last an IANA name in
/// other letter case. `UTC` itself is the IANA zone [`Tz::UTC`]; the Windows spellings
/// of UTC give CLDR's `Etc/UTC`. `None` for anything else.
pub fn resolve(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let name = strip_prefix_ignore_case(name, "/mozilla.org/")
        .and_then(|rest| rest.split_once('/').map(|(_, zone)| zone))
        .unwrap_or(name);
    if let Ok(tz) = Tz::from_str(name) {
        return Some(tz);
    }
    let windows = strip_prefix_ignore_case(name, "tzone://Microsoft/").unwrap_or(name);
    let iana = windows_to_iana(windows)
        .or_else(|| display_name_to_iana(name))
        .or_else(|| {
            name.eq_ignore_ascii_case("Coordinated Universal Time")
                .then(|| windows_to_iana("UTC"))
                .flatten()
        });
    if let Some(iana) = iana {
        return Tz::from_str(iana).ok();
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| tz.name().eq_ignore_ascii_case(name))
}

/// The IANA zone of a Windows display name such as
/// `(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna`.
fn display_name_to_iana(name: &str) -> Option<&'static str> {
    let name = normalize_display(name);
    let exact = windows_zones::DISPLAY_NAMES
        .iter()
        .find(|(display, _)| normalize_display(display).eq_ignore_ascii_case(&name));
    // Windows renames the offset part now and then ("(UTC) …" vs "(UTC+00:00) …",
    // "(GMT+01:00) …" in old Outlook); the place list alone is as good when unique.
    let windows = match exact {
        Some(&(_, windows)) => windows,
        None => {
            let places = display_places(&name)?;
            let mut hits = windows_zones::DISPLAY_NAMES.iter().filter(|(display, _)| {
                display_places(display).is_some_and(|p| p.eq_ignore_ascii_case(places))
            });
            let (_, windows) = hits.next()?;
            if hits.next().is_some() {
                return None;
            }
            windows
        }
    };
    windows_to_iana(windows)
}

/// Whitespace collapsed to single spaces, `(GMT` read as `(UTC`.
fn normalize_display(name: &str) -> String {
    let collapsed = name.split_whitespace().collect::<Vec<_>>().join(" ");
    match strip_prefix_ignore_case(&collapsed, "(GMT") {
        Some(rest) => format!("(UTC{rest}"),
        None => collapsed,
    }
}

/// The place list after the `(UTC±hh:mm)` part of a display name.
fn display_places(display: &str) -> Option<&str> {
    let rest = display.strip_prefix('(')?;
    let (_, places) = rest.split_once(')')?;
    let places = places.trim();
    (!places.is_empty()).then_some(places)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}
