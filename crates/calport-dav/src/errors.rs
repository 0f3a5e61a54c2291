//! Turning unwelcome HTTP answers into [`StoreError`]s with a readable reason.

use calport_core::StoreError;

use crate::client::DavResponse;
use crate::xml;

/// Longest server reason kept in an error message.
const MAX_REASON: usize = 300;

/// Maps an answer that is not the expected success to an error.
///
/// 401 → `Unauthorized`, 404/410 → `NotFound`, 412 → `PreconditionFailed`, 429 and 5xx
/// (already retried) → `Server`, anything else → `Rejected` with the server's reason.
pub(crate) fn status_error(method: &str, href: &str, resp: &DavResponse) -> StoreError {
    let status = resp.code();
    match status {
        401 => StoreError::Unauthorized {
            url: resp.url.to_string(),
            status,
        },
        404 | 410 => StoreError::NotFound {
            href: href.to_owned(),
        },
        412 => StoreError::PreconditionFailed {
            href: href.to_owned(),
        },
        429 | 500..=599 => StoreError::Server {
            method: method.to_owned(),
            href: href.to_owned(),
            reason: format!("{}: {}", resp.status, body_reason(resp)),
        },
        _ => StoreError::Rejected {
            method: method.to_owned(),
            href: href.to_owned(),
            status,
            reason: body_reason(resp),
        },
    }
}

/// A short reason from an error body: the precondition names of a `DAV:error`, the text
/// of an HTML page, or the plain text, shortened; the status phrase when empty.
pub(crate) fn body_reason(resp: &DavResponse) -> String {
    let text = resp.text();
    let media = resp.media_type();
    let trimmed = text.trim_start();
    let reason = if let Some(summary) = xml::error_summary(&text) {
        summary
    } else if media.contains("html") || media.ends_with("xml") || trimmed.starts_with('<') {
        strip_tags(&text)
    } else {
        text.into_owned()
    };
    let reason = shorten(&collapse_whitespace(&reason));
    if reason.is_empty() {
        resp.status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_owned()
    } else {
        reason
    }
}

/// Whether an error body names the `DAV:valid-sync-token` precondition (RFC 6578 §3.2).
pub(crate) fn mentions_valid_sync_token(resp: &DavResponse) -> bool {
    resp.text().contains("valid-sync-token")
}

fn strip_tags(html: &str) -> String {
    // ASCII lower-casing keeps byte offsets, so `lower` indexes like `html`.
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        let start = i + offset;
        out.push_str(&html[i..start]);
        out.push(' ');
        let mut end = html[start..]
            .find('>')
            .map_or(html.len(), |p| start + p + 1);
        // Whole <head>, <script> and <style> elements hold no message.
        for name in ["head", "script", "style"] {
            let after = lower.as_bytes().get(start + 1 + name.len());
            if lower[start + 1..].starts_with(name)
                && matches!(after, Some(b'>' | b' ' | b'\t' | b'\n'))
            {
                if let Some(p) = lower[start..].find(&format!("</{name}>")) {
                    end = start + p + name.len() + 3;
                }
                break;
            }
        }
        i = end;
    }
    out.push_str(&html[i..]);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_REASON {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_REASON).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

    fn resp(status: u16, media: &'static str, body: &str) -> DavResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(media));
        DavResponse {
            status: StatusCode::from_u16(status).unwrap(),
            url: url::Url::parse("http://h/c/x.ics").unwrap(),
            headers,
            body: body.as_bytes().to_vec(),
            after_lost_attempt: false,
        }
    }

    #[test]
    fn xml_error_names_the_precondition() {
        let r = resp(
            409,
            "application/xml",
            r#"<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:no-uid-conflict><D:href>/c/y.ics</D:href></C:no-uid-conflict></D:error>"#,
        );
        match status_error("PUT", "/c/x.ics", &r) {
            StoreError::Rejected { status, reason, .. } => {
                assert_eq!(status, 409);
                assert_eq!(reason, "no-uid-conflict");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn html_is_stripped_and_shortened() {
        let long = "x".repeat(1000);
        let r = resp(
            400,
            "text/html; charset=utf-8",
            &format!(
                "<html><head><title>T</title><style>p{{}}</style></head><body><h1>Bad &amp; wrong</h1><p>{long}</p></body></html>"
            ),
        );
        let reason = body_reason(&r);
        assert!(reason.starts_with("Bad & wrong x"), "{reason}");
        assert_eq!(reason.chars().count(), MAX_REASON + 1);
    }

    #[test]
    fn classes_of_statuses() {
        let r = |s| status_error("PUT", "/x", &resp(s, "text/plain", ""));
        assert!(matches!(r(412), StoreError::PreconditionFailed { .. }));
        assert!(matches!(r(404), StoreError::NotFound { .. }));
        assert!(matches!(r(410), StoreError::NotFound { .. }));
        assert!(matches!(r(401), StoreError::Unauthorized { .. }));
        assert!(matches!(r(503), StoreError::Server { .. }));
        assert!(matches!(r(429), StoreError::Server { .. }));
        match r(400) {
            StoreError::Rejected { reason, .. } => assert_eq!(reason, "Bad Request"),
            other => panic!("{other:?}"),
        }
    }
}
