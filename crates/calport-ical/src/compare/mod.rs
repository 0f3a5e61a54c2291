//! Semantic comparison of two objects: did the server keep what we sent?
//!
//! Both sides are parsed and normalized (see [`Tolerance`] for what is forgiven), then
//! matched: `VEVENT`/`VTODO`/`VJOURNAL` (and anything else with a UID) by
//! (name, UID, RECURRENCE-ID), `VTIMEZONE` by TZID, `VCARD` by UID, alarms and other
//! components without identity as a multiset; properties as multisets of normalized
//! (name, parameters, value). Several `VCALENDAR`s in one object count as one.

mod normalize;
mod tolerance;

use std::collections::{BTreeSet, HashMap};
use std::fmt;

pub use tolerance::{ServerAdded, Tolerance};

use crate::ParseError;
use crate::model::Document;
use normalize::{NComp, NProp, normalize_component, used_tzids};

/// How one side differs from the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DifferenceKind {
    /// Present in the expected object only.
    Missing,
    /// Present in the actual object only.
    Extra,
    /// Present on both sides with different values.
    Changed,
    /// The actual body could not be read at all (for example it is the literal text
    /// `(null)`): the whole body was replaced.
    Unreadable,
}

/// One human-readable difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Where: `VCALENDAR/VEVENT[uid=…;recurrence-id=…]/VALARM[1]`; empty for the body.
    pub path: String,
    /// The property, or `None` when a whole component (or the body) differs.
    pub property: Option<String>,
    /// The expected (normalized) value or component label.
    pub expected: Option<String>,
    /// The actual (normalized) value or component label, or the reason the body is
    /// unreadable.
    pub actual: Option<String>,
    /// Missing, extra, changed or unreadable.
    pub kind: DifferenceKind,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.expected.as_deref().unwrap_or("");
        let a = self.actual.as_deref().unwrap_or("");
        match (&self.property, self.kind) {
            (_, DifferenceKind::Unreadable) => {
                write!(f, "whole body replaced or unreadable: {a}")
            }
            (Some(p), DifferenceKind::Missing) => write!(f, "{}: {p} missing: {e:?}", self.path),
            (Some(p), DifferenceKind::Extra) => write!(f, "{}: unexpected {p}: {a:?}", self.path),
            (Some(p), DifferenceKind::Changed) => {
                write!(f, "{}: {p} changed: expected {e:?}, got {a:?}", self.path)
            }
            (None, DifferenceKind::Missing) => write!(f, "{}: component {e} missing", self.path),
            (None, DifferenceKind::Extra) => write!(f, "{}: unexpected component {a}", self.path),
            (None, DifferenceKind::Changed) => {
                write!(f, "{}: component changed from {e} to {a}", self.path)
            }
        }
    }
}

/// Compares what we expected a store to hold with what it returned.
///
/// An empty list means "the same, up to the tolerated rewrites". When `actual` cannot be
/// parsed (garbage, `(null)`, truncated) the result is a single
/// [`DifferenceKind::Unreadable`] difference.
///
/// # Errors
/// A [`ParseError`] when `expected` itself cannot be parsed.
pub fn compare(
    expected: &[u8],
    actual: &[u8],
    tolerance: &Tolerance,
) -> Result<Vec<Difference>, ParseError> {
    let expected = Document::parse(expected)?;
    match Document::parse(actual) {
        Ok(actual) => Ok(compare_documents(&expected, &actual, tolerance)),
        Err(err) => Ok(vec![Difference {
            path: String::new(),
            property: None,
            expected: None,
            actual: Some(err.to_string()),
            kind: DifferenceKind::Unreadable,
        }]),
    }
}

/// [`compare`] for documents that are already parsed.
pub fn compare_documents(
    expected: &Document,
    actual: &Document,
    tolerance: &Tolerance,
) -> Vec<Difference> {
    let exp = Side::new(expected, tolerance);
    let act = Side::new(actual, tolerance);
    let mut diffs = Vec::new();
    let mut cx = Context {
        tol: tolerance,
        exp_tzids: &exp.used_tzids,
        act_tzids: &act.used_tzids,
        diffs: &mut diffs,
    };
    cx.children("", &exp.top, &act.top);
    diffs
}

/// One side, normalized: all `VCALENDAR`s merged into one, cards as they are.
struct Side {
    top: Vec<NComp>,
    used_tzids: BTreeSet<String>,
}

impl Side {
    fn new(doc: &Document, tol: &Tolerance) -> Self {
        let mut top: Vec<NComp> = Vec::new();
        let mut calendar: Option<NComp> = None;
        for component in &doc.components {
            let n = normalize_component(component, tol, false);
            if n.name != "VCALENDAR" {
                top.push(n);
                continue;
            }
            match calendar.as_mut() {
                None => calendar = Some(n),
                Some(merged) => {
                    let seen: BTreeSet<String> = merged.props.iter().map(NProp::key).collect();
                    merged
                        .props
                        .extend(n.props.into_iter().filter(|p| !seen.contains(&p.key())));
                    merged.children.extend(n.children);
                }
            }
        }
        if let Some(mut cal) = calendar {
            cal.id = Some("VCALENDAR".to_owned());
            top.insert(0, cal);
        }
        Self {
            top,
            used_tzids: used_tzids(&doc.components, tol),
        }
    }
}

struct Context<'a> {
    tol: &'a Tolerance,
    exp_tzids: &'a BTreeSet<String>,
    act_tzids: &'a BTreeSet<String>,
    diffs: &'a mut Vec<Difference>,
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}/{segment}")
    }
}

fn label(c: &NComp) -> String {
    match &c.id {
        Some(id) if c.name != "VCALENDAR" => format!("{}[{id}]", c.name),
        _ => c.name.clone(),
    }
}

/// A hint which component without identity is meant: ` (TRIGGER -PT15M)`.
fn brief(c: &NComp) -> String {
    ["TRIGGER", "DTSTART", "TZOFFSETTO", "ACTION"]
        .iter()
        .find_map(|n| c.props.iter().find(|p| p.name == *n))
        .map(|p| format!(" ({} {})", p.name, p.shown))
        .unwrap_or_default()
}

impl Context<'_> {
    fn push(
        &mut self,
        path: &str,
        property: Option<&str>,
        kind: DifferenceKind,
        e: Option<String>,
        a: Option<String>,
    ) {
        self.diffs.push(Difference {
            path: path.to_owned(),
            property: property.map(str::to_owned),
            expected: e,
            actual: a,
            kind,
        });
    }

    /// Whether a `VTIMEZONE` on one side takes part in the comparison.
    fn keep_timezone(&self, c: &NComp, used: &BTreeSet<String>) -> bool {
        if c.name != "VTIMEZONE" {
            return true;
        }
        if self.tol.ignore_vtimezones {
            return false;
        }
        let tzid = c.id.as_deref().unwrap_or("").trim_start_matches("tzid=");
        !self.tol.ignore_unused_vtimezones || used.contains(tzid)
    }

    fn component(&mut self, path: &str, e: &NComp, a: &NComp) {
        self.properties(path, &e.name, &e.props, &a.props);
        self.children(path, &e.children, &a.children);
    }

    fn properties(&mut self, path: &str, component: &str, e: &[NProp], a: &[NProp]) {
        let mut available: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in a.iter().enumerate().rev() {
            available.entry(p.key()).or_default().push(i);
        }
        let mut used = vec![false; a.len()];
        let mut missing: Vec<&NProp> = Vec::new();
        for p in e {
            match available.get_mut(&p.key()).and_then(Vec::pop) {
                Some(i) => used[i] = true,
                None => missing.push(p),
            }
        }
        let mut extra: Vec<&NProp> = a
            .iter()
            .zip(&used)
            .filter(|(p, used)| !**used && !self.tol.is_server_added(component, &p.name, &p.value))
            .map(|(p, _)| p)
            .collect();
        for m in missing {
            match extra.iter().position(|x| x.name == m.name) {
                Some(i) => {
                    let x = extra.remove(i);
                    self.push(
                        path,
                        Some(&m.name),
                        DifferenceKind::Changed,
                        Some(m.shown.clone()),
                        Some(x.shown.clone()),
                    );
                }
                None => self.push(
                    path,
                    Some(&m.name),
                    DifferenceKind::Missing,
                    Some(m.shown.clone()),
                    None,
                ),
            }
        }
        for x in extra {
            self.push(
                path,
                Some(&x.name),
                DifferenceKind::Extra,
                None,
                Some(x.shown.clone()),
            );
        }
    }

    fn children(&mut self, path: &str, e: &[NComp], a: &[NComp]) {
        let e: Vec<&NComp> = e
            .iter()
            .filter(|c| self.keep_timezone(c, self.exp_tzids))
            .collect();
        let a: Vec<&NComp> = a
            .iter()
            .filter(|c| self.keep_timezone(c, self.act_tzids))
            .collect();
        let mut used = vec![false; a.len()];
        let mut unkeyed: Vec<&NComp> = Vec::new();
        // Indexes keep large calendars linear: (name, id) and canonical text → positions.
        let mut by_id: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        let mut by_canon: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, ac) in a.iter().enumerate() {
            match &ac.id {
                Some(id) => by_id.entry((&ac.name, id)).or_default().push(i),
                None => by_canon.entry(&ac.canon).or_default().push(i),
            }
        }

        for ec in &e {
            let Some(id) = &ec.id else {
                unkeyed.push(ec);
                continue;
            };
            let candidates = by_id.get(&(ec.name.as_str(), id.as_str()));
            let free = |i: &&usize| !used[**i];
            // Prefer an identical twin when an identity repeats (invalid, but seen).
            let found = candidates.and_then(|c| {
                c.iter()
                    .filter(free)
                    .find(|&&i| a[i].canon == ec.canon)
                    .or_else(|| c.iter().find(free))
                    .copied()
            });
            let here = join(path, &label(ec));
            match found {
                Some(i) => {
                    used[i] = true;
                    self.component(&here, ec, a[i]);
                }
                None => self.push(path, None, DifferenceKind::Missing, Some(label(ec)), None),
            }
        }
        for (i, ac) in a.iter().enumerate() {
            if ac.id.is_some() && !used[i] {
                used[i] = true;
                if !(ac.name == "VTIMEZONE" && self.tol.allow_added_vtimezones) {
                    self.push(path, None, DifferenceKind::Extra, None, Some(label(ac)));
                }
            }
        }

        // Components without identity: equal ones pair first, then the rest by order.
        let mut leftovers: Vec<&NComp> = Vec::new();
        for ec in unkeyed {
            let twin = by_canon
                .get(ec.canon.as_str())
                .and_then(|c| c.iter().find(|&&i| !used[i]).copied());
            match twin {
                Some(i) => used[i] = true,
                None => leftovers.push(ec),
            }
        }
        let mut ordinal: HashMap<&str, usize> = HashMap::new();
        for ec in leftovers {
            let n = ordinal.entry(ec.name.as_str()).or_insert(0);
            *n += 1;
            let segment = format!("{}[{n}]", ec.name);
            match (0..a.len()).find(|&i| !used[i] && a[i].name == ec.name) {
                Some(i) => {
                    used[i] = true;
                    self.component(&join(path, &segment), ec, a[i]);
                }
                None => {
                    let shown = format!("{segment}{}", brief(ec));
                    self.push(path, None, DifferenceKind::Missing, Some(shown), None);
                }
            }
        }
        for (i, ac) in a.iter().enumerate() {
            if !used[i] {
                let shown = format!("{}{}", label(ac), brief(ac));
                self.push(path, None, DifferenceKind::Extra, None, Some(shown));
            }
        }
    }
}
