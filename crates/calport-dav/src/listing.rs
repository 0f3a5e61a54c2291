//! Listing member versions: RFC 6578 sync-collection when offered, else a Depth 1
//! PROPFIND of `getetag` (PROTOCOLS 1.4 / 1.7).

use std::collections::HashMap;

use calport_core::{
    Changes, CollectionInfo, CollectionKind, Etag, ItemRef, ItemVersion, StoreError,
};
use url::Url;

use crate::client::{Client, DavRequest, DavResponse, methods};
use crate::errors::{mentions_valid_sync_token, status_error};
use crate::href;
use crate::xml::{self, DAV, Multistatus};

/// Most REPORT rounds for one truncated (507) sync.
const MAX_SYNC_ROUNDS: usize = 1000;

/// Lists members changed since `token` (or all of them).
///
/// # Errors
/// Transport failures, refusals other than "sync not supported", unparsable answers.
pub(crate) async fn changes(
    client: &Client,
    collection: &CollectionInfo,
    url: &Url,
    token: Option<&str>,
) -> Result<Changes, StoreError> {
    if collection.supports_sync {
        if let Some(changes) = sync_collection(client, url, token).await? {
            return Ok(changes);
        }
        tracing::debug!(
            collection = url.path(),
            "sync-collection refused; listing with PROPFIND"
        );
    }
    propfind_listing(client, url, collection.kind).await
}

/// The latest known state of one member while merging sync rounds.
enum Seen {
    Changed(Etag),
    Deleted,
}

/// sync-collection REPORT rounds. `Ok(None)` when the server does not support it.
async fn sync_collection(
    client: &Client,
    url: &Url,
    token: Option<&str>,
) -> Result<Option<Changes>, StoreError> {
    let origin = client.origin();
    let self_key = href::url_key(url, origin);
    let mut token: Option<String> = token.map(str::to_owned);
    let mut complete = token.is_none();
    let mut order: Vec<ItemRef> = Vec::new();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        if rounds > MAX_SYNC_ROUNDS {
            return Err(StoreError::Protocol {
                url: url.to_string(),
                reason: format!("sync-collection still truncated after {MAX_SYNC_ROUNDS} rounds"),
            });
        }
        let req = DavRequest::new(methods::report(), url.clone())
            .depth("0")
            .xml(xml::sync_collection(token.as_deref()));
        let resp = client.send(&req).await?;
        if !resp.is_multistatus() {
            if (400..500).contains(&resp.code())
                && token.is_some()
                && mentions_valid_sync_token(&resp)
            {
                tracing::info!(
                    collection = url.path(),
                    "sync token no longer valid; listing everything"
                );
                token = None;
                complete = true;
                order.clear();
                seen.clear();
                continue;
            }
            if unsupported(&resp) {
                return Ok(None);
            }
            return Err(status_error("REPORT", url.path(), &resp));
        }
        let ms = resp.multistatus()?;
        let truncated = merge_round(&ms, &resp, origin, &self_key, &mut order, &mut seen);
        let next = ms.sync_token.clone();
        if !truncated {
            token = next;
            break;
        }
        if next.is_none() || (next == token && ms.responses.len() <= 1) {
            return Err(StoreError::Protocol {
                url: url.to_string(),
                reason: "sync-collection truncated (507) without progress".to_owned(),
            });
        }
        token = next;
    }
    let mut changes = Changes {
        token,
        complete,
        ..Changes::default()
    };
    for href in order {
        match seen.remove(&href::key(href.as_str())) {
            Some(Seen::Changed(etag)) => changes.changed.push(ItemVersion { href, etag }),
            Some(Seen::Deleted) if !complete => changes.deleted.push(href),
            _ => {}
        }
    }
    Ok(Some(changes))
}

/// Folds one sync answer into the running state; returns whether it was truncated.
fn merge_round(
    ms: &Multistatus,
    resp: &DavResponse,
    origin: &Url,
    self_key: &str,
    order: &mut Vec<ItemRef>,
    seen: &mut HashMap<String, Seen>,
) -> bool {
    let mut truncated = false;
    for r in &ms.responses {
        let status = r.effective_status();
        for raw in &r.hrefs {
            let Some(member) = href::resolve(&resp.url, raw) else {
                continue;
            };
            let key = href::url_key(&member, origin);
            if key == self_key {
                truncated |= status == 507;
                continue;
            }
            let state = match (status, r.prop_text(DAV, "getetag")) {
                (404 | 410, _) => Seen::Deleted,
                (200..=299, Some(etag)) => Seen::Changed(Etag::new(etag)),
                (s, _) => {
                    tracing::debug!(
                        href = raw.as_str(),
                        status = s,
                        "sync member without etag skipped"
                    );
                    continue;
                }
            };
            if seen.insert(key, state).is_none() {
                order.push(ItemRef::new(href::to_ref(&member, origin)));
            }
        }
    }
    truncated
}

/// Statuses meaning "this server will not do sync-collection here" (listing instead is
/// always safe: it is complete).
fn unsupported(resp: &DavResponse) -> bool {
    matches!(resp.code(), 400 | 403 | 405 | 409 | 412 | 415 | 422 | 501)
}

/// Depth 1 PROPFIND listing: every member with an etag and a fitting content type.
async fn propfind_listing(
    client: &Client,
    url: &Url,
    kind: CollectionKind,
) -> Result<Changes, StoreError> {
    let req = DavRequest::new(methods::propfind(), url.clone())
        .depth("1")
        .xml(xml::propfind_members());
    let resp = client.send(&req).await?;
    if !resp.is_multistatus() {
        return Err(status_error("PROPFIND", url.path(), &resp));
    }
    let ms = resp.multistatus()?;
    let origin = client.origin();
    let self_key = href::url_key(url, origin);
    let mut changes = Changes {
        complete: true,
        ..Changes::default()
    };
    let mut keys: Vec<String> = Vec::new();
    for r in &ms.responses {
        if r.effective_status() != 200 {
            continue;
        }
        let is_collection = r
            .prop(DAV, "resourcetype")
            .is_some_and(|rt| rt.has_child(DAV, "collection"));
        let Some(etag) = r.prop_text(DAV, "getetag") else {
            continue;
        };
        if is_collection || !content_type_fits(kind, r.prop_text(DAV, "getcontenttype").as_deref())
        {
            continue;
        }
        for raw in &r.hrefs {
            let Some(member) = href::resolve(&resp.url, raw) else {
                continue;
            };
            let key = href::url_key(&member, origin);
            // Zimbra and DavMail list some members twice.
            if key == self_key || keys.contains(&key) {
                continue;
            }
            keys.push(key);
            changes.changed.push(ItemVersion {
                href: ItemRef::new(href::to_ref(&member, origin)),
                etag: Etag::new(etag.clone()),
            });
        }
    }
    Ok(changes)
}

/// Whether a member's content type suits the collection (no type given = yes).
fn content_type_fits(kind: CollectionKind, content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match kind {
        CollectionKind::Calendar => media.ends_with("/calendar") || media.ends_with("/x-calendar"),
        CollectionKind::AddressBook => {
            media.ends_with("/vcard") || media.ends_with("/x-vcard") || media == "text/directory"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn round(url: &Url, body: &str) -> (Multistatus, DavResponse) {
        let resp = DavResponse {
            status: StatusCode::MULTI_STATUS,
            url: url.clone(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            after_lost_attempt: false,
        };
        (xml::parse_multistatus(body).unwrap(), resp)
    }

    #[test]
    fn truncated_rounds_merge_in_order() {
        let url = Url::parse("http://h/cal/work/").unwrap();
        let self_key = href::url_key(&url, &url);
        let mut order = Vec::new();
        let mut seen = HashMap::new();
        // Round 1: two changes, truncated (507 on the collection itself, relative href).
        let (ms, resp) = round(
            &url,
            r#"<A:multistatus xmlns:A="DAV:">
              <A:response><A:href>/cal/work/a.ics</A:href><A:propstat><A:prop><A:getetag>"1"</A:getetag></A:prop>
                <A:status>HTTP/1.1 200 OK</A:status></A:propstat></A:response>
              <A:response><A:href>b%20c.ics</A:href><A:propstat><A:prop><A:getetag>"2"</A:getetag></A:prop>
                <A:status>HTTP/1.1 200 OK</A:status></A:propstat></A:response>
              <A:response><A:href>http://h/cal/work</A:href><A:status>HTTP/1.1 507 Insufficient Storage</A:status></A:response>
              <A:sync-token>t1</A:sync-token></A:multistatus>"#,
        );
        assert!(merge_round(
            &ms, &resp, &url, &self_key, &mut order, &mut seen
        ));
        // Round 2: a.ics deleted after all, d.ics new, not truncated.
        let (ms, resp) = round(
            &url,
            r#"<multistatus xmlns="DAV:">
              <response><href>/cal/work/a.ics</href><status>HTTP/1.1 404 Not Found</status></response>
              <response><href>/cal/work/d.ics</href><propstat><prop><getetag>"4"</getetag></prop>
                <status>HTTP/1.1 200 OK</status></propstat></response>
              <response><href>/cal/work/noetag.ics</href><propstat><prop><getetag/></prop>
                <status>HTTP/1.1 404 Not Found</status></propstat></response>
              <sync-token>t2</sync-token></multistatus>"#,
        );
        assert!(!merge_round(
            &ms, &resp, &url, &self_key, &mut order, &mut seen
        ));
        let refs: Vec<&str> = order.iter().map(ItemRef::as_str).collect();
        assert_eq!(
            refs,
            vec!["/cal/work/a.ics", "/cal/work/b%20c.ics", "/cal/work/d.ics"]
        );
        assert!(matches!(
            seen.get(&href::key("/cal/work/a.ics")),
            Some(Seen::Deleted)
        ));
        assert!(
            matches!(seen.get(&href::key("/cal/work/b c.ics")), Some(Seen::Changed(e)) if e.as_str() == "\"2\"")
        );
        assert!(!seen.contains_key(&href::key("/cal/work/noetag.ics")));
    }

    #[test]
    fn content_types() {
        use CollectionKind::*;
        assert!(content_type_fits(
            Calendar,
            Some("text/calendar; charset=utf-8; component=vevent")
        ));
        assert!(content_type_fits(Calendar, None));
        assert!(!content_type_fits(Calendar, Some("text/vcard")));
        assert!(content_type_fits(AddressBook, Some("text/x-vcard")));
        assert!(content_type_fits(
            AddressBook,
            Some("text/directory;profile=vCard")
        ));
        assert!(!content_type_fits(AddressBook, Some("text/calendar")));
    }
}
