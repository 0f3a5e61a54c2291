//! Escaping rules for TEXT values (RFC 5545 §3.3.11, RFC 6350 §3.4), RFC 6868 caret
//! encoding of parameter values, and decoding of bytes that are not valid UTF-8.

/// Turns an escaped TEXT value into plain text: `\\` `\;` `\,` `\n` (and `\N`) are
/// decoded; `\:` is accepted as `:`; any other backslash is kept as it is.
pub fn unescape_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(e @ ('\\' | ';' | ',' | ':')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Escapes plain text for a TEXT value: backslash, `;`, `,` and newlines.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                // CRLF inside text is one newline.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            other => out.push(other),
        }
    }
    out
}

/// Splits an escaped value at every `sep` that is not escaped by a backslash. The parts
/// stay escaped.
pub fn split_unescaped(raw: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&raw[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&raw[start..]);
    parts
}

/// Decodes RFC 6868 caret escapes in a parameter value: `^n` (or `^N`) is a newline,
/// `^^` a caret and `^'` a double quote; any other caret is kept.
pub(crate) fn caret_decode(raw: &str) -> String {
    if !raw.contains('^') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '^' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('n' | 'N') => {
                chars.next();
                out.push('\n');
            }
            Some('^') => {
                chars.next();
                out.push('^');
            }
            Some('\'') => {
                chars.next();
                out.push('"');
            }
            _ => out.push('^'),
        }
    }
    out
}

/// Encodes a parameter value with RFC 6868 carets, escaping a caret only where
/// [`caret_decode`] would otherwise misread it, so ordinary values stay unchanged.
pub(crate) fn caret_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '^' => {
                // A caret before anything that reads as (or encodes to) a caret escape
                // must itself be escaped.
                if matches!(chars.peek(), Some('n' | 'N' | '^' | '\'' | '"' | '\n')) {
                    out.push_str("^^");
                } else {
                    out.push('^');
                }
            }
            '"' => out.push_str("^'"),
            '\n' => out.push_str("^n"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

/// Windows-1252 code points for bytes 0x80..=0x9F; the five undefined bytes map to the
/// C1 control with the same number so that the mapping stays one-to-one.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Decodes bytes as UTF-8; bytes that are not valid UTF-8 are read as Windows-1252
/// (the usual culprit). Returns the text and whether any fallback was needed.
///
/// The fallback is one-to-one per byte, so two different inputs rarely decode to the
/// same text, which keeps content hashes of such data meaningful.
pub(crate) fn decode_lenient(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(chunk.invalid().iter().map(|&b| cp1252_char(b)));
            }
            (out, true)
        }
    }
}

/// Decodes a QUOTED-PRINTABLE value (vCard 2.1, some old iCalendar producers) to bytes.
/// Soft line breaks were already removed while unfolding; a malformed `=` is kept.
pub(crate) fn decode_quoted_printable(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                // Both digits are below 16, so the value fits in a byte.
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_round_trip() {
        let text = "a, b; c\\d\nnext";
        assert_eq!(escape_text(text), "a\\, b\\; c\\\\d\\nnext");
        assert_eq!(unescape_text(&escape_text(text)), text);
        assert_eq!(unescape_text("x\\Ny\\:z\\q"), "x\ny:z\\q");
    }

    #[test]
    fn split_respects_escapes() {
        assert_eq!(split_unescaped("a\\,b,c", ','), vec!["a\\,b", "c"]);
        assert_eq!(split_unescaped("Smith;Søren;;;", ';').len(), 5);
        assert_eq!(split_unescaped("a\\\\,b", ','), vec!["a\\\\", "b"]);
    }

    #[test]
    fn caret_codec() {
        assert_eq!(caret_decode("George ^'Babe^' Ruth"), "George \"Babe\" Ruth");
        assert_eq!(caret_decode("^^^'^n"), "^\"\n");
        assert_eq!(caret_decode("^a^ ^asd"), "^a^ ^asd");
        for v in ["^a^ ^asd", "^^x", "a^", "q\"\n^n", "^^^^b", "^\"\n", "^\n"] {
            assert_eq!(caret_decode(&caret_encode(v)), v, "{v:?}");
        }
        assert_eq!(caret_encode("plain ^ value"), "plain ^ value");
    }

    #[test]
    fn lenient_decoding() {
        assert_eq!(decode_lenient("Tết".as_bytes()), ("Tết".to_owned(), false));
        assert_eq!(decode_lenient(b"caf\xe9 \x92"), ("café ’".to_owned(), true));
    }

    #[test]
    fn quoted_printable() {
        assert_eq!(decode_quoted_printable("a=0D=0Ab=3D=ZZ="), b"a\r\nb==ZZ=");
    }
}
