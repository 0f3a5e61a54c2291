//! SOGo 5.8 stores some objects as the literal text `(null)`: how to predict it, and
//! the one safe way around it.
//!
//! # Root cause
//!
//! SOGo parses every uploaded object (NGCards) and stores its own re-rendering. The
//! renderer (`CardVersitRenderer -renderElement:`) builds each content line as an
//! `NSString` plus `"\r\n"` and folds it with `-[NSString foldedForVersitCards]`
//! (`SOPE/NGCards/NSString+NGCards.m` in the SOGo 5.8.0 source). That method cuts with
//! `substringWithRange:` after 75 and then every 74 **UTF-16 code units**, not octets
//! and not characters. A character outside the Basic Multilingual Plane (emoji,
//! U+1xxxx/U+2xxxx) is two code units, a surrogate pair. When its high surrogate is
//! the 75th, 149th, 223rd … unit of the rendered line (UTF-16 offset 74, 148, 222 …,
//! counted from the first character of the line), the cut splits the pair. The
//! resulting string has lone surrogates and cannot be converted to UTF-8; the object's
//! content ends up `nil`, which reaches the database as the 6-byte text `(null)`
//! (`sogo_store.c_content`), while the PUT still answers 201.
//!
//! So the trigger is a **position**, not the mix of scripts and escapes that first
//! showed it: `DESCRIPTION:` + 62 × `a` + one emoji (offset 12 + 62 = 74) is
//! stored as `(null)`, 61 or 63 × `a` are fine. Removing any ingredient of a trigger
//! text "fixed" it only because it moved the emoji; `SUMMARY:` is 4 units shorter than
//! `DESCRIPTION:`; `NOTE:` needs 7 more units before the emoji to hit the same spot.
//!
//! Only SOGo's *re-rendering* matters, so nothing about how the line is sent changes
//! anything: SOGo unfolds, unescapes and re-escapes (`\,` `\;` `\\` `\n`), upper-cases
//! the name, strips parameter quotes and re-renders parameters in its own order. What
//! moves the emoji is a change to the rendered line before it: its name, its
//! parameters, or its text.
//!
//! # Evidence (SOGo 5.8.0-2+deb12u4 from Debian 12, PUT then GET through nginx)
//!
//! | variant of the reproducer's DESCRIPTION line | stored |
//! |---|---|
//! | as sent (unfolded, 97 octets, CRLF) | `(null)` |
//! | folded at 75 octets; every 40 or 20 octets; right before the emoji; only at ASCII boundaries | `(null)` |
//! | LF line endings (unfolded or folded) | `(null)` |
//! | DESCRIPTION first or last in the VEVENT; lower-case `description:` | `(null)` |
//! | trailing space added (changes the text) | `(null)` |
//! | `;VALUE=TEXT` added (same meaning) | **intact** |
//! | `;VALUE="TEXT"` (SOGo strips the quotes: same as above) | intact |
//! | `,` instead of `\,` (SOGo then stores an unescaped comma, RFC 5545 violation) | intact |
//! | `;LANGUAGE=en`, `;ALTREP="cid:x"`, `;X-A=1` (add data) | intact |
//! | `\n` inserted before the emoji (changes the text) | intact |
//! | same text in SUMMARY, LOCATION or COMMENT | intact |
//!
//! - Position scan: `DESCRIPTION:` + k × `a` + `😀` (with and without text after it),
//!   k = 0..229, 460 PUTs: `(null)` exactly for k = 62, 136, 210 (offsets 74, 148,
//!   222). U+1D538, U+20000 and U+1F9E7 fail at the same spot; BMP characters (é, 中)
//!   never do. [`sogo_null_risk`] agreed on all 465.
//! - vCards: `NOTE:` with the emoji at offset 74 → `(null)` (vCard 3.0 and 4.0, CRLF,
//!   LF, folded); `NOTE;VALUE=TEXT:` intact; `ORG:` with an emoji at offset 74 →
//!   `(null)` (any property can be hit).
//! - Generated trigger-like texts (Arabic, Cyrillic, Greek, Hebrew, CJK, Devanagari,
//!   Vietnamese/Danish Latin, dashes, `\,` `\;` `\\` `\n` escapes, one to three astral
//!   characters incl. ZWJ sequences, flags and skin tones at random places), two seeds,
//!   as DESCRIPTION events and NOTE cards, each PUT as is and after
//!   [`sogo_null_workaround`]:
//!
//!   | set | items | `(null)` as sent | changed | `(null)` after | left unchanged (no safe change) |
//!   |---|---|---|---|---|---|
//!   | random events | 400 | 14 | 14 | 0 | 0 |
//!   | random cards | 200 | 5 | 5 | 0 | 0 |
//!   | events, an astral char aimed at a cut | 400 | 400 | 391 | 0 | 9 (all `(null)`) |
//!   | cards, aimed | 200 | 200 | 199 | 0 | 1 (`(null)`) |
//!   | `davbench gen --seed 1`, 1000 events | 1000 | 7 | 6 | 0 | 1 (12 emoji in one text) |
//!   | `davbench gen --seed 1`, 500 cards | 500 | 0 | 0 | 0 | 0 |
//!
//!   Every changed item came back with the same DESCRIPTION/NOTE text. The predicate
//!   matched the server on all 2,700 items. On 900 more items with astral characters
//!   in other places (SUMMARY, LOCATION;LANGUAGE, COMMENT;ALTREP, X- properties,
//!   CATEGORIES, ATTENDEE;CN, ORG, ADR, TITLE, FN, grouped NOTE, parameters) it missed
//!   none of the 291 `(null)`s and flagged 10 attendees that SOGo happened to store
//!   intact (parameter order, see below).
//!
//! # The prediction
//!
//! [`sogo_null_risk`] re-does SOGo's rendering of every content line (unfolding,
//! value and parameter parsing, re-escaping, dropping of empty values and of trailing
//! empty structured parts, quoting) and looks for an astral character at a UTF-16
//! offset that is a positive multiple of 74. Two things SOGo does are not
//! predictable, so every possibility is assumed: it writes parameters in its
//! dictionary's order, not in the order sent, and it adds `PARTSTAT=NEEDS-ACTION`
//! and `RSVP=TRUE` to attendees (or drops `RSVP`). Hence the 10 false alarms above,
//! all attendees with an emoji in `CN`.
//!
//! # The workaround
//!
//! Adding the parameter `VALUE=TEXT` to the affected property moves everything after
//! it by 11 units. `TEXT` is already the default value type of the properties this is
//! done for (DESCRIPTION, SUMMARY, NOTE, …), so the object means exactly the same:
//! same text, same everything else ([`crate::compare`] with the default
//! [`crate::Tolerance`] finds no difference). Nothing else qualifies:
//! re-folding, line endings and escaping are undone by SOGo before it renders; an
//! unescaped comma works when there is one but is invalid TEXT that SOGo then stores
//! as is; every other parameter (`LANGUAGE`, `ALTREP`, `X-…`) adds data.
//!
//! It cannot help when the split character is in a property whose default type is not
//! TEXT (`ORG`, `N`, `ADR`, `ATTENDEE;CN=…`, `X-` properties …), when the property
//! already has a `VALUE` or `ENCODING` parameter, or when the shift lands another
//! astral character on a cut. Then [`sogo_null_workaround`] returns `None` while
//! [`sogo_null_risk`] stays `true`: such an object must be reported, since SOGo
//! will lose it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::model::{Component, Document};
use crate::text::decode_quoted_printable;
use crate::unfold::unfold;
use crate::write::fold_with;

/// SOGo cuts its rendered lines after 75 UTF-16 units, then every 74; a cut splits a
/// surrogate pair whose high half is at offset 74, 148, 222 …: every multiple of 74.
const CUT_PERIOD: usize = 74;

/// Above this many distinct parameters the possible parameter orders are not
/// enumerated; an astral character in any parameter then counts as a risk.
const MAX_ORDERED_PARAMS: usize = 12;

/// The parameter that is added; TEXT is the default value type of [`TEXT_DEFAULT`].
const ADDED_PARAM: &str = ";VALUE=TEXT";

/// Properties whose default value type is TEXT (RFC 5545, RFC 7986, RFC 2426, RFC
/// 6350), for which `VALUE=TEXT` restates the default.
const TEXT_DEFAULT: &[&str] = &[
    "SUMMARY",
    "DESCRIPTION",
    "LOCATION",
    "COMMENT",
    "CONTACT",
    "TZNAME",
    "NAME",
    "X-WR-CALNAME",
    "X-WR-CALDESC",
    "FN",
    "NOTE",
    "TITLE",
    "ROLE",
    "LABEL",
];

/// Properties SOGo's calendar code edits before rendering (`RSVP=TRUE` and
/// `PARTSTAT=NEEDS-ACTION` added to attendees, `RSVP` removed on replies …).
const REWRITTEN_TAGS: &[&str] = &["ATTENDEE", "ORGANIZER"];

/// Parameters SOGo may add to [`REWRITTEN_TAGS`] when missing (measured: an
/// attendee sent as `ATTENDEE;CN=…:mailto:…` comes back with
/// `PARTSTAT=NEEDS-ACTION;RSVP=TRUE`), with their rendered length including `;`.
/// `RSVP` may also be dropped.
const SERVER_ADDED_PARAMS: &[(&str, usize)] = &[("RSVP=", 10), ("PARTSTAT=", 22)];

/// Tags whose value SOGo splits at `;` as well as `,` (`privilegedTagNames`).
const STRUCTURED_TAGS: &[&str] = &["ADR", "N", "RRULE", "ORG"];

/// A content line the way SOGo 5.8 renders it back.
#[derive(Debug, PartialEq, Eq)]
struct SogoLine {
    /// `[GROUP.]NAME`.
    head: String,
    /// One `KEY=values` per parameter name; SOGo writes them in an order we cannot
    /// know (its dictionary's), separated by `;`.
    params: Vec<String>,
    /// The re-escaped value.
    value: String,
    /// Set when the order of parts of the value is not known either (structured values
    /// with several `KEY=` parts).
    value_order_unknown: bool,
    /// Whether SOGo found a `VALUE` or `ENCODING` parameter.
    has_value_or_encoding: bool,
    /// `ATTENDEE`/`ORGANIZER`: SOGo's calendar code may add `RSVP=TRUE` and
    /// `PARTSTAT=NEEDS-ACTION` or drop `RSVP` before rendering; all are assumed
    /// possible.
    rewritten_by_server: bool,
}

/// Where SOGo would cut a character in half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SplitChar {
    ch: char,
    /// UTF-16 offset of the character in the rendered line.
    offset: usize,
}

/// `-[NSString asCardAttributeValues]`: a quoted string loses its quotes and nothing
/// else; otherwise it is split at unescaped commas and backslash escapes are decoded.
fn card_attribute_values(s: &str) -> Vec<String> {
    if s.len() > 1 && s.starts_with('"') && s.ends_with('"') {
        return vec![s[1..s.len() - 1].to_owned()];
    }
    let mut values = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            current.push(match c {
                'n' | 'N' => '\n',
                'r' | 'R' => '\r',
                't' | 'T' => '\t',
                'b' | 'B' => '\u{8}',
                other => other,
            });
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            values.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    values.push(current);
    values
}

/// `-[NSString escapedForCardsAsAttributes:]`.
fn escaped_for_cards(s: &str, as_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut quoted = false;
    for c in s.chars() {
        if !quoted || !as_attribute {
            match c {
                ',' => {
                    out.push_str("\\,");
                    continue;
                }
                ';' => {
                    out.push_str("\\;");
                    continue;
                }
                _ => {}
            }
        }
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            other => out.push(other),
        }
    }
    out
}

/// `-[NSArray _renderAsSubValuesInString:asAttributes:]`: `None` when nothing is
/// rendered (all sub-values empty).
fn render_subvalues(values: &[String], as_attribute: bool) -> Option<String> {
    let mut out = String::new();
    let mut previous_was_empty = true;
    let mut rendered = false;
    for value in values {
        if !previous_was_empty {
            out.push(',');
        }
        let quoted;
        let value = if as_attribute
            && value.chars().count() > 2
            && value.contains([':', ','])
            && !value.starts_with('"')
            && !value.ends_with('"')
        {
            quoted = format!("\"{value}\"");
            &quoted
        } else {
            value
        };
        let escaped = escaped_for_cards(value, as_attribute);
        if escaped.is_empty() {
            previous_was_empty = true;
        } else {
            out.push_str(&escaped);
            previous_was_empty = false;
            rendered = true;
        }
    }
    rendered.then_some(out)
}

/// `-[NSString vCardSubvalues]` and its rendering, for [`STRUCTURED_TAGS`]. Returns
/// the rendering and whether there were several keyed parts (whose order SOGo does
/// not fix). Quirks are kept on purpose: a short `KEY=` prefix names the following
/// part, and each key's `KEY=` is written again before every part that follows an
/// empty one.
fn render_structured(value: &str) -> (Option<String>, bool) {
    // key -> ordered values (split at `;`) -> sub-values (split at `,`).
    let mut keyed: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    let mut key = String::new();
    let mut buffer = String::new();
    // The sub-value list being filled: (key index, ordered-value index).
    let mut current: Option<(usize, usize)> = None;
    let mut escaped = false;
    for c in value.chars().chain(std::iter::once('\0')) {
        if escaped {
            escaped = false;
            buffer.push(match c {
                'n' | 'N' => '\n',
                'r' | 'R' => '\r',
                other => other,
            });
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, ',' | ';' | '\0') {
            let key_index = match keyed.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    keyed.push((key.clone(), Vec::new()));
                    keyed.len() - 1
                }
            };
            let (ki, oi) = *current.get_or_insert_with(|| {
                keyed[key_index].1.push(Vec::new());
                (key_index, keyed[key_index].1.len() - 1)
            });
            if !buffer.is_empty() {
                keyed[ki].1[oi].push(std::mem::take(&mut buffer));
            }
            if c != ',' {
                current = None;
                key.clear();
            }
        } else if c == '=' && buffer.encode_utf16().count() < 16 {
            key = std::mem::take(&mut buffer).to_lowercase();
        } else {
            buffer.push(c);
        }
    }
    let mut out = String::new();
    let mut rendered_keys = 0;
    for (key, ordered) in &keyed {
        let mut part = String::new();
        let mut last_rendered = 0;
        let mut any = false;
        for (i, subs) in ordered.iter().enumerate() {
            if let Some(s) = render_subvalues(subs, false) {
                if last_rendered == 0 && !key.is_empty() {
                    let _ = write!(part, "{}=", key.to_uppercase());
                }
                while last_rendered < i {
                    part.push(';');
                    last_rendered += 1;
                }
                part.push_str(&s);
                any = true;
            }
        }
        if any {
            if rendered_keys > 0 {
                out.push(';');
            }
            out.push_str(&part);
            rendered_keys += 1;
        }
    }
    ((rendered_keys > 0).then_some(out), keyed.len() > 1)
}

/// `VSSaxDriver -_parseLine:`: name, raw parameters and raw value; `None` for a line
/// SOGo rejects.
fn split_content_line(line: &str) -> Option<(&str, Vec<&str>, &str)> {
    let bytes = line.as_bytes();
    let first = bytes.iter().position(|&b| b == b':' || b == b';')?;
    if first == 0 {
        return None;
    }
    let name = &line[..first];
    let mut params = Vec::new();
    if bytes[first] == b':' {
        return Some((name, params, &line[first + 1..]));
    }
    let mut start = first + 1;
    let mut pos = start;
    let mut in_quotes = false;
    loop {
        let r = pos
            + bytes[pos..]
                .iter()
                .position(|&b| matches!(b, b':' | b';' | b'"'))?;
        // Backslash is ASCII, so the previous byte is the previous character.
        if bytes[r - 1] != b'\\' {
            if bytes[r] == b'"' {
                in_quotes = !in_quotes;
            } else if !in_quotes {
                params.push(&line[start..r]);
                if bytes[r] == b':' {
                    return Some((name, params, &line[r + 1..]));
                }
                start = r + 1;
            }
        }
        pos = r + 1;
    }
}

/// Decodes an `ENCODING=QUOTED-PRINTABLE` value the way SOGo does.
fn decode_qp(value: &str, charset: Option<&str>) -> String {
    let bytes = decode_quoted_printable(value);
    match charset {
        None => String::from_utf8_lossy(&bytes).into_owned(),
        Some(cs) if cs.eq_ignore_ascii_case("utf-8") || cs.eq_ignore_ascii_case("utf8") => {
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // Single-byte charsets only produce BMP characters; the exact ones do not matter.
        Some(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// How SOGo 5.8 renders one unfolded content line; `None` when it drops the line.
fn sogo_render(line: &str) -> Option<SogoLine> {
    let (raw_name, raw_params, raw_value) = split_content_line(line)?;
    let name = raw_name.to_uppercase();
    let (group, tag) = match name.split_once('.') {
        Some((group, rest)) => (Some(group), rest.rsplit('.').next().unwrap_or(rest)),
        None => (None, name.as_str()),
    };
    let qp = raw_params.contains(&"ENCODING=QUOTED-PRINTABLE");
    let value_text = if qp {
        let charset = raw_params.iter().find_map(|p| {
            let lower = p.to_lowercase();
            lower
                .starts_with("charset")
                .then(|| lower.get(8..).unwrap_or("").to_owned())
        });
        decode_qp(raw_value, charset.as_deref())
    } else {
        raw_value.to_owned()
    };
    // `_reportContentAsTag:`: a value of only `;` and spaces drops the whole line.
    if value_text
        .replace(';', "")
        .trim_matches([' ', '\t'])
        .is_empty()
    {
        return None;
    }

    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for raw in raw_params
        .iter()
        .filter(|p| !(qp && **p == "ENCODING=QUOTED-PRINTABLE"))
    {
        let (key, value) = match raw.split_once('=') {
            Some((k, v)) => (k.to_uppercase(), v),
            None => {
                let upper = raw.to_uppercase();
                let key = if matches!(upper.as_str(), "QUOTED-PRINTABLE" | "BASE64" | "B") {
                    "ENCODING"
                } else {
                    "TYPE"
                };
                (key.to_owned(), *raw)
            }
        };
        let values = card_attribute_values(value);
        match attributes
            .iter_mut()
            .find(|(k, _)| k.to_lowercase() == key.to_lowercase())
        {
            Some((_, existing)) => existing.extend(values),
            None => attributes.push((key, values)),
        }
    }
    let has_value_or_encoding = attributes
        .iter()
        .any(|(k, _)| k == "VALUE" || k == "ENCODING");
    let params = attributes
        .iter()
        .filter_map(|(k, v)| render_subvalues(v, true).map(|s| format!("{}={s}", k.to_uppercase())))
        .collect();

    let (value, value_order_unknown) = if STRUCTURED_TAGS.contains(&tag) {
        render_structured(&value_text)
    } else {
        (
            render_subvalues(&card_attribute_values(&value_text), false),
            false,
        )
    };
    let value = value?;
    let head = match group {
        Some(g) => format!("{g}.{tag}"),
        None => tag.to_owned(),
    };
    Some(SogoLine {
        rewritten_by_server: REWRITTEN_TAGS.contains(&tag),
        head,
        params,
        value,
        value_order_unknown,
        has_value_or_encoding,
    })
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Astral characters of `s` with their UTF-16 offsets within `s`.
fn astral_chars(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    s.chars()
        .scan(0usize, |offset, c| {
            let at = *offset;
            *offset += c.len_utf16();
            Some((at, c))
        })
        .filter(|(_, c)| c.len_utf16() == 2)
}

fn is_cut(offset: usize) -> bool {
    offset > 0 && offset.is_multiple_of(CUT_PERIOD)
}

/// The first character SOGo's folding would split, in any parameter order it may use.
fn split_char(line: &SogoLine) -> Option<SplitChar> {
    let hit = |base: usize, s: &str| {
        astral_chars(s)
            .find(|(at, _)| is_cut(base + at))
            .map(|(at, ch)| SplitChar {
                ch,
                offset: base + at,
            })
    };
    if let Some(found) = hit(0, &line.head) {
        return Some(found);
    }
    let head = utf16_len(&line.head);
    // Each parameter takes its length plus one `;` (the first one's `;` included).
    let lens: Vec<usize> = line.params.iter().map(|p| utf16_len(p) + 1).collect();
    let total: usize = lens.iter().sum();
    // Parameters the server may add before rendering, and lengths it may drop.
    let mut added: Vec<usize> = Vec::new();
    let mut dropped: Option<usize> = None;
    if line.rewritten_by_server {
        for (name, units) in SERVER_ADDED_PARAMS {
            match line.params.iter().position(|p| p.starts_with(name)) {
                None => added.push(*units),
                Some(i) if *name == "RSVP=" => dropped = Some(lens[i]),
                Some(_) => {}
            }
        }
    }
    for (i, param) in line.params.iter().enumerate() {
        if astral_chars(param).next().is_none() {
            continue;
        }
        if line.params.len() > MAX_ORDERED_PARAMS {
            return astral_chars(param).next().map(|(at, ch)| SplitChar {
                ch,
                offset: head + 1 + at,
            });
        }
        // Every set of other parameters may come before this one.
        let mut starts = BTreeSet::from([head + 1]);
        let others = lens
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, len)| *len)
            .chain(added.iter().copied());
        for len in others {
            let shifted: Vec<usize> = starts.iter().map(|s| s + len).collect();
            starts.extend(shifted);
        }
        if let Some(found) = starts.iter().find_map(|&s| hit(s, param)) {
            return Some(found);
        }
    }
    let value_start = head + total + 1;
    let mut value_starts = BTreeSet::from([value_start]);
    for len in &added {
        let shifted: Vec<usize> = value_starts.iter().map(|s| s + len).collect();
        value_starts.extend(shifted);
    }
    value_starts.extend(dropped.map(|d| value_start - d));
    if line.value_order_unknown {
        let (at, ch) = astral_chars(&line.value).next()?;
        return Some(SplitChar {
            ch,
            offset: value_start + at,
        });
    }
    value_starts.iter().find_map(|&s| hit(s, &line.value))
}

/// One property line of the input with what SOGo would do to it.
struct Finding<'a> {
    /// `VCALENDAR/VEVENT[uid=…]`.
    path: String,
    /// Upper-cased property name as calport parsed it.
    name: &'a str,
    /// Source byte range (folds and terminator included).
    range: std::ops::Range<usize>,
    /// The unfolded line as sent.
    line: String,
    split: SplitChar,
}

fn component_label(component: &Component) -> String {
    match component.uid() {
        Some(uid) => format!("{}[uid={uid}]", component.name),
        None => component.name.clone(),
    }
}

fn collect<'a>(bytes: &[u8], component: &'a Component, path: &str, out: &mut Vec<Finding<'a>>) {
    let path = if path.is_empty() {
        component_label(component)
    } else {
        format!("{path}/{}", component_label(component))
    };
    for prop in &component.properties {
        let Some(range) = prop.source_range() else {
            continue;
        };
        let Some(logical) = unfold(&bytes[range.clone()]).lines.into_iter().next() else {
            continue;
        };
        if let Some(split) = sogo_render(&logical.text).as_ref().and_then(split_char) {
            out.push(Finding {
                path: path.clone(),
                name: &prop.name,
                range,
                line: logical.text,
                split,
            });
        }
    }
    for child in &component.children {
        collect(bytes, child, &path, out);
    }
}

/// The parsed document when SOGo would read the bytes as UTF-8 lines at all: SOGo
/// falls back to ISO-8859-1 for invalid UTF-8 (no surrogate pairs then) and splits
/// lines only at LF.
fn sogo_document(bytes: &[u8]) -> Option<Document> {
    if std::str::from_utf8(bytes).is_err() || !bytes.contains(&b'\n') {
        return None;
    }
    Document::parse(bytes).ok()
}

fn findings<'a>(bytes: &[u8], doc: &'a Document) -> Vec<Finding<'a>> {
    let mut out = Vec::new();
    for top in &doc.components {
        collect(bytes, top, "", &mut out);
    }
    out
}

/// Whether SOGo 5.8 would store this object as the literal text `(null)`: some line,
/// as SOGo re-renders and re-folds it, has a character outside the BMP whose UTF-16
/// surrogate pair SOGo's fold would cut in half: its high surrogate is at a UTF-16
/// offset that is a positive multiple of 74 (root cause and measurements are in the
/// comments at the top of `workaround.rs`).
///
/// Every property of every component counts, parameters included; SOGo's parameter
/// order and the parameters it adds to attendees (`PARTSTAT`, `RSVP`) are not known,
/// so every possibility is assumed, which may flag an attendee SOGo stores intact.
/// `false` for bytes that are not UTF-8 (SOGo reads them as ISO-8859-1), have no LF,
/// or cannot be parsed.
pub fn sogo_null_risk(bytes: &[u8]) -> bool {
    sogo_document(bytes).is_some_and(|doc| !findings(bytes, &doc).is_empty())
}

/// Makes an object that SOGo 5.8 would store as `(null)` safe to upload without
/// changing what it means, and says what was changed.
///
/// Each affected property whose default value type is TEXT (DESCRIPTION, SUMMARY,
/// LOCATION, COMMENT, CONTACT, NOTE, FN, TITLE, …) gains the redundant parameter
/// `VALUE=TEXT`, which shifts SOGo's fold away from the split character. Only those
/// lines are rewritten (re-folded at 75 octets with their own line ending); every
/// other byte stays as it was. The result compares equal to the input with
/// [`crate::compare`] and the default [`crate::Tolerance`], and
/// [`sogo_null_risk`] is `false` for it.
///
/// Returns `None` when there is nothing to do (no risk), and also when no safe change
/// exists: an affected property that is not TEXT by default or already has `VALUE`
/// or `ENCODING`, or a shift that would only move the cut onto another astral
/// character. Check [`sogo_null_risk`] to tell the two apart: such an object will be
/// lost by SOGo and must be reported instead.
pub fn sogo_null_workaround(bytes: &[u8]) -> Option<(Vec<u8>, String)> {
    let doc = sogo_document(bytes)?;
    let found = findings(bytes, &doc);
    if found.is_empty() {
        return None;
    }
    let mut edits: Vec<(std::ops::Range<usize>, Vec<u8>)> = Vec::new();
    let mut notes = Vec::new();
    for finding in &found {
        if !TEXT_DEFAULT.contains(&finding.name) {
            return None;
        }
        let rendered = sogo_render(&finding.line)?;
        if rendered.has_value_or_encoding {
            return None;
        }
        let name_end = finding.line.find([':', ';'])?;
        let mut new_line = finding.line.clone();
        new_line.insert_str(name_end, ADDED_PARAM);
        if sogo_render(&new_line)
            .as_ref()
            .and_then(split_char)
            .is_some()
        {
            return None;
        }
        let source = &bytes[finding.range.clone()];
        let eol = if source.ends_with(b"\r\n") {
            "\r\n"
        } else if source.ends_with(b"\n") {
            "\n"
        } else {
            ""
        };
        let fold_eol = if eol.is_empty() { "\r\n" } else { eol };
        let mut replacement = fold_with(&new_line, fold_eol);
        replacement.push_str(eol);
        edits.push((finding.range.clone(), replacement.into_bytes()));
        notes.push(format!(
            "{}: {} now carries the parameter VALUE=TEXT, which restates its default \
             value type, so its text is unchanged. Without it SOGo 5.8 would cut the \
             character U+{:04X} ({}) at UTF-16 offset {} of its re-folded line in half \
             and store the whole object as \"(null)\"",
            finding.path,
            finding.name,
            u32::from(finding.split.ch),
            finding.split.ch,
            finding.split.offset,
        ));
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = Vec::with_capacity(bytes.len() + 16 * edits.len());
    let mut pos = 0;
    for (range, replacement) in edits {
        out.extend_from_slice(&bytes[pos..range.start]);
        out.extend_from_slice(&replacement);
        pos = range.end;
    }
    out.extend_from_slice(&bytes[pos..]);
    // Lines are rendered one by one, so fixing each one fixes the object; checked anyway.
    if sogo_null_risk(&out) {
        return None;
    }
    Some((out, notes.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tolerance, compare, fold_line};

    /// Text that mixes scripts, escapes and dashes the way trigger data does.
    const MIXED: &str = "Σύσκεψη — שלום\\, итоги \\\\ 会议 – ok\\; नमस्ते";
    const CRAB: char = '🦀';

    /// `start` padded with `x` to exactly `units` UTF-16 code units.
    fn pad(start: &str, units: usize) -> String {
        let mut s = start.to_owned();
        while utf16_len(&s) < units {
            s.push('x');
        }
        assert_eq!(utf16_len(&s), units, "cannot pad {start:?} to {units}");
        s
    }

    /// A content line whose first astral character starts at UTF-16 offset 74.
    fn line_at_cut(head: &str, tail: &str) -> String {
        format!("{}{CRAB}{tail}", pad(&format!("{head}{MIXED} "), 74))
    }

    fn event_with(lines: &[&str], eol: &str) -> Vec<u8> {
        let mut out = String::new();
        for l in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//calport//workaround test//EN",
            "BEGIN:VEVENT",
            "UID:wa-1@calport.test",
            "DTSTAMP:20260102T030405Z",
            "DTSTART:20260110T090000Z",
            "DURATION:PT1H",
        ]
        .iter()
        .chain(lines)
        .chain(&["END:VEVENT", "END:VCALENDAR"])
        {
            out.push_str(&fold_line(l));
            out.push_str("\r\n");
        }
        out.replace("\r\n", eol).into_bytes()
    }

    fn event(line: &str) -> Vec<u8> {
        event_with(&["SUMMARY:Planning", line], "\r\n")
    }

    fn card(line: &str, version: &str) -> Vec<u8> {
        let mut out = String::new();
        for l in [
            "BEGIN:VCARD",
            &format!("VERSION:{version}"),
            "UID:card-1@calport.test",
            "FN:Dana Example",
            "N:Example;Dana;;;",
            line,
            "END:VCARD",
        ] {
            out.push_str(&fold_line(l));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }

    fn render(line: &str) -> String {
        let r = sogo_render(line).expect("rendered");
        let mut out = r.head;
        for p in &r.params {
            out.push(';');
            out.push_str(p);
        }
        out.push(':');
        out.push_str(&r.value);
        out
    }

    fn assert_fixed(original: &[u8]) -> (Vec<u8>, String) {
        assert!(sogo_null_risk(original));
        let (fixed, note) = sogo_null_workaround(original).expect("a safe change");
        assert!(!sogo_null_risk(&fixed));
        let diffs = compare(original, &fixed, &Tolerance::default()).expect("parses");
        assert!(diffs.is_empty(), "{diffs:?}");
        assert!(note.contains("VALUE=TEXT"), "{note}");
        (fixed, note)
    }

    #[test]
    fn the_cut_is_every_74_utf16_units() {
        for k in 0..300 {
            let line = format!("DESCRIPTION:{}{CRAB} end", "a".repeat(k));
            let expected = (12 + k) % 74 == 0;
            assert_eq!(sogo_null_risk(&event(&line)), expected, "k = {k}");
        }
        // Measured on SOGo: k = 62, 136, 210 of 0..230 fail for DESCRIPTION.
        assert!(sogo_null_risk(&event(&format!(
            "SUMMARY:{}😀",
            "a".repeat(66)
        ))));
        assert!(!sogo_null_risk(&event(&format!(
            "SUMMARY:{}😀",
            "a".repeat(62)
        ))));
        // Characters of the BMP are one code unit and never split.
        for ch in ['é', '中', '—'] {
            let line = format!("DESCRIPTION:{}{ch}", "a".repeat(62));
            assert!(!sogo_null_risk(&event(&line)));
        }
    }

    #[test]
    fn mixed_script_trigger_gets_value_text_and_keeps_its_meaning() {
        let line = line_at_cut("DESCRIPTION:", " — конец");
        let original = event(&line);
        let (fixed, note) = assert_fixed(&original);

        let text = |bytes: &[u8]| {
            let doc = Document::parse(bytes).unwrap();
            let event = &doc.components[0].children[0];
            let prop = event.property("DESCRIPTION").unwrap().clone();
            (prop.text(), prop.param("VALUE"))
        };
        let (before, none) = text(&original);
        let (after, value) = text(&fixed);
        assert_eq!(before, after);
        assert_eq!(none, None);
        assert_eq!(value.as_deref(), Some("TEXT"));

        // Only the DESCRIPTION line changed; everything before and after it is intact.
        let start = original
            .windows(12)
            .position(|w| w == b"DESCRIPTION:")
            .unwrap();
        assert_eq!(original[..start], fixed[..start]);
        let end = b"END:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(fixed.ends_with(end));
        assert!(
            String::from_utf8(fixed)
                .unwrap()
                .contains("DESCRIPTION;VALUE=TEXT:")
        );
        assert!(note.starts_with("VCALENDAR/VEVENT[uid=wa-1@calport.test]: DESCRIPTION"));
        assert!(note.contains("U+1F980"), "{note}");
        assert!(note.contains("offset 74"), "{note}");
    }

    #[test]
    fn folding_line_endings_and_position_do_not_matter() {
        let line = line_at_cut("DESCRIPTION:", "");
        let unfolded = format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\n{line}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let variants = [
            unfolded.clone().into_bytes(),
            unfolded.replace("\r\n", "\n").into_bytes(),
            event(&line),
            event_with(&[&line, "SUMMARY:first"], "\n"),
            // Folded every few characters, CRLF + space and LF + tab.
            unfolded
                .replace("Σύσκεψη", "Σύσ\r\n κεψη")
                .replace("итоги", "ит\r\n\tоги")
                .into_bytes(),
        ];
        for bytes in &variants {
            assert!(sogo_null_risk(bytes), "{}", String::from_utf8_lossy(bytes));
            assert_fixed(bytes);
        }
        // A line ending keeps its style.
        let (fixed, _) = sogo_null_workaround(&variants[1]).unwrap();
        assert!(!fixed.contains(&b'\r'));
        // The same text as SUMMARY (4 units shorter name) is safe.
        let summary = line.replacen("DESCRIPTION:", "SUMMARY:", 1);
        assert!(!sogo_null_risk(&event(&summary)));
        assert_eq!(sogo_null_workaround(&event(&summary)), None);
        // One more character in front moves the emoji off the cut.
        let shifted = line.replacen("DESCRIPTION:", "DESCRIPTION:y", 1);
        assert!(!sogo_null_risk(&event(&shifted)));
    }

    #[test]
    fn vcard_note_is_fixed_in_3_0_and_4_0_and_with_a_group() {
        for version in ["3.0", "4.0"] {
            let (fixed, note) = assert_fixed(&card(&line_at_cut("NOTE:", " ✓"), version));
            assert!(
                String::from_utf8(fixed)
                    .unwrap()
                    .contains("NOTE;VALUE=TEXT:")
            );
            assert!(
                note.starts_with("VCARD[uid=card-1@calport.test]: NOTE"),
                "{note}"
            );
        }
        let (fixed, _) = assert_fixed(&card(&line_at_cut("item1.NOTE:", ""), "3.0"));
        assert!(
            String::from_utf8(fixed)
                .unwrap()
                .contains("item1.NOTE;VALUE=TEXT:")
        );
    }

    #[test]
    fn every_text_default_property_compares_equal_after_the_change() {
        for name in TEXT_DEFAULT {
            let line = line_at_cut(&format!("{name}:"), "");
            let bytes = if ["FN", "NOTE", "TITLE", "ROLE", "LABEL"].contains(name) {
                card(&line, "3.0")
            } else {
                event(&line)
            };
            let (_, note) = assert_fixed(&bytes);
            assert!(note.contains(&format!(": {name} now carries")), "{note}");
        }
    }

    #[test]
    fn several_lines_are_fixed_together() {
        let description = line_at_cut("DESCRIPTION:", "");
        let location = line_at_cut("LOCATION:", "");
        let bytes = event_with(&[&description, "SUMMARY:x", &location], "\r\n");
        let (_, note) = assert_fixed(&bytes);
        assert_eq!(
            note.matches("now carries the parameter VALUE=TEXT").count(),
            2
        );
    }

    #[test]
    fn unsafe_cases_are_reported_not_changed() {
        // VALUE=TEXT (11 units) would move a second astral character onto the cut.
        let collision = format!(
            "{}🙂{}{CRAB}",
            pad("DESCRIPTION:", 63),
            pad("", 74 - 63 - 2)
        );
        assert_eq!(utf16_len(&collision), 76);
        let bytes = event(&collision);
        assert!(sogo_null_risk(&bytes));
        assert_eq!(sogo_null_workaround(&bytes), None);

        // Properties whose default type is not TEXT, or that already have VALUE.
        let not_text = [
            event(&line_at_cut("X-CALPORT-NOTE:", "")),
            event(&line_at_cut("CATEGORIES:", "")),
            event(&line_at_cut("DESCRIPTION;VALUE=TEXT:", "")),
            card(&line_at_cut("ORG:", ""), "3.0"),
            event(&format!(
                "ATTENDEE;CN={}{CRAB}:mailto:a@example.test",
                "c".repeat(62)
            )),
        ];
        for bytes in &not_text {
            assert!(sogo_null_risk(bytes), "{}", String::from_utf8_lossy(bytes));
            assert_eq!(sogo_null_workaround(bytes), None);
        }
    }

    #[test]
    fn parameter_order_is_not_assumed() {
        // In input order the emoji in X-A is at offset 26; SOGo may write X-B first,
        // which puts it at 74.
        let line = format!(
            "DESCRIPTION;X-A={}{CRAB};X-B={}:plain text",
            "a".repeat(10),
            "b".repeat(43)
        );
        assert!(sogo_null_risk(&event(&line)));
        // Attendees: SOGo may add ;RSVP=TRUE (10 units) in front of CN.
        let attendee = format!("ATTENDEE;CN={}{CRAB}:mailto:a@example.test", "c".repeat(52));
        assert!(sogo_null_risk(&event(&attendee)));
        // … and PARTSTAT=NEEDS-ACTION (22 units).
        let attendee = format!("ATTENDEE;CN={}{CRAB}:mailto:a@example.test", "c".repeat(40));
        assert!(sogo_null_risk(&event(&attendee)));
        let attendee = format!(
            "ATTENDEE;PARTSTAT=ACCEPTED;CN={}{CRAB}:mailto:a@example.test",
            "c".repeat(40)
        );
        assert!(!sogo_null_risk(&event(&attendee)));
    }

    #[test]
    fn model_of_sogo_rendering() {
        // Escapes are decoded and written back canonically.
        assert_eq!(
            render("description:a\\,b\\;c\\\\d\\Ne"),
            "DESCRIPTION:a\\,b\\;c\\\\d\\ne"
        );
        assert_eq!(render("DESCRIPTION:a\\:b"), "DESCRIPTION:a:b");
        // An unescaped comma separates values and is written back unescaped; empty
        // values between commas vanish.
        assert_eq!(render("DESCRIPTION:a, b,,c"), "DESCRIPTION:a, b,c");
        // Parameter quotes are dropped unless needed.
        assert_eq!(
            render("DESCRIPTION;VALUE=\"TEXT\":x"),
            "DESCRIPTION;VALUE=TEXT:x"
        );
        assert_eq!(
            render("ATTENDEE;CN=\"Doe, J\":mailto:j@x"),
            "ATTENDEE;CN=\"Doe, J\":mailto:j@x"
        );
        // Structured values lose trailing empty parts (README quirk 4).
        assert_eq!(render("N:Smith;Søren;;;"), "N:Smith;Søren");
        assert_eq!(
            render("ADR;TYPE=home:;;Main St 1;Town;;;"),
            "ADR;TYPE=home:;;Main St 1;Town"
        );
        // Group names are kept, names upper-cased.
        assert_eq!(render("item1.x-abLabel:Work"), "ITEM1.X-ABLABEL:Work");
        // Lines without content are dropped.
        assert_eq!(sogo_render("DESCRIPTION:;;"), None);
        assert_eq!(sogo_render("DESCRIPTION:"), None);
    }

    #[test]
    fn bytes_sogo_does_not_read_as_utf8_lines() {
        let line = line_at_cut("DESCRIPTION:", "");
        let mut latin1 = event(&line);
        latin1.extend_from_slice(b"X-JUNK:\xE9\r\n");
        assert!(!sogo_null_risk(&latin1));
        let cr_only = String::from_utf8(event(&line))
            .unwrap()
            .replace("\r\n", "\r");
        assert!(!sogo_null_risk(cr_only.as_bytes()));
        assert!(!sogo_null_risk(b"not calendar data at all\n"));
        assert_eq!(sogo_null_workaround(b""), None);
    }
}
