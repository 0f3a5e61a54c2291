//! Writing members: PUT with `If-None-Match: *` (create) or `If-Match` (update), DELETE
//! with `If-Match` (RFC 9110 §13.1, RFC 4791 §5.3.2, PROTOCOLS 1.8).

use calport_core::{CollectionKind, Etag, ItemRef, StoreError, WriteOutcome};
use reqwest::Method;
use reqwest::header::{ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use url::Url;

use crate::client::{Client, DavRequest, methods};
use crate::errors::status_error;
use crate::href;
use crate::xml::{self, DAV};

fn content_type(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => "text/calendar; charset=utf-8",
        CollectionKind::AddressBook => "text/vcard; charset=utf-8",
    }
}

/// Creates `name` inside the collection at `collection`.
///
/// # Errors
/// `PreconditionFailed` when something lives there already (412), otherwise the
/// server's refusal or a transport failure.
pub(crate) async fn create(
    client: &Client,
    collection: &Url,
    kind: CollectionKind,
    name: &str,
    body: &[u8],
    look_first: bool,
) -> Result<WriteOutcome, StoreError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(StoreError::Rejected {
            method: "PUT".to_owned(),
            href: collection.path().to_owned(),
            status: 0,
            reason: format!("{name:?} is not a usable resource name"),
        });
    }
    let url = collection
        .join(&href::encode_segment(name))
        .map_err(|e| StoreError::Rejected {
            method: "PUT".to_owned(),
            href: collection.path().to_owned(),
            status: 0,
            reason: format!("cannot build a URL for {name:?}: {e}"),
        })?;
    if look_first && exists(client, &url).await? {
        // The server ignores If-None-Match (SOGo): find out ourselves. A create racing
        // with another client between the look and the PUT can still overwrite.
        return Err(StoreError::PreconditionFailed {
            href: href::to_ref(&url, client.origin()),
        });
    }
    let req = DavRequest::new(Method::PUT, url)
        .header(IF_NONE_MATCH, "*")
        .body(body.to_vec(), content_type(kind));
    put(client, req).await
}

/// Replaces the member at `url` if its etag is still `expected`.
///
/// # Errors
/// `PreconditionFailed` when the etag changed, otherwise the server's refusal.
pub(crate) async fn update(
    client: &Client,
    url: Url,
    kind: CollectionKind,
    expected: &Etag,
    body: &[u8],
) -> Result<WriteOutcome, StoreError> {
    let req = DavRequest::new(Method::PUT, url)
        .header(IF_MATCH, expected.as_str())
        .body(body.to_vec(), content_type(kind));
    put(client, req).await
}

async fn put(client: &Client, req: DavRequest) -> Result<WriteOutcome, StoreError> {
    let resp = client.send(&req).await?;
    let origin = client.origin();
    let href = href::to_ref(&req.url, origin);
    match resp.code() {
        200..=299 => {}
        _ => return Err(status_error("PUT", &href, &resp)),
    }
    if resp.code() != 201 && req_is_create(&req) {
        // SOGo ignores If-None-Match and overwrites (answering 204).
        tracing::warn!(
            href = href.as_str(),
            status = resp.code(),
            "create answered without 201 Created: the server may have replaced an existing item"
        );
    }
    let target = resp
        .header(LOCATION)
        .and_then(|l| req.url.join(l).ok())
        .unwrap_or_else(|| req.url.clone());
    let etag = match resp.header(ETAG) {
        Some(etag) if !etag.trim().is_empty() => Some(Etag::new(etag.trim())),
        // DAViCal sends none for vCards, sabre none when it repaired the data.
        _ => etag_of(client, &target).await,
    };
    Ok(WriteOutcome {
        href: ItemRef::new(href::to_ref(&target, origin)),
        etag,
    })
}

fn req_is_create(req: &DavRequest) -> bool {
    req.has_header(&IF_NONE_MATCH)
}

/// Deletes the member at `url` if its etag is still `expected`; gone already is fine.
///
/// # Errors
/// `PreconditionFailed` when the etag changed, otherwise the server's refusal.
pub(crate) async fn delete(client: &Client, url: Url, expected: &Etag) -> Result<(), StoreError> {
    let req = DavRequest::new(Method::DELETE, url).header(IF_MATCH, expected.as_str());
    let resp = client.send(&req).await?;
    match resp.code() {
        200..=299 | 404 | 410 => Ok(()),
        _ => Err(status_error(
            "DELETE",
            &href::to_ref(&req.url, client.origin()),
            &resp,
        )),
    }
}

/// The current etag of one resource by a Depth 0 PROPFIND; `None` when it cannot be had.
/// Whether something lives at `url` (PROPFIND Depth 0): for servers that ignore
/// `If-None-Match`. A failed look is an error, never "absent": writing blind could
/// overwrite.
async fn exists(client: &Client, url: &Url) -> Result<bool, StoreError> {
    let req = DavRequest::new(methods::propfind(), url.clone())
        .depth("0")
        .xml(xml::propfind_etag());
    let resp = client.send(&req).await?;
    match resp.code() {
        404 | 410 => Ok(false),
        207 => Ok(resp
            .multistatus()?
            .responses
            .iter()
            .any(|r| r.prop_text(DAV, "getetag").is_some())),
        200..=299 => Ok(true),
        _ => Err(status_error("PROPFIND", url.path(), &resp)),
    }
}

pub(crate) async fn etag_of(client: &Client, url: &Url) -> Option<Etag> {
    let req = DavRequest::new(methods::propfind(), url.clone())
        .depth("0")
        .xml(xml::propfind_etag());
    let resp = match client.send(&req).await {
        Ok(resp) if resp.is_multistatus() => resp,
        Ok(resp) => {
            tracing::debug!(
                href = url.path(),
                status = resp.code(),
                "cannot read the etag"
            );
            return None;
        }
        Err(e) => {
            tracing::debug!(href = url.path(), error = %e, "cannot read the etag");
            return None;
        }
    };
    let ms = resp.multistatus().ok()?;
    ms.responses
        .iter()
        .find_map(|r| r.prop_text(DAV, "getetag"))
        .map(Etag::new)
}
