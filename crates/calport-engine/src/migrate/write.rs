//! Carrying out planned writes on the destination.

use calport_core::{CollectionInfo, Etag, ItemRef, Store, StoreError};
use calport_state::SideState;

use super::items::parse_member;
use crate::plan::{Action, SourceItem, alternative_name};
use crate::report::Outcome;

/// How many alternative names to try when the derived one holds another UID.
const NAME_ATTEMPTS: u32 = 3;

/// Carries out one planned write. Returns the outcome and the destination side as it is
/// now (`None` for "unchanged, keep what the status had").
pub(super) async fn execute(
    store: &dyn Store,
    collection: &CollectionInfo,
    item: &SourceItem,
    body: &[u8],
    action: Action,
) -> Result<(Outcome, Option<SideState>), StoreError> {
    let landed = |href: ItemRef, etag: Option<Etag>| SideState {
        href,
        etag,
        hash: Some(item.hash.clone()),
    };
    match action {
        Action::Unchanged => Ok((Outcome::Unchanged, None)),
        Action::Update { href, etag } => {
            let etag = match etag {
                Some(etag) => etag,
                None => match current_etag(store, collection, &href).await? {
                    Some(etag) => etag,
                    None => return create(store, collection, item, body).await,
                },
            };
            match store.update(collection, &href, &etag, body).await {
                Ok(out) => Ok((Outcome::Updated, Some(landed(out.href, out.etag)))),
                Err(StoreError::NotFound { .. }) => create(store, collection, item, body).await,
                Err(StoreError::PreconditionFailed { .. }) => {
                    // Changed on the destination meanwhile; a migration's source wins.
                    let Some(fresh) = current_etag(store, collection, &href).await? else {
                        return create(store, collection, item, body).await;
                    };
                    let out = store.update(collection, &href, &fresh, body).await?;
                    Ok((Outcome::Updated, Some(landed(out.href, out.etag))))
                }
                Err(err) => Err(err),
            }
        }
        Action::Create { .. } => create(store, collection, item, body).await,
    }
}

async fn create(
    store: &dyn Store,
    collection: &CollectionInfo,
    item: &SourceItem,
    body: &[u8],
) -> Result<(Outcome, Option<SideState>), StoreError> {
    let landed = |href: ItemRef, etag: Option<Etag>| SideState {
        href,
        etag,
        hash: Some(item.hash.clone()),
    };
    for attempt in 1..=NAME_ATTEMPTS {
        let name = if attempt == 1 {
            crate::plan::resource_name(&item.uid, item.kind)
        } else {
            alternative_name(&item.uid, item.kind, attempt)
        };
        match store.create(collection, &name, body).await {
            Ok(out) => return Ok((Outcome::Created, Some(landed(out.href, out.etag)))),
            Err(StoreError::PreconditionFailed { href }) => {
                // Something lives there: our own copy from an interrupted run, or a
                // foreign item. Look before deciding.
                let target = ItemRef::new(format!("{}{}", collection.href, name));
                let existing = store
                    .fetch(collection, std::slice::from_ref(&target))
                    .await?;
                let Some(Ok(found)) = existing.into_iter().next() else {
                    return Err(StoreError::Rejected {
                        method: "PUT".into(),
                        href,
                        status: 412,
                        reason: "the destination refused the item; it probably holds an item with the same UID under another name".into(),
                    });
                };
                let Ok(parsed) = parse_member(&found.body, collection.kind, &item.href) else {
                    continue;
                };
                let same = parsed.items.iter().find(|m| m.uid == item.uid);
                match same {
                    Some(member) if member.hash == item.hash && parsed.items.len() == 1 => {
                        return Ok((
                            Outcome::Unchanged,
                            Some(landed(found.href, Some(found.etag))),
                        ));
                    }
                    Some(_) => {
                        let out = store
                            .update(collection, &found.href, &found.etag, body)
                            .await?;
                        return Ok((Outcome::Updated, Some(landed(out.href, out.etag))));
                    }
                    None => continue,
                }
            }
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Rejected {
        method: "PUT".into(),
        href: item.href.to_string(),
        status: 412,
        reason: "every resource name tried on the destination is taken by other items".into(),
    })
}

async fn current_etag(
    store: &dyn Store,
    collection: &CollectionInfo,
    href: &ItemRef,
) -> Result<Option<Etag>, StoreError> {
    let found = store.fetch(collection, std::slice::from_ref(href)).await?;
    Ok(found.into_iter().find_map(|r| r.ok()).map(|f| f.etag))
}
