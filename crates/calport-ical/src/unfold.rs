//! Turning raw bytes into logical (unfolded) lines with their source byte ranges.
//!
//! Unfolding works on bytes, before UTF-8 decoding, because a fold may split a
//! multi-byte character (RFC 5545 §3.1 counts octets).

use std::ops::Range;

use crate::text::decode_lenient;

/// One unfolded content line and the input bytes it came from.
#[derive(Debug)]
pub(crate) struct LogicalLine {
    pub(crate) text: String,
    /// From the first byte of the first physical line to the end of the terminator of
    /// the last one.
    pub(crate) span: Range<usize>,
}

/// All logical lines of an input.
pub(crate) struct Unfolded {
    pub(crate) lines: Vec<LogicalLine>,
    pub(crate) lossy: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits `bytes` into logical lines.
///
/// - Lines end with LF or CRLF; a file without any LF is split at CR (old Mac files).
/// - A line starting with a space or tab continues the previous one (the first
///   whitespace byte is dropped).
/// - Empty lines are skipped; a continuation after an empty line still joins the line
///   before it.
/// - vCard 2.1 QUOTED-PRINTABLE values ending in `=` continue on the next line even
///   without leading whitespace (a soft line break); the `=` is dropped.
pub(crate) fn unfold(bytes: &[u8]) -> Unfolded {
    let start = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    let terminator = if bytes.contains(&b'\n') { b'\n' } else { b'\r' };
    let mut lines = Vec::new();
    let mut lossy = false;
    let mut current: Option<(Vec<u8>, Range<usize>)> = None;
    let mut qp_pending = false;
    let mut flush = |current: &mut Option<(Vec<u8>, Range<usize>)>, lossy: &mut bool| {
        if let Some((raw, span)) = current.take() {
            let (text, was_lossy) = decode_lenient(&raw);
            *lossy |= was_lossy;
            lines.push(LogicalLine { text, span });
        }
    };

    let mut pos = start;
    while pos < bytes.len() {
        let (end, next) = match bytes[pos..].iter().position(|&b| b == terminator) {
            Some(i) => (pos + i, pos + i + 1),
            None => (bytes.len(), bytes.len()),
        };
        let mut content = &bytes[pos..end];
        if terminator == b'\n' && content.last() == Some(&b'\r') {
            content = &content[..content.len() - 1];
        }
        let starts_with_ws = matches!(content.first(), Some(b' ' | b'\t'));
        match current.as_mut() {
            Some((raw, span)) if starts_with_ws => {
                raw.extend_from_slice(&content[1..]);
                span.end = next;
                qp_pending = is_qp_soft_break(raw);
            }
            Some((raw, span)) if qp_pending && !content.is_empty() && !is_structural(content) => {
                raw.pop();
                raw.extend_from_slice(content);
                span.end = next;
                qp_pending = is_qp_soft_break(raw);
            }
            _ if content.is_empty() => {}
            _ => {
                flush(&mut current, &mut lossy);
                let trimmed = if starts_with_ws {
                    content.trim_ascii_start()
                } else {
                    content
                };
                qp_pending = is_qp_soft_break(trimmed);
                current = Some((trimmed.to_vec(), pos..next));
            }
        }
        pos = next;
    }
    flush(&mut current, &mut lossy);
    Unfolded { lines, lossy }
}

/// A QUOTED-PRINTABLE value whose line ends in `=` continues on the next line.
fn is_qp_soft_break(line: &[u8]) -> bool {
    if line.last() != Some(&b'=') {
        return false;
    }
    let head_end = line.iter().position(|&b| b == b':').unwrap_or(line.len());
    let head = &line[..head_end];
    head.windows(16)
        .any(|w| w.eq_ignore_ascii_case(b"QUOTED-PRINTABLE"))
}

/// `BEGIN:`/`END:` lines never continue a quoted-printable value.
fn is_structural(line: &[u8]) -> bool {
    let starts = |p: &[u8]| line.len() >= p.len() && line[..p.len()].eq_ignore_ascii_case(p);
    starts(b"BEGIN:") || starts(b"END:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &[u8]) -> Vec<String> {
        unfold(input).lines.into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn unfolds_crlf_lf_and_tabs() {
        let input = b"A:1\r\n 2\r\nB:x\n\ty\nC:z";
        assert_eq!(texts(input), vec!["A:12", "B:xy", "C:z"]);
        let lines = unfold(input).lines;
        assert_eq!(lines[0].span, 0..9);
        assert_eq!(lines[1].span, 9..16);
        assert_eq!(lines[2].span, 16..19);
    }

    #[test]
    fn fold_inside_multibyte_char() {
        // "Tết" = 54 E1 BA BF 74, folded between E1 and BA.
        let input = b"SUMMARY:T\xE1\r\n \xBA\xBFt\r\n";
        let u = unfold(input);
        assert!(!u.lossy);
        assert_eq!(u.lines[0].text, "SUMMARY:Tết");
    }

    #[test]
    fn blank_lines_bom_and_cr_only() {
        assert_eq!(texts(b"\xEF\xBB\xBFA:1\n\n\nB:2\n"), vec!["A:1", "B:2"]);
        assert_eq!(texts(b"A:1\n\n 2\n"), vec!["A:12"]);
        assert_eq!(texts(b"A:1\rB:2\r"), vec!["A:1", "B:2"]);
    }

    #[test]
    fn quoted_printable_soft_breaks() {
        let input = b"NOTE;ENCODING=QUOTED-PRINTABLE:a=0D=\n=0Ab=\nc\nEND:VCARD\n";
        assert_eq!(
            texts(input),
            vec!["NOTE;ENCODING=QUOTED-PRINTABLE:a=0D=0Abc", "END:VCARD"]
        );
        // A dangling soft break does not swallow END.
        let input = b"NOTE;QUOTED-PRINTABLE:a=\nEND:VCARD\n";
        assert_eq!(texts(input), vec!["NOTE;QUOTED-PRINTABLE:a=", "END:VCARD"]);
    }
}
