//! HTML bodies to plain text.
//!
//! Outlook bodies are whole documents (`<html><head><style>…`, Word's `MsoNormal`
//! paragraphs, conditional comments). This is not an HTML parser: it walks the text
//! once, drops markup, turns block boundaries into line breaks and decodes entities,
//! which is all a DESCRIPTION needs. Malformed markup degrades to more text, never to
//! a failure.

/// Elements whose content is not text to show.
const HIDDEN: [&str; 5] = ["script", "style", "head", "title", "xml"];

/// Elements that end a line (`<br>`, and the end of these blocks).
const BLOCKS: [&str; 20] = [
    "p",
    "div",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "blockquote",
    "pre",
    "hr",
    "dl",
    "dt",
    "dd",
    "section",
];

/// The readable text of an HTML body: tags dropped, block elements and `<br>` as line
/// breaks, entities decoded, whitespace collapsed, `<script>`/`<style>` contents removed.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        push_text(&mut out, &rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('&') {
            let (decoded, used) = entity(rest);
            // A no-break space stays one until `tidy`: Outlook writes an empty line as
            // `<p>&nbsp;</p>`, and that paragraph must count as a line.
            out.push(decoded.unwrap_or('&'));
            rest = &rest[used..];
        } else {
            rest = tag(&mut out, rest);
        }
    }
    push_text(&mut out, rest);
    tidy(&out)
}

/// Text between tags: source line breaks and tabs are spaces in HTML.
fn push_text(out: &mut String, text: &str) {
    out.extend(
        text.chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c }),
    );
}

/// Starts a new line unless the output already is at the start of one.
fn line_break(out: &mut String) {
    let line = out.rsplit('\n').next().unwrap_or("");
    if line.chars().any(|c| c != ' ') {
        out.push('\n');
    }
}

/// Handles the markup at the start of `rest` (which starts with `<`) and returns what
/// follows it.
fn tag<'a>(out: &mut String, rest: &'a str) -> &'a str {
    if let Some(comment) = rest.strip_prefix("<!--") {
        return comment.find("-->").map_or("", |end| &comment[end + 3..]);
    }
    let after = &rest[1..];
    let closing = after.starts_with('/');
    let name_start = usize::from(closing);
    let name: String = after[name_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
        .collect::<String>()
        .to_ascii_lowercase();
    let starts_markup = !name.is_empty()
        || after.starts_with(['!', '?'])
        || (closing && after[1..].starts_with('>'));
    if !starts_markup {
        // A lone `<` as in "a < b": text.
        out.push('<');
        return after;
    }
    let Some(end) = tag_end(after) else {
        return "";
    };
    let remainder = &after[end + 1..];
    if !closing && HIDDEN.contains(&name.as_str()) && !after[..end].ends_with('/') {
        return skip_element(remainder, &name);
    }
    match name.as_str() {
        "br" => out.push('\n'),
        "li" if !closing => {
            line_break(out);
            out.push_str("- ");
        }
        "td" | "th" if closing => out.push(' '),
        "p" if closing => {
            line_break(out);
        }
        block if BLOCKS.contains(&block) => line_break(out),
        _ => {}
    }
    remainder
}

/// Where the tag that `after` (the text after `<`) begins ends: the first `>` outside
/// a quoted attribute value.
fn tag_end(after: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in after.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Skips past the `</name>` that closes a hidden element.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let lower = rest.to_ascii_lowercase();
    let closing = format!("</{name}");
    match lower.find(&closing) {
        Some(at) => {
            let after = &rest[at..];
            after.find('>').map_or("", |end| &after[end + 1..])
        }
        None => "",
    }
}

/// Decodes the entity at the start of `rest` (which starts with `&`): the character
/// and the bytes used, or `None` and 1 when it is not an entity we know.
fn entity(rest: &str) -> (Option<char>, usize) {
    let Some(semi) = rest[1..].find(';').filter(|&i| i > 0 && i <= 10) else {
        return (None, 1);
    };
    let body = &rest[1..=semi];
    let used = semi + 2;
    let decoded = if let Some(number) = body.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        match code {
            Some(0) | None => return (None, 1),
            Some(code) => Some(char::from_u32(code).unwrap_or('\u{fffd}')),
        }
    } else {
        named(body)
    };
    match decoded {
        Some(c) => (Some(c), used),
        None => (None, 1),
    }
}

/// The common named entities (HTML 4 Latin-1 punctuation plus the typographic ones
/// Outlook writes).
fn named(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "Eacute" => 'É',
        "agrave" => 'à',
        "aacute" => 'á',
        "ccedil" => 'ç',
        "iexcl" => '¡',
        "iquest" => '¿',
        "shy" => '\u{ad}',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        _ => return None,
    })
}

/// Collapses runs of spaces, trims every line, keeps at most one blank line in a row
/// and none at either end.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_pending = false;
    for line in text.split('\n') {
        let words: Vec<&str> = line
            .split([' ', '\u{a0}'])
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_pending {
                out.push('\n');
            }
        }
        blank_pending = false;
        out.push_str(&words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities() {
        assert_eq!(
            to_text("a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39;"),
            "a & b <c> \"d\" 'e'"
        );
        assert_eq!(to_text("&#8364;&#x20AC;&euro;"), "€€€");
        assert_eq!(to_text("&nbsp;x&nbsp;&nbsp;y"), "x y");
        assert_eq!(to_text("AT&T &unknown; &#0; &"), "AT&T &unknown; &#0; &");
        // A decoded `<` is text, never markup.
        assert_eq!(to_text("&lt;b&gt;bold&lt;/b&gt;"), "<b>bold</b>");
    }

    #[test]
    fn blocks_and_lists() {
        assert_eq!(to_text("<p>one</p><p>two</p>"), "one\ntwo");
        assert_eq!(to_text("a<br>b<br/>c<BR />d"), "a\nb\nc\nd");
        assert_eq!(
            to_text("<ul><li>x</li><li>y</li></ul>after"),
            "- x\n- y\nafter"
        );
        assert_eq!(to_text("<h1>Title</h1>text"), "Title\ntext");
        assert_eq!(
            to_text("<p>a</p><p>&nbsp;</p><p>&nbsp;</p><p>b</p>"),
            "a\n\nb"
        );
        assert_eq!(
            to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"),
            "a b\nc"
        );
    }

    #[test]
    fn hidden_content_and_comments() {
        let html = "<html><head><meta charset=\"utf-8\"><style>p {color:red}</style></head>\
                    <body><!--[if gte mso 9]><xml>junk</xml><![endif]-->\
                    <script type=\"x\">alert('<p>')</script><div title=\"a>b\">Hi</div></body></html>";
        assert_eq!(to_text(html), "Hi");
        assert_eq!(to_text("a < b and c <> d"), "a < b and c <> d");
        assert_eq!(to_text("unterminated <b"), "unterminated");
        assert_eq!(to_text("  spaced \r\n  out\t text  "), "spaced out text");
    }
}
