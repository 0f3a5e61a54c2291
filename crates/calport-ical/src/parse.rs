//! Building the component tree from logical lines.

use crate::ParseError;
use crate::content_line::{Line, parse_line};
use crate::model::{Component, Document, Span};
use crate::unfold::unfold;

/// Parses an iCalendar or vCard file leniently into a [`Document`].
///
/// Lines are unfolded at byte level (CRLF or bare LF followed by a space or tab), then
/// decoded as UTF-8; bytes that are not UTF-8 are read as Windows-1252 and
/// [`Document::lossy`] is set. A UTF-8 BOM, empty lines, trailing whitespace on
/// `BEGIN`/`END` lines, lower-case names and several top-level objects are accepted.
/// Lines without a `:` are kept in [`Component::unparsed`]; an `END` that closes an
/// outer component closes the inner ones too. Nothing is dropped silently: tolerated
/// oddities are listed in [`Document::warnings`].
///
/// # Errors
/// [`ParseError::Empty`], [`ParseError::NotText`] (UTF-16/32 or binary),
/// [`ParseError::NullBody`], [`ParseError::NotCalendarData`] when there is no `BEGIN`
/// line, and [`ParseError::Truncated`] when a component is still open at the end.
pub fn parse(bytes: &[u8]) -> Result<Document, ParseError> {
    check_text(bytes)?;
    let unfolded = unfold(bytes);
    let mut doc = Document {
        lossy: unfolded.lossy,
        ..Document::default()
    };
    let mut stack: Vec<Component> = Vec::new();
    for line in unfolded.lines {
        let span = Span(Some(line.span.clone()));
        match parse_line(&line.text) {
            Line::Begin(name) => {
                let mut component = Component::new(&name);
                component.begin = span;
                stack.push(component);
            }
            Line::End(name) => {
                let Some(depth) = stack.iter().rposition(|c| c.name == name) else {
                    doc.warnings
                        .push(format!("ignored END:{name} without matching BEGIN"));
                    continue;
                };
                while stack.len() > depth + 1 {
                    let inner = stack.pop().expect("stack is deeper than depth");
                    doc.warnings.push(format!(
                        "BEGIN:{} closed implicitly by END:{name}",
                        inner.name
                    ));
                    attach(&mut stack, &mut doc, inner);
                }
                let mut done = stack.pop().expect("depth is within the stack");
                done.end = span;
                attach(&mut stack, &mut doc, done);
            }
            Line::Property(mut prop) => match stack.last_mut() {
                Some(top) => {
                    prop.span = span;
                    top.properties.push(prop);
                }
                None => doc
                    .warnings
                    .push(format!("ignored line outside any component: {}", line.text)),
            },
            Line::Unparsed(text) => match stack.last_mut() {
                Some(top) => {
                    doc.warnings
                        .push(format!("kept line that is not a content line: {text}"));
                    top.unparsed.push(text);
                }
                None => doc
                    .warnings
                    .push(format!("ignored line outside any component: {text}")),
            },
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError::Truncated {
            component: open.name.clone(),
        });
    }
    if doc.components.is_empty() {
        return Err(ParseError::NotCalendarData {
            found: "no BEGIN line".to_owned(),
        });
    }
    Ok(doc)
}

fn attach(stack: &mut [Component], doc: &mut Document, component: Component) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(component),
        None => doc.components.push(component),
    }
}

/// Rejects input we cannot read as text at all.
fn check_text(bytes: &[u8]) -> Result<(), ParseError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") {
        return Err(ParseError::NotText("UTF-16 or UTF-32 byte order mark"));
    }
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    if trimmed.eq_ignore_ascii_case(b"(null)") || trimmed.eq_ignore_ascii_case(b"null") {
        return Err(ParseError::NullBody);
    }
    let nuls = body.iter().filter(|&&b| b == 0).count();
    if nuls * 10 > body.len() {
        return Err(ParseError::NotText("binary data (many NUL bytes)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_tree() {
        let doc = parse(
            b"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nBEGIN:VALARM\n\
              ACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n",
        )
        .unwrap();
        let cal = &doc.components[0];
        assert_eq!(cal.name, "VCALENDAR");
        assert_eq!(cal.children[0].children[0].name, "VALARM");
        assert_eq!(cal.children[0].uid(), Some("1"));
        assert_eq!(cal.children[0].source_range(), Some(28..97));
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"  \n"), Err(ParseError::Empty));
        assert_eq!(parse(b"(null)"), Err(ParseError::NullBody));
        assert!(matches!(
            parse(b"\xFF\xFEB\0E\0"),
            Err(ParseError::NotText(_))
        ));
        assert!(matches!(
            parse(b"hello"),
            Err(ParseError::NotCalendarData { .. })
        ));
        assert_eq!(
            parse(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\n"),
            Err(ParseError::Truncated {
                component: "VEVENT".into()
            })
        );
    }

    #[test]
    fn implicit_close_and_stray_end() {
        let doc =
            parse(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\nEND:VTODO\nEND:VCALENDAR\n").unwrap();
        assert_eq!(doc.components[0].children[0].uid(), Some("1"));
        assert_eq!(doc.warnings.len(), 2);
    }
}
