//! Finding the account's calendars and address books (RFC 6764 §6, RFC 4791 §6.2,
//! RFC 6352 §7.1, RFC 5397): configured URL → principal → home sets → collections.

use calport_core::{CollectionInfo, CollectionKind, StoreError};
use reqwest::Method;
use url::Url;

use crate::client::{Client, DavRequest, DavResponse, methods};
use crate::errors::status_error;
use crate::href;
use crate::xml::{self, APPLE, CALDAV, CALSERVER, CARDDAV, DAV, MsResponse};

/// What discovery found.
#[derive(Debug, Default)]
pub(crate) struct Discovered {
    pub collections: Vec<CollectionInfo>,
    pub calendar_homes: Vec<Url>,
    pub addressbook_homes: Vec<Url>,
    /// Compliance classes from the `DAV:` header of OPTIONS.
    pub dav: Vec<String>,
}

/// What a Depth 0 PROPFIND for the principal properties told us about one URL.
#[derive(Debug)]
struct Probe {
    /// The URL that answered (after redirects).
    url: Url,
    principal: Option<Url>,
    calendar_homes: Vec<Url>,
    addressbook_homes: Vec<Url>,
    /// Set when the URL is itself a calendar or address book.
    kind: Option<CollectionKind>,
}

/// Runs discovery from the configured URL.
///
/// Requests: OPTIONS, PROPFIND on the URL, (PROPFIND on `/.well-known/caldav` and
/// `/.well-known/carddav` only when the URL shows no principal), PROPFIND on the principal
/// (skipped when the URL is the principal), one Depth 1 PROPFIND per distinct home set.
///
/// # Errors
/// `Unauthorized` on 401/403, `Unreachable` on transport failures, `NotDav` when no DAV
/// principal, home set or collection can be found, `Protocol` on unparsable answers.
pub(crate) async fn discover(client: &Client) -> Result<Discovered, StoreError> {
    let start = client.origin().clone();
    let mut notes: Vec<String> = Vec::new();
    let dav = options(client, &start).await?;
    if dav.is_empty() {
        notes.push("OPTIONS shows no DAV header".to_owned());
    }

    let first = probe(client, &start, &mut notes).await?;
    let mut principal = first.as_ref().and_then(|p| p.principal.clone());
    if principal.is_none() {
        for service in ["caldav", "carddav"] {
            let Ok(well_known) = start.join(&format!("/.well-known/{service}")) else {
                continue;
            };
            if let Some(found) = probe(client, &well_known, &mut notes).await?
                && found.principal.is_some()
            {
                principal = found.principal;
                break;
            }
        }
    }
    let principal = match (principal, &first) {
        (Some(p), _) => p,
        // Some servers omit current-user-principal: the URL that answered stands in.
        (None, Some(p)) => p.url.clone(),
        (None, None) => {
            return Err(StoreError::NotDav {
                url: start.to_string(),
                reason: notes.join("; "),
            });
        }
    };

    let (calendar_homes, addressbook_homes) = match &first {
        Some(p)
            if href::url_key(&p.url, &start) == href::url_key(&principal, &start)
                && !(p.calendar_homes.is_empty() && p.addressbook_homes.is_empty()) =>
        {
            (p.calendar_homes.clone(), p.addressbook_homes.clone())
        }
        _ => match probe(client, &principal, &mut notes).await? {
            Some(p) => (p.calendar_homes, p.addressbook_homes),
            None => (Vec::new(), Vec::new()),
        },
    };

    if calendar_homes.is_empty() && addressbook_homes.is_empty() {
        if let Some(p) = &first
            && p.kind.is_some()
        {
            let info = propfind_collection(client, &p.url).await?;
            return Ok(Discovered {
                collections: vec![info],
                dav,
                ..Discovered::default()
            });
        }
        notes.push(format!(
            "no calendar-home-set or addressbook-home-set at {}",
            principal.path()
        ));
        return Err(StoreError::NotDav {
            url: start.to_string(),
            reason: notes.join("; "),
        });
    }

    let collections = list_homes(client, &calendar_homes, &addressbook_homes, false).await?;
    Ok(Discovered {
        collections,
        calendar_homes,
        addressbook_homes,
        dav,
    })
}

/// Why the home sets of a saved discovery state could not be listed.
#[derive(Debug)]
pub(crate) enum Relisting {
    /// The saved home sets no longer hold (gone, refused with 403, not answered as DAV,
    /// unreachable): the full discovery has to run. The reason, in words.
    Stale(String),
    /// The credentials were refused (401): a full discovery would fail the same way.
    Unauthorized(StoreError),
}

/// Lists the home sets a saved discovery state named: one Depth 1 PROPFIND per distinct
/// home set and nothing else. `dav` is the saved compliance classes, passed through.
///
/// # Errors
/// [`Relisting::Unauthorized`] on 401, [`Relisting::Stale`] on any other failure,
/// including a home set that is gone (404) or forbidden (403).
pub(crate) async fn relist(
    client: &Client,
    calendar_homes: Vec<Url>,
    addressbook_homes: Vec<Url>,
    dav: Vec<String>,
) -> Result<Discovered, Relisting> {
    match list_homes(client, &calendar_homes, &addressbook_homes, true).await {
        Ok(collections) => Ok(Discovered {
            collections,
            calendar_homes,
            addressbook_homes,
            dav,
        }),
        Err(e @ StoreError::Unauthorized { status: 401, .. }) => Err(Relisting::Unauthorized(e)),
        Err(e) => Err(Relisting::Stale(e.to_string())),
    }
}

/// Lists every distinct home set once and gathers each collection once. A home set that
/// is gone (404) is skipped with a warning, or is an error (`NotFound`) when `strict`.
async fn list_homes(
    client: &Client,
    calendar_homes: &[Url],
    addressbook_homes: &[Url],
    strict: bool,
) -> Result<Vec<CollectionInfo>, StoreError> {
    let start = client.origin();
    let mut collections: Vec<CollectionInfo> = Vec::new();
    let mut seen_homes: Vec<String> = Vec::new();
    for home in calendar_homes.iter().chain(addressbook_homes) {
        let key = href::url_key(home, start);
        if seen_homes.contains(&key) {
            continue;
        }
        seen_homes.push(key);
        let found = match list_home(client, home).await? {
            Some(found) => found,
            None if strict => {
                return Err(StoreError::NotFound {
                    href: home.path().to_owned(),
                });
            }
            None => {
                tracing::warn!(home = home.path(), "home set not found; skipped");
                Vec::new()
            }
        };
        for info in found {
            let key = href::key(info.href.as_str());
            if !collections
                .iter()
                .any(|c| href::key(c.href.as_str()) == key)
            {
                collections.push(info);
            }
        }
    }
    Ok(collections)
}

/// OPTIONS: the compliance classes of the `DAV:` header (empty when missing).
async fn options(client: &Client, url: &Url) -> Result<Vec<String>, StoreError> {
    let resp = client
        .send(&DavRequest::new(Method::OPTIONS, url.clone()))
        .await?;
    if resp.code() == 401 {
        return Err(unauthorized(&resp));
    }
    if server_trouble(&resp) {
        return Err(status_error("OPTIONS", url.path(), &resp));
    }
    Ok(resp
        .headers
        .get_all("dav")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect())
}

/// 429 or 5xx that survived the retries: the server is there but in trouble, which is
/// no reason to call it "not DAV" (SOGo answers 5xx under load).
fn server_trouble(resp: &DavResponse) -> bool {
    resp.code() == 429 || (resp.status.is_server_error() && resp.code() != 501)
}

fn unauthorized(resp: &DavResponse) -> StoreError {
    StoreError::Unauthorized {
        url: resp.url.to_string(),
        status: resp.code(),
    }
}

/// Depth 0 PROPFIND for the principal properties. `None` (with a note) when the URL does
/// not answer as DAV.
async fn probe(
    client: &Client,
    url: &Url,
    notes: &mut Vec<String>,
) -> Result<Option<Probe>, StoreError> {
    let req = DavRequest::new(methods::propfind(), url.clone())
        .depth("0")
        .xml(xml::propfind_principal());
    let resp = client.send(&req).await?;
    if matches!(resp.code(), 401 | 403) {
        return Err(unauthorized(&resp));
    }
    if server_trouble(&resp) {
        return Err(status_error("PROPFIND", url.path(), &resp));
    }
    if !resp.is_multistatus() {
        let media = resp.media_type();
        notes.push(format!(
            "PROPFIND {} answered {}{}",
            url.path(),
            resp.status,
            if media.is_empty() {
                String::new()
            } else {
                format!(" ({media})")
            }
        ));
        return Ok(None);
    }
    let ms = match resp.multistatus() {
        Ok(ms) => ms,
        Err(e) if resp.code() == 207 => return Err(e),
        Err(_) => {
            notes.push(format!(
                "PROPFIND {} answered 200 without a multistatus",
                url.path()
            ));
            return Ok(None);
        }
    };
    let origin = client.origin();
    let wanted = href::url_key(&resp.url, origin);
    let Some(r) = ms
        .responses
        .iter()
        .find(|r| {
            r.hrefs.iter().any(|h| {
                href::resolve(&resp.url, h).is_some_and(|u| href::url_key(&u, origin) == wanted)
            })
        })
        .or(ms.responses.first())
    else {
        notes.push(format!(
            "PROPFIND {} answered an empty multistatus",
            url.path()
        ));
        return Ok(None);
    };
    let hrefs_of = |ns: &str, name: &str| -> Vec<Url> {
        r.prop(ns, name)
            .map(|p| {
                p.hrefs()
                    .iter()
                    .filter_map(|h| href::resolve(&resp.url, h))
                    .map(href::as_collection)
                    .collect()
            })
            .unwrap_or_default()
    };
    let principal = hrefs_of(DAV, "current-user-principal").into_iter().next();
    Ok(Some(Probe {
        url: resp.url.clone(),
        principal,
        calendar_homes: hrefs_of(CALDAV, "calendar-home-set"),
        addressbook_homes: hrefs_of(CARDDAV, "addressbook-home-set"),
        kind: r.prop(DAV, "resourcetype").and_then(|rt| {
            if rt.has_child(CALDAV, "calendar") {
                Some(CollectionKind::Calendar)
            } else if rt.has_child(CARDDAV, "addressbook") {
                Some(CollectionKind::AddressBook)
            } else {
                None
            }
        }),
    }))
}

/// Depth 1 PROPFIND on a home set: its calendars and address books, `None` when the home
/// set is not found (404, or a multistatus whose response for the home set itself
/// carries an error status, as Xandikos answers for a missing path).
async fn list_home(client: &Client, home: &Url) -> Result<Option<Vec<CollectionInfo>>, StoreError> {
    let req = DavRequest::new(methods::propfind(), home.clone())
        .depth("1")
        .xml(xml::propfind_collection());
    let resp = client.send(&req).await?;
    match resp.code() {
        401 | 403 => return Err(unauthorized(&resp)),
        404 => return Ok(None),
        _ if !resp.is_multistatus() => return Err(status_error("PROPFIND", home.path(), &resp)),
        _ => {}
    }
    let ms = resp.multistatus()?;
    let origin = client.origin();
    let wanted = href::url_key(&resp.url, origin);
    let home_status = ms
        .responses
        .iter()
        .find(|r| {
            r.hrefs.iter().any(|h| {
                href::resolve(&resp.url, h).is_some_and(|u| href::url_key(&u, origin) == wanted)
            })
        })
        .map(MsResponse::effective_status);
    if home_status.is_some_and(|status| !(200..300).contains(&status)) {
        return Ok(None);
    }
    Ok(Some(
        ms.responses
            .iter()
            .filter_map(|r| {
                let url = href::resolve(&resp.url, r.hrefs.first()?)?;
                collection_info(r, href::to_ref(&href::as_collection(url), origin))
            })
            .collect(),
    ))
}

/// Depth 0 PROPFIND on one collection.
///
/// # Errors
/// `NotFound`, the server's refusal, or `Protocol` when it is no calendar or address book.
pub(crate) async fn propfind_collection(
    client: &Client,
    url: &Url,
) -> Result<CollectionInfo, StoreError> {
    let req = DavRequest::new(methods::propfind(), url.clone())
        .depth("0")
        .xml(xml::propfind_collection());
    let resp = client.send(&req).await?;
    if !resp.is_multistatus() {
        return Err(status_error("PROPFIND", url.path(), &resp));
    }
    let ms = resp.multistatus()?;
    let origin = client.origin();
    let href = href::to_ref(&href::as_collection(resp.url.clone()), origin);
    ms.responses
        .first()
        .and_then(|r| collection_info(r, href))
        .ok_or_else(|| StoreError::Protocol {
            url: url.to_string(),
            reason: "not a calendar or address book".to_owned(),
        })
}

/// Builds a [`CollectionInfo`] from a PROPFIND response, or `None` for anything that is
/// not a calendar or address book we sync: plain collections (the home itself),
/// non-collections (SOGo's `personal.ics` exports), scheduling inbox/outbox,
/// subscriptions, collections shared with us and notification collections.
pub(crate) fn collection_info(r: &MsResponse, href: String) -> Option<CollectionInfo> {
    let rt = r.prop(DAV, "resourcetype")?;
    if ["subscribed", "shared", "notification"]
        .iter()
        .any(|name| rt.has_child(CALSERVER, name))
    {
        return None;
    }
    // SOGo's default calendar also carries schedule-outbox: `calendar` decides.
    let kind = if rt.has_child(CALDAV, "calendar") {
        CollectionKind::Calendar
    } else if rt.has_child(CARDDAV, "addressbook") {
        CollectionKind::AddressBook
    } else {
        return None;
    };
    let components = r
        .prop(CALDAV, "supported-calendar-component-set")
        .map(|set| {
            set.children
                .iter()
                .filter(|c| c.is(CALDAV, "comp"))
                .filter_map(|c| c.attr("name"))
                .map(str::to_ascii_uppercase)
                .collect()
        })
        .unwrap_or_default();
    let sync_token = r.prop_text(DAV, "sync-token");
    let supports_sync = match r.prop(DAV, "supported-report-set") {
        Some(set) => set.contains(DAV, "sync-collection"),
        // No report set at all: trust a token; the REPORT falls back if refused.
        None => sync_token.is_some(),
    };
    let read_only = r
        .prop(DAV, "current-user-privilege-set")
        .is_some_and(|set| {
            !["all", "write", "write-content", "bind"]
                .iter()
                .any(|p| set.contains(DAV, p))
        });
    Some(CollectionInfo {
        href: href.into(),
        kind,
        display_name: r.prop_text(DAV, "displayname"),
        color: r.prop_text(APPLE, "calendar-color"),
        description: r
            .prop_text(CALDAV, "calendar-description")
            .or_else(|| r.prop_text(CARDDAV, "addressbook-description")),
        components,
        ctag: r.prop_text(CALSERVER, "getctag"),
        sync_token,
        supports_sync,
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infos(body: &str) -> Vec<Option<CollectionInfo>> {
        xml::parse_multistatus(body)
            .unwrap()
            .responses
            .iter()
            .map(|r| collection_info(r, r.hrefs[0].clone()))
            .collect()
    }

    #[test]
    fn classifies_home_members() {
        let body = r#"<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"
            xmlns:R="urn:ietf:params:xml:ns:carddav" xmlns:S="http://calendarserver.org/ns/"
            xmlns:I="http://apple.com/ns/ical/">
          <D:response><D:href>/h/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
          <D:response><D:href>/h/work/</D:href><D:propstat><D:prop>
            <D:resourcetype><D:collection/><C:calendar/><C:schedule-outbox/></D:resourcetype>
            <D:displayname>Work</D:displayname><I:calendar-color>#00FF00</I:calendar-color>
            <C:calendar-description>Jobs</C:calendar-description>
            <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="vtodo"/></C:supported-calendar-component-set>
            <S:getctag>"c1"</S:getctag><D:sync-token>tok</D:sync-token>
            <D:supported-report-set><D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report></D:supported-report-set>
            <D:current-user-privilege-set><D:privilege><D:read/></D:privilege></D:current-user-privilege-set>
          </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
          <D:response><D:href>/h/work.ics</D:href><D:propstat><D:prop><D:resourcetype/></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
          <D:response><D:href>/h/inbox/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/><C:schedule-inbox/></D:resourcetype></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
          <D:response><D:href>/h/holidays/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/><S:subscribed/></D:resourcetype></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
          <D:response><D:href>/h/book/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/><R:addressbook/></D:resourcetype>
            <R:addressbook-description>People</R:addressbook-description>
            <D:current-user-privilege-set><D:privilege><D:all/></D:privilege></D:current-user-privilege-set></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat>
            <D:propstat><D:prop><D:displayname/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>
        </D:multistatus>"#;
        let found = infos(body);
        assert!(
            found[0].is_none() && found[2].is_none() && found[3].is_none() && found[4].is_none()
        );
        let work = found[1].as_ref().unwrap();
        assert_eq!(work.kind, CollectionKind::Calendar);
        assert_eq!(work.display_name.as_deref(), Some("Work"));
        assert_eq!(work.color.as_deref(), Some("#00FF00"));
        assert_eq!(work.description.as_deref(), Some("Jobs"));
        assert_eq!(work.components, vec!["VEVENT", "VTODO"]);
        assert_eq!(work.ctag.as_deref(), Some("\"c1\""));
        assert_eq!(work.sync_token.as_deref(), Some("tok"));
        assert!(work.supports_sync);
        assert!(work.read_only);
        let book = found[5].as_ref().unwrap();
        assert_eq!(book.kind, CollectionKind::AddressBook);
        assert_eq!(book.display_name, None);
        assert_eq!(book.description.as_deref(), Some("People"));
        assert!(!book.supports_sync && !book.read_only);
    }
}
