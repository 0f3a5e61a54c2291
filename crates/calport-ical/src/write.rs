//! Serializing: content lines, folding at 75 octets, whole documents.

use crate::model::{Component, Document, Param, Property};
use crate::text::caret_encode;

/// Longest physical line in octets, line terminator excluded (RFC 5545 §3.1).
pub const MAX_LINE_OCTETS: usize = 75;

/// Folds one unfolded content line into physical lines of at most 75 octets, joined by
/// CRLF and one space, without a trailing CRLF. A UTF-8 sequence is never split.
pub fn fold_line(line: &str) -> String {
    fold_with(line, "\r\n")
}

/// Like [`fold_line`] with a chosen line terminator (`"\r\n"` or `"\n"`), for edits that
/// keep a file's existing line endings.
pub(crate) fn fold_with(line: &str, eol: &str) -> String {
    if line.len() <= MAX_LINE_OCTETS {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len() + line.len() / 70 * (eol.len() + 1) + 4);
    let mut rest = line;
    let mut limit = MAX_LINE_OCTETS;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str(eol);
        out.push(' ');
        rest = &rest[cut..];
        // Continuation lines start with the space, which counts towards the limit.
        limit = MAX_LINE_OCTETS - 1;
    }
    out.push_str(rest);
    out
}

/// One parameter value as it must be written: caret-encoded, and double-quoted when it
/// holds `:`, `;` or `,`.
pub(crate) fn param_value(value: &str) -> String {
    let encoded = caret_encode(value);
    if encoded.contains([':', ';', ',']) {
        format!("\"{encoded}\"")
    } else {
        encoded
    }
}

fn write_param(param: &Param, out: &mut String) {
    out.push(';');
    out.push_str(&param.name);
    if param.values.is_empty() {
        return;
    }
    out.push('=');
    for (i, value) in param.values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&param_value(value));
    }
}

/// The unfolded content line of a property (no line terminator).
pub fn property_line(prop: &Property) -> String {
    let mut out = String::with_capacity(prop.name.len() + prop.value.len() + 16);
    if let Some(group) = &prop.group {
        out.push_str(group);
        out.push('.');
    }
    out.push_str(&prop.name);
    for param in &prop.params {
        write_param(param, &mut out);
    }
    out.push(':');
    out.push_str(&prop.value);
    out
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(&fold_line(line));
    out.push_str("\r\n");
}

/// Appends a component (and its children) with CRLF endings and folding.
pub(crate) fn write_component(component: &Component, out: &mut String) {
    push_line(out, &format!("BEGIN:{}", component.name));
    for prop in &component.properties {
        push_line(out, &property_line(prop));
    }
    for line in &component.unparsed {
        push_line(out, line);
    }
    for child in &component.children {
        write_component(child, out);
    }
    push_line(out, &format!("END:{}", component.name));
}

impl Component {
    /// This component serialized with CRLF line endings and 75-octet folding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        write_component(self, &mut out);
        out.into_bytes()
    }
}

impl Document {
    /// The document serialized with CRLF line endings and 75-octet folding (RFC 5545
    /// §3.1). Property and parameter names come out upper-cased and parameter values
    /// quoted only where needed; values are written exactly as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        for component in &self.components {
            write_component(component, &mut out);
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_at_75_octets_on_char_boundaries() {
        let line = format!("DESCRIPTION:{}", "ế".repeat(60));
        let folded = fold_line(&line);
        for physical in folded.split("\r\n") {
            assert!(physical.len() <= MAX_LINE_OCTETS, "{}", physical.len());
        }
        assert_eq!(folded.replace("\r\n ", ""), line);
        assert_eq!(fold_line("SHORT:x"), "SHORT:x");
    }

    #[test]
    fn quotes_params_when_needed() {
        let mut p = Property::new("attendee", "mailto:a@x");
        p.params
            .push(Param::new("cn", vec!["Doe, Jane \"JD\"".into()]));
        p.params.push(Param::new("ROLE", vec!["CHAIR".into()]));
        p.params.push(Param::new("WORK", vec![]));
        assert_eq!(
            property_line(&p),
            "ATTENDEE;CN=\"Doe, Jane ^'JD^'\";ROLE=CHAIR;WORK:mailto:a@x"
        );
    }
}
