//! Creating calendars (MKCALENDAR, RFC 4791 §5.3.1) and address books (extended MKCOL,
//! RFC 5689), picking another name when the wanted one is taken.

use calport_core::{CollectionInfo, CollectionKind, NewCollection, StoreError};
use url::Url;

use crate::client::{Client, DavRequest, DavResponse, methods};
use crate::discovery::propfind_collection;
use crate::errors::status_error;
use crate::href;
use crate::xml::{self, APPLE, CALDAV, CARDDAV, DAV};

/// Names tried: `segment`, `segment-2`, … `segment-20`.
const MAX_SUFFIX: u32 = 20;

enum Made {
    Created,
    Taken,
}

/// Creates the collection described by `spec` under `home` and returns it as discovery
/// would. Properties the server ignored on creation (SOGo drops the display name of
/// MKCOL) are set again with PROPPATCH.
///
/// # Errors
/// The server's refusal, or `Rejected` when every candidate name is taken.
pub(crate) async fn create_collection(
    client: &Client,
    home: &Url,
    spec: &NewCollection,
) -> Result<CollectionInfo, StoreError> {
    let base = safe_segment(&spec.segment);
    let base = base.as_str();
    if base.is_empty() || base == "." || base == ".." {
        return Err(StoreError::Rejected {
            method: "MKCOL".to_owned(),
            href: home.path().to_owned(),
            status: 0,
            reason: format!("{:?} is not a usable collection name", spec.segment),
        });
    }
    let home = href::as_collection(home.clone());
    for n in 1..=MAX_SUFFIX {
        let segment = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{n}")
        };
        let Ok(url) = home.join(&format!("{}/", href::encode_segment(&segment))) else {
            break;
        };
        match make(client, &url, spec).await? {
            Made::Created => return finish(client, &url, spec).await,
            Made::Taken => tracing::debug!(href = url.path(), "collection name taken"),
        }
    }
    Err(StoreError::Rejected {
        method: "MKCOL".to_owned(),
        href: home.path().to_owned(),
        status: 0,
        reason: format!("the names {base} to {base}-{MAX_SUFFIX} are all taken"),
    })
}

async fn make(client: &Client, url: &Url, spec: &NewCollection) -> Result<Made, StoreError> {
    if spec.kind == CollectionKind::Calendar {
        let req = DavRequest::new(methods::mkcalendar(), url.clone()).xml(xml::mkcalendar(spec));
        let resp = client.send(&req).await?;
        if let Some(made) = outcome(client, url, &resp).await? {
            return Ok(made);
        }
        // Old Baikal and some others only create calendars by extended MKCOL.
        if !matches!(resp.code(), 403 | 405 | 501) {
            return Err(status_error("MKCALENDAR", url.path(), &resp));
        }
        tracing::debug!(
            href = url.path(),
            status = resp.code(),
            "MKCALENDAR refused; trying MKCOL"
        );
    }
    let req = DavRequest::new(methods::mkcol(), url.clone()).xml(xml::mkcol(spec));
    let resp = client.send(&req).await?;
    match outcome(client, url, &resp).await? {
        Some(made) => Ok(made),
        None => Err(status_error("MKCOL", url.path(), &resp)),
    }
}

/// Created, taken, or `None` for a refusal.
async fn outcome(
    client: &Client,
    url: &Url,
    resp: &DavResponse,
) -> Result<Option<Made>, StoreError> {
    if resp.status.is_success() {
        return Ok(Some(Made::Created));
    }
    if taken(resp) || (matches!(resp.code(), 403 | 405 | 409) && exists(client, url).await?) {
        // After a lost attempt the collection in the way is most likely our own.
        return Ok(Some(if resp.after_lost_attempt {
            tracing::info!(
                href = url.path(),
                "collection exists after a lost attempt; taking it"
            );
            Made::Created
        } else {
            Made::Taken
        }));
    }
    Ok(None)
}

/// RFC 4918 §9.3.1: `resource-must-be-null` names an existing resource (Radicale 409,
/// Xandikos 403).
fn taken(resp: &DavResponse) -> bool {
    resp.text().contains("resource-must-be-null")
}

/// Whether something answers PROPFIND at `url`. Xandikos answers a 207 holding a 404
/// response for a missing resource, so the inner status decides.
async fn exists(client: &Client, url: &Url) -> Result<bool, StoreError> {
    let req = DavRequest::new(methods::propfind(), url.clone())
        .depth("0")
        .xml(xml::propfind_etag());
    let resp = client.send(&req).await?;
    if resp.code() == 401 {
        return Err(status_error("PROPFIND", url.path(), &resp));
    }
    if !resp.is_multistatus() {
        return Ok(false);
    }
    let ms = resp.multistatus()?;
    Ok(ms
        .responses
        .first()
        .is_some_and(|r| (200..300).contains(&r.effective_status())))
}

/// A collection name servers accept: characters that servers decode into path
/// separators (`/`, `%2F`) or refuse outright (Radicale 3.9 answers 400 to any of
/// `:'"*?,`) become `-`.
fn safe_segment(segment: &str) -> String {
    segment
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:'\"*?,<>|#%".contains(c) {
                '-'
            } else {
                c
            }
        })
        .collect()
}

/// Reads the new collection back and re-sets what the server ignored.
async fn finish(
    client: &Client,
    url: &Url,
    spec: &NewCollection,
) -> Result<CollectionInfo, StoreError> {
    let mut info = propfind_collection(client, url).await?;
    if info.kind != spec.kind {
        return Err(StoreError::Rejected {
            method: "MKCOL".to_owned(),
            href: url.path().to_owned(),
            status: 0,
            reason: format!("a {} already lives there", info.kind.as_str()),
        });
    }
    let missing = |wanted: &Option<String>, have: &Option<String>| match wanted {
        Some(w) if have.is_none() => Some(w.clone()),
        _ => None,
    };
    let patch = NewCollection {
        display_name: spec
            .display_name
            .clone()
            .filter(|want| info.display_name.as_ref() != Some(want)),
        color: missing(&spec.color, &info.color).filter(|_| spec.kind == CollectionKind::Calendar),
        description: missing(&spec.description, &info.description),
        components: Vec::new(),
        ..spec.clone()
    };
    if patch.display_name.is_none() && patch.color.is_none() && patch.description.is_none() {
        return Ok(info);
    }
    let req = DavRequest::new(methods::proppatch(), url.clone()).xml(xml::proppatch(&patch));
    let resp = client.send(&req).await?;
    if !resp.is_multistatus() {
        tracing::warn!(
            href = url.path(),
            status = resp.code(),
            "PROPPATCH of the new collection refused"
        );
        return Ok(info);
    }
    let ms = resp.multistatus()?;
    let Some(r) = ms.responses.first() else {
        return Ok(info);
    };
    let set = |ns: &str, name: &str| r.prop(ns, name).is_some();
    if patch.display_name.is_some() && set(DAV, "displayname") {
        info.display_name = patch.display_name;
    }
    if patch.color.is_some() && set(APPLE, "calendar-color") {
        info.color = patch.color;
    }
    let desc = match spec.kind {
        CollectionKind::Calendar => (CALDAV, "calendar-description"),
        CollectionKind::AddressBook => (CARDDAV, "addressbook-description"),
    };
    if patch.description.is_some() && set(desc.0, desc.1) {
        info.description = patch.description;
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::safe_segment;

    #[test]
    fn segments_lose_separators_and_refused_characters() {
        assert_eq!(safe_segment("/Ärger: mit/Slash/"), "Ärger- mit-Slash");
        assert_eq!(safe_segment("a?b*c,d'e\"f"), "a-b-c-d-e-f");
        assert_eq!(safe_segment("plain-name_1.x"), "plain-name_1.x");
    }
}
