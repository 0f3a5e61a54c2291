//! WebDAV XML: request bodies we send and the multistatus answers we read.
//!
//! Parsing is namespace-aware (servers use `d:`, `D:`, `ns0:` or a default namespace),
//! tolerates unknown elements, and merges `propstat` blocks split by status: properties
//! from 2xx blocks are "present", the others are recorded as absent.

use std::borrow::Cow;
use std::fmt::Write as _;

use calport_core::{CollectionKind, NewCollection};

/// `DAV:` (RFC 4918).
pub(crate) const DAV: &str = "DAV:";
/// CalDAV (RFC 4791).
pub(crate) const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// CardDAV (RFC 6352).
pub(crate) const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// CalendarServer extensions (`getctag`, `subscribed`, …).
pub(crate) const CALSERVER: &str = "http://calendarserver.org/ns/";
/// Apple iCal extensions (`calendar-color`).
pub(crate) const APPLE: &str = "http://apple.com/ns/ical/";

const NAMESPACES: &str = r#"xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:a="http://apple.com/ns/ical/""#;
const PROLOG: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

/// An owned XML element: enough of the tree to read DAV properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// Text and CDATA directly inside this element, concatenated, entities resolved.
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub(crate) fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub(crate) fn has_child(&self, ns: &str, name: &str) -> bool {
        self.child(ns, name).is_some()
    }

    /// Whether this element or any descendant is `ns:name`.
    pub(crate) fn contains(&self, ns: &str, name: &str) -> bool {
        self.is(ns, name) || self.children.iter().any(|c| c.contains(ns, name))
    }

    /// Texts of the `DAV:href` children, trimmed.
    pub(crate) fn hrefs(&self) -> Vec<String> {
        self.children
            .iter()
            .filter(|c| c.is(DAV, "href"))
            .map(|c| c.text.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect()
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn from_node(node: roxmltree::Node<'_, '_>) -> Element {
        let mut element = Element {
            ns: node.tag_name().namespace().unwrap_or_default().to_owned(),
            name: node.tag_name().name().to_owned(),
            attrs: node
                .attributes()
                .map(|a| (a.name().to_owned(), a.value().to_owned()))
                .collect(),
            ..Element::default()
        };
        for child in node.children() {
            if child.is_element() {
                element.children.push(Element::from_node(child));
            } else if child.is_text() {
                element.text.push_str(child.text().unwrap_or_default());
            }
        }
        element
    }
}

/// Parses an XML document into an owned tree.
///
/// XML parsers turn CRLF into LF (XML 1.0 §2.11), which would change the line endings of
/// every `calendar-data` / `address-data`. Raw CRs in character data are therefore
/// escaped as `&#13;` first, so the text comes back byte-for-byte as the server sent it.
pub(crate) fn parse(body: &str) -> Result<Element, String> {
    let protected = protect_cr(body);
    let doc = match roxmltree::Document::parse(&protected) {
        Ok(doc) => doc,
        // Our escaping is a heuristic; the plain document may still parse.
        Err(_) if matches!(protected, Cow::Owned(_)) => {
            roxmltree::Document::parse(body).map_err(|e| format!("invalid XML: {e}"))?
        }
        Err(e) => return Err(format!("invalid XML: {e}")),
    };
    Ok(Element::from_node(doc.root_element()))
}

/// Escapes raw CR characters in character data (including CDATA sections) so that XML
/// line-ending normalisation keeps them. Markup (tags, comments, PIs) is left alone.
fn protect_cr(xml: &str) -> Cow<'_, str> {
    if !xml.contains('\r') {
        return Cow::Borrowed(xml);
    }
    let bytes = xml.as_bytes();
    let mut out = String::with_capacity(xml.len() + xml.len() / 16);
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &xml[i..];
        let skip_to =
            |end: &str, from: usize| rest[from..].find(end).map(|p| i + from + p + end.len());
        if rest.starts_with("<![CDATA[") {
            let end = skip_to("]]>", 9).unwrap_or(bytes.len());
            out.push_str(&xml[copied..i]);
            // A CR cannot be escaped inside CDATA: close it, add the reference, reopen.
            out.push_str(&xml[i..end].replace('\r', "]]>&#13;<![CDATA["));
            copied = end;
            i = end;
        } else if rest.starts_with("<!--") {
            i = skip_to("-->", 4).unwrap_or(bytes.len());
        } else if bytes[i] == b'<' {
            // A tag, PI or declaration: skip to its '>' outside quotes.
            let mut quote = None;
            i += 1;
            while i < bytes.len() {
                match (bytes[i], quote) {
                    (b'"' | b'\'', None) => quote = Some(bytes[i]),
                    (q, Some(open)) if q == open => quote = None,
                    (b'>', None) => break,
                    _ => {}
                }
                i += 1;
            }
            i += 1;
        } else {
            // Character data up to the next markup. Whitespace-only runs are left alone:
            // they may sit outside the root element, where references are not allowed.
            let end = rest.find('<').map_or(bytes.len(), |p| i + p);
            let run = &xml[i..end];
            if run.contains('\r') && !run.trim().is_empty() {
                out.push_str(&xml[copied..i]);
                out.push_str(&run.replace('\r', "&#13;"));
                copied = end;
            }
            i = end;
        }
    }
    out.push_str(&xml[copied.min(xml.len())..]);
    Cow::Owned(out)
}

/// Reads the status code from a `DAV:status` line such as `HTTP/1.1 404 Not Found`.
pub(crate) fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One `DAV:response` of a multistatus, with its propstats merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MsResponse {
    /// The `DAV:href` texts as sent (trimmed, not yet resolved); usually one.
    pub hrefs: Vec<String>,
    /// The response-level `DAV:status`, if any (deleted members, 507 truncation).
    pub status: Option<u16>,
    /// Properties from 2xx propstats.
    pub props: Vec<Element>,
    /// Properties reported with another status (typically 404: the server lacks them).
    pub absent: Vec<(Element, u16)>,
    /// Names of the elements inside a response-level `DAV:error`.
    pub errors: Vec<String>,
}

impl MsResponse {
    pub(crate) fn prop(&self, ns: &str, name: &str) -> Option<&Element> {
        self.props.iter().find(|p| p.is(ns, name))
    }

    /// A property's text, trimmed; `None` when absent or empty.
    pub(crate) fn prop_text(&self, ns: &str, name: &str) -> Option<String> {
        let text = self.prop(ns, name)?.text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// A property's text exactly as sent (for item bodies); `None` when absent.
    pub(crate) fn prop_raw(&self, ns: &str, name: &str) -> Option<&str> {
        self.prop(ns, name).map(|p| p.text.as_str())
    }

    /// The status of a property when the server reported it absent or failed.
    pub(crate) fn absent_status(&self, ns: &str, name: &str) -> Option<u16> {
        self.absent
            .iter()
            .find(|(p, _)| p.is(ns, name))
            .map(|(_, s)| *s)
    }

    /// The status of the resource itself: the response-level status, else 200. A
    /// propstat's status only speaks about its properties (404 = the server lacks them),
    /// never about the resource.
    pub(crate) fn effective_status(&self) -> u16 {
        self.status.unwrap_or(200)
    }
}

/// A parsed `DAV:multistatus` (RFC 4918 §14.16), plus the RFC 6578 sync token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Multistatus {
    pub responses: Vec<MsResponse>,
    pub sync_token: Option<String>,
}

/// Parses a multistatus body.
///
/// # Errors
/// A message when the body is not XML or its root is not `DAV:multistatus`.
pub(crate) fn parse_multistatus(body: &str) -> Result<Multistatus, String> {
    let root = parse(body)?;
    if !root.is(DAV, "multistatus") {
        return Err(format!(
            "expected a DAV:multistatus, got <{}> in namespace {:?}",
            root.name, root.ns
        ));
    }
    let mut ms = Multistatus {
        sync_token: root
            .child(DAV, "sync-token")
            .map(|t| t.text.trim().to_owned())
            .filter(|t| !t.is_empty()),
        ..Multistatus::default()
    };
    for response in root.children.iter().filter(|c| c.is(DAV, "response")) {
        let mut parsed = MsResponse {
            hrefs: response.hrefs(),
            status: response
                .child(DAV, "status")
                .and_then(|s| status_code(&s.text)),
            ..MsResponse::default()
        };
        for propstat in response.children.iter().filter(|c| c.is(DAV, "propstat")) {
            let status = propstat
                .child(DAV, "status")
                .and_then(|s| status_code(&s.text))
                .unwrap_or(200);
            let props = propstat
                .children
                .iter()
                .filter(|c| c.is(DAV, "prop"))
                .flat_map(|p| p.children.iter().cloned());
            if (200..300).contains(&status) {
                parsed.props.extend(props);
            } else {
                parsed.absent.extend(props.map(|p| (p, status)));
            }
        }
        if let Some(error) = response.child(DAV, "error") {
            parsed.errors = error.children.iter().map(|c| c.name.clone()).collect();
        }
        ms.responses.push(parsed);
    }
    Ok(ms)
}

/// Reads a `DAV:error` body (RFC 4918 §16): the names of its precondition elements and
/// any `responsedescription`/message text, as one short line. `None` if not such a body.
pub(crate) fn error_summary(body: &str) -> Option<String> {
    let root = parse(body).ok()?;
    if !root.is(DAV, "error") {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    for child in &root.children {
        let text = child.text.trim();
        if child.name == "sabredav-version" {
            continue;
        }
        if child.children.is_empty() && !text.is_empty() {
            // responsedescription, sabre's message/exception, …
            parts.push(text.to_owned());
        } else {
            // A precondition/postcondition element such as no-uid-conflict.
            parts.push(child.name.clone());
        }
    }
    Some(parts.join(": "))
}

/// Escapes text for an XML element or attribute.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(ch),
        }
    }
    Cow::Owned(out)
}

fn propfind(props: &str) -> String {
    format!("{PROLOG}<d:propfind {NAMESPACES}><d:prop>{props}</d:prop></d:propfind>")
}

/// PROPFIND body asking for the principal and home sets (RFC 5397, 4791 §6.2.1, 6352 §7.1.1).
pub(crate) fn propfind_principal() -> String {
    propfind(
        "<d:current-user-principal/><d:resourcetype/><c:calendar-home-set/>\
         <cr:addressbook-home-set/><c:calendar-user-address-set/>",
    )
}

/// PROPFIND body with every property [`calport_core::CollectionInfo`] needs.
pub(crate) fn propfind_collection() -> String {
    propfind(
        "<d:resourcetype/><d:displayname/><cs:getctag/><d:sync-token/>\
         <d:supported-report-set/><d:current-user-privilege-set/>\
         <c:supported-calendar-component-set/><c:calendar-description/>\
         <a:calendar-color/><cr:addressbook-description/>",
    )
}

/// PROPFIND body for listing members with their versions.
pub(crate) fn propfind_members() -> String {
    propfind("<d:resourcetype/><d:getetag/><d:getcontenttype/>")
}

/// PROPFIND body asking only for the etag.
pub(crate) fn propfind_etag() -> String {
    propfind("<d:getetag/>")
}

/// sync-collection REPORT body (RFC 6578 §3.2); `None` = initial sync.
pub(crate) fn sync_collection(token: Option<&str>) -> String {
    let token = match token {
        Some(t) => format!("<d:sync-token>{}</d:sync-token>", escape(t)),
        None => "<d:sync-token/>".to_owned(),
    };
    format!(
        "{PROLOG}<d:sync-collection {NAMESPACES}>{token}<d:sync-level>1</d:sync-level>\
         <d:prop><d:getetag/></d:prop></d:sync-collection>"
    )
}

/// calendar-multiget (RFC 4791 §7.9) or addressbook-multiget (RFC 6352 §8.7) body.
pub(crate) fn multiget<'a>(
    kind: CollectionKind,
    hrefs: impl IntoIterator<Item = &'a str>,
) -> String {
    let (root, data) = match kind {
        CollectionKind::Calendar => ("c:calendar-multiget", "<c:calendar-data/>"),
        CollectionKind::AddressBook => ("cr:addressbook-multiget", "<cr:address-data/>"),
    };
    let mut body = format!("{PROLOG}<{root} {NAMESPACES}><d:prop><d:getetag/>{data}</d:prop>");
    for href in hrefs {
        let _ = write!(body, "<d:href>{}</d:href>", escape(href));
    }
    let _ = write!(body, "</{root}>");
    body
}

/// The `d:prop` content setting the properties of a new collection.
fn collection_props(spec: &NewCollection, resourcetype: Option<&str>) -> String {
    let mut props = String::new();
    if let Some(rt) = resourcetype {
        let _ = write!(
            props,
            "<d:resourcetype><d:collection/>{rt}</d:resourcetype>"
        );
    }
    if let Some(name) = &spec.display_name {
        let _ = write!(props, "<d:displayname>{}</d:displayname>", escape(name));
    }
    match spec.kind {
        CollectionKind::Calendar => {
            if let Some(desc) = &spec.description {
                let _ = write!(
                    props,
                    "<c:calendar-description>{}</c:calendar-description>",
                    escape(desc)
                );
            }
            if !spec.components.is_empty() {
                props.push_str("<c:supported-calendar-component-set>");
                for comp in &spec.components {
                    let _ = write!(props, "<c:comp name=\"{}\"/>", escape(comp));
                }
                props.push_str("</c:supported-calendar-component-set>");
            }
            if let Some(color) = &spec.color {
                let _ = write!(
                    props,
                    "<a:calendar-color>{}</a:calendar-color>",
                    escape(color)
                );
            }
        }
        CollectionKind::AddressBook => {
            if let Some(desc) = &spec.description {
                let _ = write!(
                    props,
                    "<cr:addressbook-description>{}</cr:addressbook-description>",
                    escape(desc)
                );
            }
        }
    }
    props
}

/// MKCALENDAR body (RFC 4791 §5.3.1).
pub(crate) fn mkcalendar(spec: &NewCollection) -> String {
    format!(
        "{PROLOG}<c:mkcalendar {NAMESPACES}><d:set><d:prop>{}</d:prop></d:set></c:mkcalendar>",
        collection_props(spec, None)
    )
}

/// Extended MKCOL body (RFC 5689) for a calendar or an address book.
pub(crate) fn mkcol(spec: &NewCollection) -> String {
    let rt = match spec.kind {
        CollectionKind::Calendar => "<c:calendar/>",
        CollectionKind::AddressBook => "<cr:addressbook/>",
    };
    format!(
        "{PROLOG}<d:mkcol {NAMESPACES}><d:set><d:prop>{}</d:prop></d:set></d:mkcol>",
        collection_props(spec, Some(rt))
    )
}

/// PROPPATCH body setting the properties of `spec` (display name, colour, description).
pub(crate) fn proppatch(spec: &NewCollection) -> String {
    let without_components = NewCollection {
        components: Vec::new(),
        ..spec.clone()
    };
    format!(
        "{PROLOG}<d:propertyupdate {NAMESPACES}><d:set><d:prop>{}</d:prop></d:set></d:propertyupdate>",
        collection_props(&without_components, None)
    )
}

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;
