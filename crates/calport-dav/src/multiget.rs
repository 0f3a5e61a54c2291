//! Fetching item bodies with calendar-multiget / addressbook-multiget REPORTs
//! (RFC 4791 §7.9, RFC 6352 §8.7), in batches.

use std::collections::HashMap;

use calport_core::{CollectionKind, Etag, FetchedItem, ItemRef, StoreError};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use url::Url;

use crate::client::{Client, DavRequest, methods};
use crate::errors::status_error;
use crate::href;
use crate::xml::{self, CALDAV, CARDDAV, DAV};

/// Most hrefs in one multiget: Radicale refuses answers holding more than 10 000
/// VEVENTs, and big answers are slow everywhere.
pub(crate) const BATCH: usize = 100;
/// Batches in flight at once (the client's semaphore bounds the total anyway).
const PARALLEL_BATCHES: usize = 2;

/// One fetched item, or why one href failed.
pub(crate) type Fetched = Result<FetchedItem, (ItemRef, StoreError)>;

/// Fetches `hrefs` in batches of at most [`BATCH`], keeping the given order.
///
/// # Errors
/// Failure of a whole request that cannot be narrowed down to single hrefs.
pub(crate) async fn fetch(
    client: &Client,
    url: &Url,
    kind: CollectionKind,
    hrefs: &[ItemRef],
) -> Result<Vec<Fetched>, StoreError> {
    // Futures built up front: a closure in `map` trips the borrow checker's
    // higher-ranked lifetime inference inside async-trait methods.
    let pending: Vec<_> = hrefs
        .chunks(BATCH)
        .map(|chunk| fetch_batch(client, url, kind, chunk))
        .collect();
    let batches: Vec<Vec<Fetched>> = futures::stream::iter(pending)
        .buffered(PARALLEL_BATCHES)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(batches.into_iter().flatten().collect())
}

/// One multiget. When the server refuses the whole batch with a 4xx, the batch is split
/// in halves until the culprit href is alone, so one bad item fails alone.
fn fetch_batch<'a>(
    client: &'a Client,
    url: &'a Url,
    kind: CollectionKind,
    hrefs: &'a [ItemRef],
) -> BoxFuture<'a, Result<Vec<Fetched>, StoreError>> {
    Box::pin(async move {
        let req = DavRequest::new(methods::report(), url.clone())
            .depth("1")
            .xml(xml::multiget(kind, hrefs.iter().map(ItemRef::as_str)));
        let resp = client.send(&req).await?;
        if !resp.is_multistatus() {
            // Radicale answers 400 when the batch holds too many VEVENTs; other servers
            // 413/507 when the answer is too big, or 400/422 when one item breaks them.
            let splittable = matches!(resp.code(), 400 | 413 | 422 | 507);
            if !splittable {
                return Err(status_error("REPORT", url.path(), &resp));
            }
            if let [only] = hrefs {
                return Ok(vec![Err((
                    only.clone(),
                    status_error("REPORT", only.as_str(), &resp),
                ))]);
            }
            tracing::debug!(
                collection = url.path(),
                size = hrefs.len(),
                status = resp.code(),
                "multiget refused; splitting the batch"
            );
            let (left, right) = hrefs.split_at(hrefs.len() / 2);
            let mut out = fetch_batch(client, url, kind, left).await?;
            out.extend(fetch_batch(client, url, kind, right).await?);
            return Ok(out);
        }
        let ms = resp.multistatus()?;
        let origin = client.origin();
        let data_prop = match kind {
            CollectionKind::Calendar => (CALDAV, "calendar-data"),
            CollectionKind::AddressBook => (CARDDAV, "address-data"),
        };
        // Answers by href key; the caller's spelling of each href is kept.
        let mut answers: HashMap<String, Option<Fetched>> = HashMap::new();
        for r in &ms.responses {
            for raw in &r.hrefs {
                let Some(member) = href::resolve(&resp.url, raw) else {
                    continue;
                };
                let key = href::url_key(&member, origin);
                let requested = ItemRef::new(href::to_ref(&member, origin));
                let status = r.effective_status();
                let data = r.prop_raw(data_prop.0, data_prop.1);
                let answer = match (status, data) {
                    (404 | 410, _) => None,
                    (200..=299, Some(body)) => Some(Ok(FetchedItem {
                        href: requested,
                        etag: Etag::new(r.prop_text(DAV, "getetag").unwrap_or_default()),
                        body: body.as_bytes().to_vec(),
                    })),
                    (200..=299, None) => {
                        let status = r.absent_status(data_prop.0, data_prop.1).unwrap_or(200);
                        if matches!(status, 404 | 410) {
                            None
                        } else {
                            Some(Err((
                                requested.clone(),
                                StoreError::Protocol {
                                    url: member.to_string(),
                                    reason: format!(
                                        "multiget returned no {} (status {status})",
                                        data_prop.1
                                    ),
                                },
                            )))
                        }
                    }
                    (status, _) => Some(Err((
                        requested.clone(),
                        member_error(status, &requested, r.errors.join(", ")),
                    ))),
                };
                answers.insert(key, answer);
            }
        }
        let mut out = Vec::with_capacity(hrefs.len());
        for wanted in hrefs {
            let key = match href::resolve(url, wanted.as_str()) {
                Some(u) => href::url_key(&u, origin),
                None => href::key(wanted.as_str()),
            };
            match answers.remove(&key) {
                Some(Some(Ok(mut item))) => {
                    item.href = wanted.clone();
                    out.push(Ok(item));
                }
                Some(Some(Err((_, err)))) => out.push(Err((wanted.clone(), err))),
                Some(None) => {}
                None => out.push(Err((
                    wanted.clone(),
                    StoreError::Protocol {
                        url: url.to_string(),
                        reason: format!("multiget answer did not mention {wanted}"),
                    },
                ))),
            }
        }
        Ok(out)
    })
}

/// The error for one member that came back with a non-2xx status.
fn member_error(status: u16, href: &ItemRef, errors: String) -> StoreError {
    match status {
        412 => StoreError::PreconditionFailed {
            href: href.to_string(),
        },
        500..=599 => StoreError::Server {
            method: "REPORT".to_owned(),
            href: href.to_string(),
            reason: format!("status {status} in multiget"),
        },
        _ => StoreError::Rejected {
            method: "REPORT".to_owned(),
            href: href.to_string(),
            status,
            reason: if errors.is_empty() {
                "refused in multiget".to_owned()
            } else {
                errors
            },
        },
    }
}
