//! Hrefs: resolving what servers send, spelling what we send, comparing both.
//!
//! Hrefs are kept as the server spelled them (percent-encoding included) and compared
//! after percent-decoding, so `/a%40b/` and `/a@b/` are the same resource.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

/// Bytes left as they are in a resource name we create: `[A-Za-z0-9._~-@]`. Everything
/// else is percent-encoded, ':' in particular (Xandikos mangles hrefs containing it,
/// Radicale 3.9 refuses them).
const NAME_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'-')
    .remove(b'@');

/// Percent-encodes one path segment for a resource we create.
pub(crate) fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, NAME_SET).to_string()
}

/// Resolves an href from a server answer against the URL of the request.
///
/// Absolute paths and `http(s)` URLs resolve as usual. Anything else is a path relative
/// to `base`, even when it looks like a URI with a scheme: Xandikos answers
/// `<href>urn:uuid:X.vcf</href>` for a member named `urn:uuid:X.vcf`.
pub(crate) fn resolve(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    if href.starts_with('/') || lower.starts_with("http://") || lower.starts_with("https://") {
        base.join(href).ok()
    } else {
        base.join(&format!("./{href}")).ok()
    }
}

/// The form we store: the absolute path (with query) when `url` is on the same origin as
/// `origin`, else the whole URL (iCloud hands out hrefs on other hosts).
pub(crate) fn to_ref(url: &Url, origin: &Url) -> String {
    if same_origin(url, origin) {
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    } else {
        url.to_string()
    }
}

/// Scheme, host and port equal.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && same_host_port(a, b)
}

/// Host and port equal (credentials may be sent to this host).
pub(crate) fn same_host_port(a: &Url, b: &Url) -> bool {
    a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A comparison key: percent-decoded, without a trailing slash.
pub(crate) fn key(href: &str) -> String {
    let decoded = percent_decode_str(href).decode_utf8_lossy();
    let trimmed = decoded.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The comparison key of a URL (its stored form relative to `origin`).
pub(crate) fn url_key(url: &Url, origin: &Url) -> String {
    key(&to_ref(url, origin))
}

/// Makes sure a collection URL ends with `/` so relative hrefs resolve inside it.
pub(crate) fn as_collection(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5232/user/contacts/book/").unwrap()
    }

    #[test]
    fn resolves_absolute_relative_and_broken_hrefs() {
        let b = base();
        assert_eq!(resolve(&b, "/user/x.vcf").unwrap().path(), "/user/x.vcf");
        assert_eq!(
            resolve(&b, "x%20y.vcf").unwrap().path(),
            "/user/contacts/book/x%20y.vcf"
        );
        assert_eq!(
            resolve(&b, "urn:uuid:1234.vcf").unwrap().path(),
            "/user/contacts/book/urn:uuid:1234.vcf"
        );
        let other = resolve(&b, "https://p07-caldav.icloud.com/1/calendars/").unwrap();
        assert_eq!(
            to_ref(&other, &b),
            "https://p07-caldav.icloud.com/1/calendars/"
        );
        assert_eq!(to_ref(&resolve(&b, "/a%40b/").unwrap(), &b), "/a%40b/");
        assert_eq!(
            to_ref(&resolve(&b, "http://127.0.0.1:5232/z").unwrap(), &b),
            "/z"
        );
        assert!(resolve(&b, "  ").is_none());
    }

    #[test]
    fn keys_compare_after_decoding() {
        assert_eq!(key("/a%40b/c%3Ad.ics"), key("/a@b/c:d.ics"));
        assert_eq!(key("/cal/"), key("/cal"));
        assert_eq!(key("/"), "/");
        let b = base();
        assert_eq!(
            url_key(&resolve(&b, "urn:uuid:1.vcf").unwrap(), &b),
            key("/user/contacts/book/urn%3Auuid%3A1.vcf")
        );
    }

    #[test]
    fn names_are_encoded_except_the_safe_set() {
        assert_eq!(encode_segment("a-b_c.d~e@f"), "a-b_c.d~e@f");
        assert_eq!(encode_segment("urn:uuid:1/2 3"), "urn%3Auuid%3A1%2F2%203");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn credentials_stay_on_the_configured_host_and_port() {
        let origin = Url::parse("https://dav.example.com/dav/").unwrap();
        let same = Url::parse("https://DAV.example.com:443/other/").unwrap();
        assert!(same_host_port(&origin, &same));
        for other in [
            "https://p07-dav.example.com/dav/",
            "https://dav.example.com:8443/dav/",
            "http://dav.example.com/dav/",
        ] {
            assert!(
                !same_host_port(&origin, &Url::parse(other).unwrap()),
                "{other}"
            );
        }
    }

    #[test]
    fn collection_urls_get_a_trailing_slash() {
        let u = as_collection(Url::parse("http://h/a/b").unwrap());
        assert_eq!(u.path(), "/a/b/");
    }
}
