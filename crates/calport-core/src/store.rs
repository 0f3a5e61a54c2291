//! The [`Store`] trait: what the sync engine needs from any system.

use async_trait::async_trait;

use crate::{CollectionInfo, CollectionKind, Etag, ItemRef, ItemVersion, StoreError};

/// A collection to create on a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCollection {
    /// Calendar or address book.
    pub kind: CollectionKind,
    /// Last path segment to use (the store may pick another if taken).
    pub segment: String,
    /// Display name to set.
    pub display_name: Option<String>,
    /// Colour to set.
    pub color: Option<String>,
    /// Description to set.
    pub description: Option<String>,
    /// Component set for calendars (`VEVENT`, `VTODO`, …); empty = server default.
    pub components: Vec<String>,
}

/// Members that changed in a collection, from a listing or an incremental report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Members that are new or changed (or, when `complete`, every member).
    pub changed: Vec<ItemVersion>,
    /// Members removed since the token (always empty when `complete`).
    pub deleted: Vec<ItemRef>,
    /// The token to pass next time, when the store has incremental listings.
    pub token: Option<String>,
    /// True when `changed` lists every member (first sync, invalid token, or no
    /// incremental support): members missing from it are gone.
    pub complete: bool,
}

/// One fetched item body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedItem {
    /// Where it lives.
    pub href: ItemRef,
    /// Its etag at fetch time.
    pub etag: Etag,
    /// The raw bytes as stored.
    pub body: Vec<u8>,
}

/// What a successful write left on the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Where the item lives now (may differ from the requested name).
    pub href: ItemRef,
    /// The new etag, when the server reported one.
    pub etag: Option<Etag>,
}

/// What calport found out about the software behind a store.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    /// Short product name (`sogo`, `sabredav`, `davical`, `radicale`, `xandikos`, …) or
    /// `unknown`.
    pub product: String,
    /// Version, when the server tells.
    pub version: Option<String>,
    /// Known quirks of this server that calport works around or that put data at risk,
    /// in words.
    pub quirks: Vec<String>,
}

/// A change a store made to an item's bytes before writing it, to work around a known
/// defect of the server; the meaning of the item is the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adaptation {
    /// The bytes to write instead.
    pub body: Vec<u8>,
    /// What was changed, for the user.
    pub change: String,
}

/// A system calport reads items from and writes items to.
///
/// Implementations must be safe to call concurrently; they bound their own concurrency
/// and retry transient failures themselves.
#[async_trait]
pub trait Store: Send + Sync {
    /// A short description for logs and messages (e.g. `https://dav.example.com/`).
    fn describe(&self) -> String;

    /// Finds every calendar and address book of the account.
    ///
    /// # Errors
    /// [`StoreError::Unauthorized`], [`StoreError::Unreachable`] or [`StoreError::NotDav`]
    /// when the account is unusable.
    async fn discover(&self) -> Result<Vec<CollectionInfo>, StoreError>;

    /// What the last successful [`Store::discover`] learnt, as an opaque string (JSON)
    /// the caller may persist and hand back with [`Store::restore_discovery_state`] so
    /// that a later discovery costs fewer requests; `None` when there is nothing to keep.
    fn discovery_state(&self) -> Option<String> {
        None
    }

    /// Hands back a state saved from [`Store::discovery_state`] before
    /// [`Store::discover`]; returns whether it was understood (when not, discovery runs
    /// in full as without it). A stale state is detected by `discover` itself.
    fn restore_discovery_state(&self, _state: &str) -> bool {
        false
    }

    /// Creates a collection and returns it as discovery would.
    ///
    /// # Errors
    /// [`StoreError::Rejected`] when the server refuses, [`StoreError::Unsupported`] when
    /// the store cannot create collections.
    async fn create_collection(
        &self,
        home_hint: Option<&ItemRef>,
        spec: &NewCollection,
    ) -> Result<CollectionInfo, StoreError>;

    /// Lists members changed since `token`, or every member when `token` is `None` or
    /// no longer valid (then [`Changes::complete`] is true).
    ///
    /// # Errors
    /// Any transport or protocol failure.
    async fn changes(
        &self,
        collection: &CollectionInfo,
        token: Option<&str>,
    ) -> Result<Changes, StoreError>;

    /// Fetches the bodies of the given members. Members that disappeared are left out;
    /// per-member failures come back as errors in the list.
    ///
    /// # Errors
    /// Failure of the whole request.
    async fn fetch(
        &self,
        collection: &CollectionInfo,
        hrefs: &[ItemRef],
    ) -> Result<Vec<Result<FetchedItem, (ItemRef, StoreError)>>, StoreError>;

    /// Creates a new member named `name` inside `collection`, failing with
    /// [`StoreError::PreconditionFailed`] when something already lives there.
    ///
    /// # Errors
    /// As above, or the server's refusal.
    async fn create(
        &self,
        collection: &CollectionInfo,
        name: &str,
        body: &[u8],
    ) -> Result<WriteOutcome, StoreError>;

    /// Replaces the member at `href`, only if its etag is still `expected`.
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] when the etag changed meanwhile.
    async fn update(
        &self,
        collection: &CollectionInfo,
        href: &ItemRef,
        expected: &Etag,
        body: &[u8],
    ) -> Result<WriteOutcome, StoreError>;

    /// What calport knows of the server (after [`Store::discover`]).
    fn server_info(&self) -> Option<ServerInfo> {
        None
    }

    /// Rewrites an item that this server is known to store wrongly, when a change that
    /// keeps its meaning avoids the defect; `Ok(None)` when the bytes can be written as
    /// they are.
    ///
    /// # Errors
    /// The reason, in words, when the server would damage the item and no safe change
    /// exists: the item must not be written.
    fn adapt_for_write(
        &self,
        _collection: &CollectionInfo,
        _body: &[u8],
    ) -> Result<Option<Adaptation>, String> {
        Ok(None)
    }

    /// Deletes the member at `href`, only if its etag is still `expected`. A member that
    /// is already gone counts as deleted.
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] when the etag changed meanwhile.
    async fn delete(
        &self,
        collection: &CollectionInfo,
        href: &ItemRef,
        expected: &Etag,
    ) -> Result<(), StoreError>;
}
