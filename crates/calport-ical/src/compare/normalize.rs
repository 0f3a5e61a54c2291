//! The normalized form components and properties are compared in.

use std::collections::BTreeSet;

use super::Tolerance;
use crate::model::{Component, Property};
use crate::split::tzid_key;
use crate::text::{decode_lenient, decode_quoted_printable, escape_text, split_unescaped};
use crate::write::param_value;

/// A property reduced to what it means.
#[derive(Clone, Debug)]
pub(crate) struct NProp {
    /// `group.NAME` or `NAME`.
    pub(crate) name: String,
    /// The normalized parameters, `;`-separated.
    pub(crate) params: String,
    /// Parameters and value as shown in reports: `TZID=Europe/Berlin:20250106T090000`.
    pub(crate) shown: String,
    /// The normalized value alone (for server-added checks).
    pub(crate) value: String,
}

impl NProp {
    pub(crate) fn key(&self) -> String {
        format!("{}\u{1}{}\u{1}{}", self.name, self.params, self.value)
    }
}

/// A component reduced to what it means.
#[derive(Clone, Debug)]
pub(crate) struct NComp {
    pub(crate) name: String,
    /// How the component is matched: `uid=…[;recurrence-id=…]` or `tzid=…`; `None`
    /// for components compared as a multiset (alarms, timezone rules …).
    pub(crate) id: Option<String>,
    pub(crate) props: Vec<NProp>,
    pub(crate) children: Vec<NComp>,
    /// Canonical text of the whole subtree, for multiset matching.
    pub(crate) canon: String,
}

const TEXT_PROPS: &[&str] = &[
    "SUMMARY",
    "DESCRIPTION",
    "LOCATION",
    "COMMENT",
    "CONTACT",
    "FN",
    "NOTE",
    "TITLE",
    "ROLE",
    "LABEL",
    "NAME",
    "TZNAME",
    "X-WR-CALNAME",
    "X-WR-CALDESC",
];
const TEXT_LIST_PROPS: &[&str] = &["CATEGORIES", "RESOURCES", "NICKNAME"];
const STRUCTURED_PROPS: &[&str] = &["N", "ADR", "ORG", "GENDER", "CLIENTPIDMAP"];
const DATE_LIST_PROPS: &[&str] = &["EXDATE", "RDATE", "FREEBUSY"];
const DATE_PROPS: &[&str] = &[
    "DTSTART",
    "DTEND",
    "DUE",
    "RECURRENCE-ID",
    "DTSTAMP",
    "CREATED",
    "LAST-MODIFIED",
    "COMPLETED",
    "EXDATE",
    "RDATE",
];
const UTC_ALIASES: &[&str] = &[
    "UTC",
    "ETC/UTC",
    "GMT",
    "ETC/GMT",
    "Z",
    "ZULU",
    "ETC/ZULU",
    "UCT",
    "ETC/UCT",
    "UNIVERSAL",
    "ETC/UNIVERSAL",
    "GREENWICH",
    "ETC/GREENWICH",
    "GMT0",
    "ETC/GMT0",
    "ETC/GMT+0",
    "ETC/GMT-0",
];

/// Whether a TZID names UTC.
pub(crate) fn is_utc_tzid(tzid: &str) -> bool {
    let upper = tzid_key(tzid).to_ascii_uppercase();
    UTC_ALIASES.contains(&upper.as_str())
}

/// The value type a property has when no `VALUE` parameter is given.
fn default_value_type(name: &str) -> Option<&'static str> {
    match name {
        n if DATE_PROPS.contains(&n) => Some("DATE-TIME"),
        "TRIGGER" | "DURATION" => Some("DURATION"),
        "FREEBUSY" => Some("PERIOD"),
        "RRULE" | "EXRULE" => Some("RECUR"),
        "ATTACH" | "URL" | "TZURL" | "PHOTO" | "LOGO" | "SOUND" => Some("URI"),
        n if TEXT_PROPS.contains(&n) => Some("TEXT"),
        _ => None,
    }
}

/// Normalizes one property; list values come back as one entry per list element, and
/// ignored properties as none.
pub(crate) fn normalize_property(prop: &Property, tol: &Tolerance, vcard: bool) -> Vec<NProp> {
    let name = prop.name.as_str();
    if tol.ignores_property(name) || (vcard && tol.vcard_version && name == "VERSION") {
        return Vec::new();
    }
    let full_name = match &prop.group {
        Some(g) if tol.group_case => format!("{}.{name}", g.to_ascii_lowercase()),
        Some(g) => format!("{g}.{name}"),
        None => name.to_owned(),
    };

    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for param in &prop.params {
        // vCard 2.1 bare parameters: `TEL;WORK;VOICE`, `NOTE;QUOTED-PRINTABLE`.
        let (pname, values) = if param.values.is_empty() && vcard {
            let bare = match param.name.as_str() {
                "QUOTED-PRINTABLE" | "BASE64" | "8BIT" | "7BIT" => "ENCODING",
                _ => "TYPE",
            };
            (bare.to_owned(), vec![param.name.clone()])
        } else {
            (param.name.clone(), param.values.clone())
        };
        if tol.ignores_param(&pname) || (tol.organizer_cn && name == "ORGANIZER" && pname == "CN") {
            continue;
        }
        match params.iter_mut().find(|(n, _)| *n == pname) {
            Some((_, existing)) => existing.extend(values),
            None => params.push((pname, values)),
        }
    }
    let take = |params: &mut Vec<(String, Vec<String>)>, n: &str| {
        params
            .iter()
            .position(|(p, _)| p == n)
            .map(|i| params.remove(i).1.join(","))
    };

    let mut value = prop.value.clone();
    if tol.redundant_params {
        match take(&mut params, "ENCODING") {
            Some(enc) if enc.eq_ignore_ascii_case("QUOTED-PRINTABLE") => {
                value = decode_lenient(&decode_quoted_printable(&value)).0;
                take(&mut params, "CHARSET");
            }
            Some(enc) => params.push(("ENCODING".to_owned(), vec![enc.to_ascii_uppercase()])),
            None => {}
        }
        if let Some(charset) = take(&mut params, "CHARSET")
            && !charset.eq_ignore_ascii_case("UTF-8")
        {
            params.push(("CHARSET".to_owned(), vec![charset]));
        }
        if let Some(kind) = take(&mut params, "VALUE")
            && default_value_type(name).is_none_or(|d| !d.eq_ignore_ascii_case(&kind))
        {
            params.push(("VALUE".to_owned(), vec![kind.to_ascii_uppercase()]));
        }
    }
    for (pname, values) in &mut params {
        match pname.as_str() {
            "TYPE" => {
                if tol.type_case {
                    for v in values.iter_mut() {
                        *v = v.to_ascii_lowercase();
                    }
                }
                values.sort();
                values.dedup();
            }
            "TZID" => *values = vec![tzid_key(&values.join(","))],
            _ => {}
        }
    }
    let is_date = DATE_PROPS.contains(&name) || name == "TRIGGER";
    if tol.utc_forms && is_date {
        let utc = params
            .iter()
            .position(|(n, v)| n == "TZID" && v.first().is_some_and(|t| is_utc_tzid(t)));
        if let Some(i) = utc {
            params.remove(i);
            value = value
                .split(',')
                .map(|v| {
                    let v = v.trim();
                    if v.contains('T') && !v.ends_with(['Z', 'z']) && !v.contains('/') {
                        format!("{v}Z")
                    } else {
                        v.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    params.sort();
    let params_text: String = params
        .iter()
        .map(|(n, v)| {
            let values: Vec<String> = v.iter().map(|x| param_value(x)).collect();
            format!("{n}={}", values.join(","))
        })
        .collect::<Vec<_>>()
        .join(";");

    let values = normalize_value(name, &value, tol);
    values
        .into_iter()
        .map(|value| NProp {
            name: full_name.clone(),
            params: params_text.clone(),
            shown: if params_text.is_empty() {
                value.clone()
            } else {
                format!("{params_text}:{value}")
            },
            value,
        })
        .collect()
}

/// The value (or list elements) of a property in comparable form.
fn normalize_value(name: &str, raw: &str, tol: &Tolerance) -> Vec<String> {
    let text = |s: &str| {
        if tol.unescape_text {
            // A decoded CRLF (quoted-printable `=0D=0A`) is the same line break as `\n`.
            crate::text::unescape_text(s).replace("\r\n", "\n")
        } else {
            s.to_owned()
        }
    };
    match name {
        "RRULE" | "EXRULE" if tol.rrule_part_order => {
            let mut parts: Vec<String> = raw
                .trim()
                .split(';')
                .filter(|p| !p.is_empty())
                .map(|p| p.to_ascii_uppercase())
                .collect();
            parts.sort();
            vec![parts.join(";")]
        }
        n if DATE_LIST_PROPS.contains(&n) => raw
            .split(',')
            .map(|v| v.trim().to_ascii_uppercase())
            .collect(),
        n if DATE_PROPS.contains(&n) => vec![raw.trim().to_ascii_uppercase()],
        n if TEXT_LIST_PROPS.contains(&n) => split_unescaped(raw, ',')
            .into_iter()
            .map(|v| escape_text(&text(v)))
            .collect(),
        n if STRUCTURED_PROPS.contains(&n) => {
            let mut parts: Vec<String> = split_unescaped(raw, ';')
                .into_iter()
                .map(|v| {
                    if tol.unescape_text {
                        // Re-escape each component the same way on both sides.
                        split_unescaped(v, ',')
                            .into_iter()
                            .map(|x| escape_text(&text(x)))
                            .collect::<Vec<_>>()
                            .join(",")
                    } else {
                        v.to_owned()
                    }
                })
                .collect();
            if tol.trailing_structured {
                while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
                    parts.pop();
                }
            }
            vec![parts.join(";")]
        }
        "ORGANIZER" | "ATTENDEE" => {
            let v = raw.trim();
            match v.get(..7) {
                Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => {
                    vec![format!("mailto:{}", &v[7..])]
                }
                _ => vec![v.to_owned()],
            }
        }
        n if TEXT_PROPS.contains(&n) || n.starts_with("X-") => vec![text(raw)],
        // Same offset, with or without zero seconds: `+0100` = `+010000`.
        "TZOFFSETFROM" | "TZOFFSETTO" => {
            let v = raw.trim();
            match v.strip_suffix("00") {
                Some(short) if v.len() == 7 => vec![short.to_owned()],
                _ => vec![v.to_owned()],
            }
        }
        // Same span, however written: `PT0S` = `P0D`, `PT60M` = `PT1H`.
        "TRIGGER" | "DURATION" => match duration_seconds(raw.trim()) {
            Some(seconds) => vec![format!("{seconds}s")],
            None => vec![raw.trim().to_ascii_uppercase()],
        },
        // Same coordinates, however many trailing zeros: `-111.90` = `-111.9`.
        "GEO" => {
            let parts: Vec<Option<f64>> = raw.split(';').map(|p| p.trim().parse().ok()).collect();
            if parts.iter().all(Option::is_some) {
                vec![
                    parts
                        .iter()
                        .flatten()
                        .map(|f| f.to_string())
                        .collect::<Vec<_>>()
                        .join(";"),
                ]
            } else {
                vec![raw.to_owned()]
            }
        }
        // A TZID is free text: `Canberra\, Melbourne` and `Canberra, Melbourne` are one name.
        "TZID" => vec![tzid_key(&crate::text::unescape_text(raw))],
        _ => vec![raw.to_owned()],
    }
}

/// The signed length of an RFC 5545 §3.3.6 duration in seconds; `None` when it is not one.
fn duration_seconds(value: &str) -> Option<i64> {
    let (sign, rest) = match value.as_bytes().first()? {
        b'-' => (-1, &value[1..]),
        b'+' => (1, &value[1..]),
        _ => (1, value),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            d if d.is_ascii_digit() => number.push(d),
            'T' if number.is_empty() => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                any = true;
                let unit_seconds = match (unit, in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(unit_seconds)?)?;
            }
        }
    }
    (any && number.is_empty()).then_some(sign * total)
}

/// Normalizes a component subtree.
pub(crate) fn normalize_component(component: &Component, tol: &Tolerance, vcard: bool) -> NComp {
    let vcard = vcard || component.name == "VCARD";
    let mut props: Vec<NProp> = component
        .properties
        .iter()
        .flat_map(|p| normalize_property(p, tol, vcard))
        .collect();
    props.extend(component.unparsed.iter().map(|line| NProp {
        name: "(unparsed line)".to_owned(),
        params: String::new(),
        shown: line.clone(),
        value: line.clone(),
    }));
    props.sort_by_key(NProp::key);
    let children: Vec<NComp> = component
        .children
        .iter()
        .map(|c| normalize_component(c, tol, vcard))
        .collect();
    let id = identity(component, tol, vcard);
    let mut child_canons: Vec<&str> = children.iter().map(|c| c.canon.as_str()).collect();
    child_canons.sort_unstable();
    let mut canon = format!("BEGIN:{}\n", component.name);
    for p in &props {
        canon.push_str(&p.key());
        canon.push('\n');
    }
    for c in child_canons {
        canon.push_str(c);
    }
    canon.push_str(&format!("END:{}\n", component.name));
    NComp {
        name: component.name.clone(),
        id,
        props,
        children,
        canon,
    }
}

/// How a component is matched with its counterpart.
fn identity(component: &Component, tol: &Tolerance, vcard: bool) -> Option<String> {
    if component.is_timezone() {
        return Some(format!(
            "tzid={}",
            component
                .property("TZID")
                .map(|p| tzid_key(&crate::text::unescape_text(&p.value)))
                .unwrap_or_default()
        ));
    }
    if component.name == "VALARM" {
        return None;
    }
    let uid = component.uid()?;
    let mut id = format!("uid={}", uid.trim());
    if let Some(rid) = component.property("RECURRENCE-ID")
        && let Some(rid) = normalize_property(rid, tol, vcard).first()
    {
        id.push_str(";recurrence-id=");
        id.push_str(&rid.shown);
    }
    Some(id)
}

/// TZIDs referenced by properties outside `VTIMEZONE`s (UTC names excluded when
/// [`Tolerance::utc_forms`] treats them as `Z`).
pub(crate) fn used_tzids(components: &[Component], tol: &Tolerance) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    fn visit(c: &Component, tol: &Tolerance, used: &mut BTreeSet<String>) {
        if c.is_timezone() {
            return;
        }
        for p in &c.properties {
            if let Some(tzid) = p.param("TZID")
                && !(tol.utc_forms && is_utc_tzid(&tzid))
            {
                used.insert(tzid_key(&tzid));
            }
        }
        for child in &c.children {
            visit(child, tol, used);
        }
    }
    for c in components {
        visit(c, tol, &mut used);
    }
    used
}

#[cfg(test)]
mod duration_tests {
    use super::duration_seconds;

    #[test]
    fn durations_in_every_spelling() {
        assert_eq!(duration_seconds("PT0S"), Some(0));
        assert_eq!(duration_seconds("P0D"), Some(0));
        assert_eq!(duration_seconds("-PT15M"), Some(-900));
        assert_eq!(duration_seconds("P1DT2H"), Some(93_600));
        assert_eq!(duration_seconds("P2W"), Some(1_209_600));
        assert_eq!(duration_seconds("PT"), None);
        assert_eq!(duration_seconds("20260101T000000Z"), None);
        assert_eq!(
            duration_seconds("P1M"),
            None,
            "M without T is not a unit of durations"
        );
    }
}
