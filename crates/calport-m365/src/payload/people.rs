//! `organizer` and attendees: Graph objects or Power Automate address lists.

use serde_json::Value;

use super::json::{Obj, invalid, join, kind};
use super::{Attendee, AttendeeKind, PayloadError};

/// One address as a flow writes it: `a@x.com` or `Jane Doe <a@x.com>`.
fn address(text: &str) -> Option<(Option<String>, String)> {
    let text = text.trim();
    if let (Some(open), true) = (text.rfind('<'), text.ends_with('>')) {
        let email = text[open + 1..text.len() - 1].trim();
        let name = text[..open].trim().trim_matches('"').trim();
        return (!email.is_empty()).then(|| {
            (
                (!name.is_empty()).then(|| name.to_owned()),
                email.to_owned(),
            )
        });
    }
    let email = text.strip_prefix("mailto:").unwrap_or(text).trim();
    (!email.is_empty()).then(|| (None, email.to_owned()))
}

/// A Graph `emailAddress {name, address}` object at `path`.
fn email_address(obj: &Obj<'_>) -> Result<Option<(Option<String>, String)>, PayloadError> {
    let Some(email) = obj.child("emailAddress")? else {
        return Ok(None);
    };
    let Some(address) = email.str("address")? else {
        return Ok(None);
    };
    let name = email.string("name")?.map(|n| n.trim().to_owned());
    Ok(Some((
        name.filter(|n| !n.is_empty()),
        address.trim().to_owned(),
    )))
}

/// `organizer`: a Graph `{emailAddress}` object or a flow's address string.
pub(super) fn organizer(root: &Obj<'_>) -> Result<Option<Attendee>, PayloadError> {
    let found = match root.get("organizer") {
        None => None,
        Some(Value::String(text)) => address(text),
        Some(Value::Object(_)) => match root.child("organizer")? {
            Some(obj) => email_address(&obj)?,
            None => None,
        },
        Some(other) => {
            return Err(invalid(
                "organizer",
                format!("expected an object or a string, found {}", kind(other)),
            ));
        }
    };
    Ok(found.map(|(name, email)| Attendee {
        name,
        email,
        kind: AttendeeKind::Required,
        response: None,
    }))
}

fn attendee_kind(text: &str) -> AttendeeKind {
    match text.to_ascii_lowercase().as_str() {
        "optional" => AttendeeKind::Optional,
        "resource" => AttendeeKind::Resource,
        _ => AttendeeKind::Required,
    }
}

/// Graph `attendees[]`, then Power Automate's `requiredAttendees`, `optionalAttendees`
/// and `resourceAttendees` (`a@x.com;b@y.com;`). An address listed twice is kept once
/// (the first).
pub(super) fn attendees(root: &Obj<'_>) -> Result<Vec<Attendee>, PayloadError> {
    let mut out: Vec<Attendee> = Vec::new();
    let mut add = |attendee: Attendee| {
        if !out
            .iter()
            .any(|a| a.email.eq_ignore_ascii_case(&attendee.email))
        {
            out.push(attendee);
        }
    };
    for (i, item) in root
        .array("attendees")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = join("attendees", &i.to_string());
        match item {
            Value::Object(map) => {
                let obj = Obj::at(map, path);
                let Some((name, email)) = email_address(&obj)? else {
                    continue;
                };
                let kind = obj
                    .str("type")?
                    .map_or(AttendeeKind::Required, attendee_kind);
                let response = match obj.child("status")? {
                    Some(status) => status.string("response")?,
                    None => None,
                };
                add(Attendee {
                    name,
                    email,
                    kind,
                    response,
                });
            }
            Value::String(text) => {
                if let Some((name, email)) = address(text) {
                    add(Attendee {
                        name,
                        email,
                        kind: AttendeeKind::Required,
                        response: None,
                    });
                }
            }
            Value::Null => {}
            other => {
                return Err(invalid(
                    path,
                    format!("expected an object, found {}", kind(other)),
                ));
            }
        }
    }
    for (key, kind) in [
        ("requiredAttendees", AttendeeKind::Required),
        ("optionalAttendees", AttendeeKind::Optional),
        ("resourceAttendees", AttendeeKind::Resource),
    ] {
        let Some(list) = root.str(key)? else { continue };
        for (name, email) in list.split(';').filter_map(address) {
            add(Attendee {
                name,
                email,
                kind,
                response: None,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flow_addresses() {
        assert_eq!(address(" a@x.com "), Some((None, "a@x.com".into())));
        assert_eq!(
            address("\"Doe, Jane\" <jane@x.com>"),
            Some((Some("Doe, Jane".into()), "jane@x.com".into()))
        );
        assert_eq!(address("mailto:b@y.com"), Some((None, "b@y.com".into())));
        assert_eq!(address("  "), None);
    }
}
