//! Reading a Depth 1 PROPFIND multistatus (RFC 4918 §13) into collection members.

use anyhow::{Context as _, bail};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use url::Url;

const DAV: &str = "DAV:";
const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";

/// Characters escaped when a bare member name is turned into a relative reference. `:` is the
/// one that matters: `urn:uuid:x.vcf` would otherwise parse as an absolute URI.
const NAME_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b':')
    .add(b'?')
    .add(b'<')
    .add(b'>');

/// One non-collection member of a collection, as listed by PROPFIND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The absolute path of the member, percent-encoded (`/user/contacts/addressbook/a%3Ab.vcf`).
    pub href: String,
    /// The last path segment, percent-decoded (`a:b.vcf`): the name in the server's storage.
    pub name: String,
    /// `getetag` as the server sent it, quotes included; `None` if it sent none.
    pub etag: Option<String>,
}

/// What a collection holds, from its own `resourcetype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataKind {
    /// `CALDAV:calendar` (RFC 4791 §4.2).
    Calendar,
    /// `CARDDAV:addressbook` (RFC 6352 §5.2).
    AddressBook,
}

/// A Depth 1 PROPFIND answer: the collection's own kind and its members.
#[derive(Debug)]
pub(crate) struct Listing {
    pub(crate) kind: Option<DataKind>,
    pub(crate) members: Vec<Member>,
}

/// Parses the PROPFIND answer for `collection`; members are the non-collection children,
/// sorted by href.
pub(crate) fn listing(collection: &Url, xml: &str) -> anyhow::Result<Listing> {
    let doc = roxmltree::Document::parse(xml).context("the multistatus is not well-formed XML")?;
    let root = multistatus_root(&doc)?;
    let own_path = collection.path().trim_end_matches('/');
    let mut kind = None;
    let mut members = Vec::new();
    for response in root
        .children()
        .filter(|n| n.has_tag_name((DAV, "response")))
    {
        let Some(href) = child(response, "href").and_then(|n| n.text()) else {
            bail!("a DAV:response has no DAV:href");
        };
        let url = resolve_href(collection, href.trim())?;
        let mut etag = None;
        let mut is_collection = false;
        let mut data_kind = None;
        for prop in ok_props(response) {
            if let Some(node) = child(prop, "getetag") {
                etag = node
                    .text()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
            }
            if let Some(node) = child(prop, "resourcetype") {
                is_collection = child(node, "collection").is_some();
                for t in node.children() {
                    if t.has_tag_name((CALDAV, "calendar")) {
                        data_kind = Some(DataKind::Calendar);
                    } else if t.has_tag_name((CARDDAV, "addressbook")) {
                        data_kind = Some(DataKind::AddressBook);
                    }
                }
            }
        }
        if url.path().trim_end_matches('/') == own_path {
            kind = data_kind;
            continue;
        }
        if is_collection {
            continue;
        }
        members.push(Member {
            href: url.path().to_owned(),
            name: last_segment(&url),
            etag,
        });
    }
    members.sort_by(|a, b| a.href.cmp(&b.href));
    Ok(Listing { kind, members })
}

/// Parses a calendar-multiget or addressbook-multiget answer (RFC 4791 §7.9, RFC 6352 §8.7)
/// into `(path, data)` pairs; `data` is `None` for an href the server could not return.
pub(crate) fn multiget_data(
    collection: &Url,
    xml: &str,
) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let doc = roxmltree::Document::parse(xml).context("the multistatus is not well-formed XML")?;
    let root = multistatus_root(&doc)?;
    let mut out = Vec::new();
    for response in root
        .children()
        .filter(|n| n.has_tag_name((DAV, "response")))
    {
        let Some(href) = child(response, "href").and_then(|n| n.text()) else {
            bail!("a DAV:response has no DAV:href");
        };
        let url = resolve_href(collection, href.trim())?;
        let data = ok_props(response).find_map(|prop| {
            prop.children()
                .find(|n| {
                    n.has_tag_name((CALDAV, "calendar-data"))
                        || n.has_tag_name((CARDDAV, "address-data"))
                })
                .map(|n| n.text().unwrap_or_default().to_owned())
        });
        out.push((url.path().to_owned(), data));
    }
    Ok(out)
}

fn multistatus_root<'a, 'input>(
    doc: &'a roxmltree::Document<'input>,
) -> anyhow::Result<roxmltree::Node<'a, 'input>> {
    let root = doc.root_element();
    if !root.has_tag_name((DAV, "multistatus")) {
        bail!("expected DAV:multistatus, got {:?}", root.tag_name().name());
    }
    Ok(root)
}

/// The `DAV:prop` elements of the propstats whose status is 200.
fn ok_props<'a, 'input>(
    response: roxmltree::Node<'a, 'input>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> {
    response
        .children()
        .filter(|n| n.has_tag_name((DAV, "propstat")))
        .filter(|propstat| {
            child(*propstat, "status")
                .and_then(|n| n.text())
                .and_then(|s| s.split_whitespace().nth(1))
                == Some("200")
        })
        .flat_map(|propstat| {
            propstat
                .children()
                .filter(|n| n.has_tag_name((DAV, "prop")))
        })
}

/// The last non-empty path segment, percent-decoded.
fn last_segment(url: &Url) -> String {
    let segment = url
        .path_segments()
        .and_then(|mut s| s.rfind(|s| !s.is_empty()))
        .unwrap_or_default();
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Resolves an href against the URL the request went to (RFC 3986 §5).
///
/// Xandikos 0.4 answers a bare member name for names with `:` (`urn:uuid:x.vcf`), which RFC
/// 3986 reads as an absolute URI of scheme `urn`; any href that is absolute but not http(s) is
/// therefore taken as a member name of `base`.
pub(crate) fn resolve_href(base: &Url, href: &str) -> anyhow::Result<Url> {
    match Url::parse(href) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        Ok(_) => {
            let relative = utf8_percent_encode(href, NAME_ESCAPES).to_string();
            base.join(&relative)
                .with_context(|| format!("cannot resolve member name {href:?}"))
        }
        Err(_) => base
            .join(href)
            .with_context(|| format!("cannot resolve href {href:?}")),
    }
}

fn child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children().find(|n| n.has_tag_name((DAV, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:1/user/contacts/addressbook/").unwrap()
    }

    #[test]
    fn resolves_absolute_paths_and_urls() {
        let b = base();
        assert_eq!(
            resolve_href(&b, "/user/contacts/addressbook/a.vcf")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:1/user/contacts/addressbook/a.vcf"
        );
        assert_eq!(
            resolve_href(&b, "http://127.0.0.1:1/x/y.vcf")
                .unwrap()
                .path(),
            "/x/y.vcf"
        );
        assert_eq!(
            resolve_href(&b, "b.vcf").unwrap().path(),
            "/user/contacts/addressbook/b.vcf"
        );
    }

    #[test]
    fn bare_names_with_colons_stay_in_the_collection() {
        let url = resolve_href(&base(), "urn:uuid:1234.vcf").unwrap();
        assert_eq!(
            url.path(),
            "/user/contacts/addressbook/urn%3Auuid%3A1234.vcf"
        );
    }

    #[test]
    fn skips_the_collection_and_subcollections() {
        let xml = r#"<d:multistatus xmlns:d="DAV:">
          <d:response><d:href>/c/</d:href><d:propstat><d:prop>
            <d:resourcetype><d:collection/></d:resourcetype></d:prop>
            <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
          <d:response><d:href>/c/sub/</d:href><d:propstat><d:prop>
            <d:resourcetype><d:collection/></d:resourcetype></d:prop>
            <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
          <d:response><d:href>urn:uuid:x.vcf</d:href><d:propstat><d:prop>
            <d:resourcetype/><d:getetag>"e1"</d:getetag></d:prop>
            <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
          <d:response><d:href>/c/a%20b.ics</d:href><d:propstat><d:prop>
            <d:getetag/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
          </d:response>
        </d:multistatus>"#;
        let collection = Url::parse("http://127.0.0.1:1/c/").unwrap();
        let got = listing(&collection, xml).unwrap();
        assert_eq!(got.kind, None);
        let got = got.members;
        assert_eq!(
            got,
            vec![
                Member {
                    href: "/c/a%20b.ics".into(),
                    name: "a b.ics".into(),
                    etag: None
                },
                Member {
                    href: "/c/urn%3Auuid%3Ax.vcf".into(),
                    name: "urn:uuid:x.vcf".into(),
                    etag: Some("\"e1\"".into())
                },
            ]
        );
    }

    #[test]
    fn reads_the_collection_kind_and_multiget_data() {
        let collection = Url::parse("http://127.0.0.1:1/alice/cal/").unwrap();
        let xml = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
          <response><href>/alice/cal/</href><propstat><prop>
            <resourcetype><collection/><C:calendar/></resourcetype></prop>
            <status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        assert_eq!(
            listing(&collection, xml).unwrap().kind,
            Some(DataKind::Calendar)
        );

        let xml = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
          <response><href>/alice/cal/urn%3Auuid%3Ax.ics</href><propstat><prop>
            <getetag>"1"</getetag><C:calendar-data>BEGIN:VCALENDAR&#13;
END:VCALENDAR&#13;
</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>
          <response><href>/alice/cal/gone.ics</href><status>HTTP/1.1 404 Not Found</status>
          </response></multistatus>"#;
        assert_eq!(
            multiget_data(&collection, xml).unwrap(),
            vec![
                (
                    "/alice/cal/urn%3Auuid%3Ax.ics".to_owned(),
                    Some("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_owned())
                ),
                ("/alice/cal/gone.ics".to_owned(), None),
            ]
        );
    }
}
