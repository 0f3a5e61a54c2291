//! Parsing one unfolded content line (RFC 5545 §3.1, RFC 6350 §3.3).

use crate::model::{Param, Property};
use crate::text::caret_decode;

/// What one logical line turned out to be.
#[derive(Debug)]
pub(crate) enum Line {
    Begin(String),
    End(String),
    Property(Property),
    /// No `:` at all: kept verbatim.
    Unparsed(String),
}

/// Classifies and parses a logical line. Never fails: a line that cannot be read as a
/// content line comes back as [`Line::Unparsed`].
pub(crate) fn parse_line(text: &str) -> Line {
    let Some(prop) = parse_property(text, true).or_else(|| parse_property(text, false)) else {
        return Line::Unparsed(text.to_owned());
    };
    // RFC 2425 allows a group even on BEGIN/END (`home.begin:vcard`); it carries no
    // meaning there.
    if prop.params.is_empty() {
        let name = prop.value.trim().to_ascii_uppercase();
        if !name.is_empty() {
            match prop.name.as_str() {
                "BEGIN" => return Line::Begin(name),
                "END" => return Line::End(name),
                _ => {}
            }
        }
    }
    Line::Property(prop)
}

/// Parses `[group.]name *(";" param) ":" value`. With `quotes`, double-quoted parameter
/// values may contain `:;,`; without, quotes are ordinary characters (the fallback for
/// lines with an unbalanced quote).
fn parse_property(text: &str, quotes: bool) -> Option<Property> {
    let bytes = text.as_bytes();
    let name_end = bytes.iter().position(|&b| b == b';' || b == b':')?;
    let full_name = text[..name_end].trim();
    let (group, name) = match full_name.split_once('.') {
        Some((g, n)) if !g.is_empty() && !n.is_empty() => (Some(g.to_owned()), n),
        _ => (None, full_name),
    };
    let mut params = Vec::new();
    let mut pos = name_end;
    while bytes[pos] == b';' {
        pos += 1;
        let pname_end = pos
            + bytes[pos..]
                .iter()
                .position(|&b| b == b'=' || b == b';' || b == b':')?;
        let pname = text[pos..pname_end].trim().to_ascii_uppercase();
        pos = pname_end;
        let mut values = Vec::new();
        if bytes[pos] == b'=' {
            loop {
                pos += 1;
                let mut value = String::new();
                if quotes && bytes.get(pos) == Some(&b'"') {
                    let close = pos + 1 + bytes[pos + 1..].iter().position(|&b| b == b'"')?;
                    value.push_str(&text[pos + 1..close]);
                    pos = close + 1;
                }
                let rest_end = pos
                    + bytes[pos..]
                        .iter()
                        .position(|&b| b == b',' || b == b';' || b == b':')?;
                value.push_str(&text[pos..rest_end]);
                pos = rest_end;
                values.push(caret_decode(&value));
                if bytes[pos] != b',' {
                    break;
                }
            }
        }
        params.push(Param {
            name: pname,
            values,
        });
    }
    // `pos` is now at the ':' that starts the value.
    Some(Property {
        group,
        name: name.to_ascii_uppercase(),
        params,
        value: text[pos + 1..].to_owned(),
        span: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(text: &str) -> Property {
        match parse_line(text) {
            Line::Property(p) => p,
            other => panic!("not a property: {other:?}"),
        }
    }

    #[test]
    fn begin_end_and_case() {
        assert!(matches!(parse_line("begin:vCalendar "), Line::Begin(n) if n == "VCALENDAR"));
        assert!(matches!(parse_line("END:VEVENT"), Line::End(n) if n == "VEVENT"));
        assert!(matches!(parse_line("home.begin:vcard"), Line::Begin(n) if n == "VCARD"));
        assert!(matches!(parse_line("SUMMARY=x"), Line::Unparsed(_)));
        assert!(matches!(parse_line("X"), Line::Unparsed(_)));
    }

    #[test]
    fn quoted_and_multi_valued_params() {
        let p =
            prop(r#"ATTENDEE;DELEGATED-TO="mailto:a@x","mailto:b@x";cn="Doe; Jane":mailto:c@x"#);
        assert_eq!(p.name, "ATTENDEE");
        assert_eq!(p.params[0].values, vec!["mailto:a@x", "mailto:b@x"]);
        assert_eq!(p.param("CN").as_deref(), Some("Doe; Jane"));
        assert_eq!(p.value, "mailto:c@x");
    }

    #[test]
    fn groups_bare_params_and_carets() {
        let p = prop("item1.EMAIL;type=INTERNET:a@b");
        assert_eq!(p.group.as_deref(), Some("item1"));
        assert_eq!(p.param("TYPE").as_deref(), Some("INTERNET"));
        let p = prop("TEL;WORK;VOICE:123");
        assert_eq!(p.params.len(), 2);
        assert!(p.params[0].values.is_empty());
        let p = prop("ATTENDEE;CN=George Herman ^'Babe^' Ruth:mailto:babe@example.com");
        assert_eq!(
            p.param("cn").as_deref(),
            Some("George Herman \"Babe\" Ruth")
        );
    }

    #[test]
    fn unbalanced_quote_falls_back() {
        let p = prop(r#"DTSTART;TZID="W. Europe Standard Time:20200609T090000"#);
        assert_eq!(
            p.param("TZID").as_deref(),
            Some("\"W. Europe Standard Time")
        );
        assert_eq!(p.value, "20200609T090000");
        let p = prop("DTSTART;;VALUE=DATE-TIME:");
        assert_eq!(p.params.len(), 2);
        assert_eq!(p.value, "");
    }
}
