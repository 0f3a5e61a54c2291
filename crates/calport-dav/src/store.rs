//! [`DavStore`]: the [`Store`] implementation for CalDAV/CardDAV servers.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use calport_core::{
    Adaptation, Changes, CollectionInfo, CollectionKind, Etag, FetchedItem, ItemRef, NewCollection,
    ServerInfo, Store, StoreError, WriteOutcome,
};

use url::Url;

use crate::cache::DiscoveryState;
use crate::client::Client;
use crate::config::DavConfig;
use crate::discovery::{self, Relisting};
use crate::profile::{Fingerprint, Profile};
use crate::stats::RequestStats;
use crate::{href, listing, mkcol, multiget, write};

/// What discovery left for later calls.
#[derive(Debug, Default)]
struct Known {
    calendar_homes: Vec<Url>,
    addressbook_homes: Vec<Url>,
    dav: Vec<String>,
    discovered: bool,
    profile: Option<Profile>,
    /// Set once a saved discovery state was restored: `discover` lists the known home
    /// sets instead of discovering in full.
    cached: bool,
    /// The fingerprint of the restored state, filling in what the answers since do not
    /// show (no OPTIONS is sent); dropped when the full discovery replaces the state.
    restored: Option<Fingerprint>,
}

/// A CalDAV/CardDAV account as a [`Store`].
///
/// Share it behind an `Arc`; every method may be called concurrently. Requests in flight
/// are bounded by [`DavConfig::concurrency`].
///
/// Requests per operation (without retries, redirects or a first Digest challenge):
/// - `discover`: OPTIONS + PROPFIND of the URL + PROPFIND of the principal (skipped when
///   the URL is the principal) + one Depth 1 PROPFIND per distinct home set; the two
///   `/.well-known/` PROPFINDs only when the URL names no principal. Radicale 4,
///   Xandikos 5.
/// - `discover` after [`Store::restore_discovery_state`]: one Depth 1 PROPFIND per
///   distinct saved home set (Radicale 1, Xandikos 2); when one of them fails (gone,
///   403, not DAV, unreachable) the full discovery above follows once and replaces the
///   state. A 401 is reported as it is, without the full discovery.
/// - `changes`: one REPORT (one more per 507 truncation round, one more after an invalid
///   token), or one PROPFIND without sync support.
/// - `fetch`: one REPORT per 100 hrefs.
/// - `create` / `update`: one PUT, plus a PROPFIND when the answer has no `ETag`.
/// - `delete`: one DELETE.
/// - `create_collection`: MKCALENDAR or MKCOL + PROPFIND (+ MKCOL after a refused
///   MKCALENDAR, + PROPPATCH when the server dropped a property, + one try per taken
///   name).
///
/// Bodies come back exactly as the server sent them inside the XML, CRLFs included.
pub struct DavStore {
    client: Client,
    /// The configured user name: a saved discovery state belongs to one account.
    username: String,
    known: Mutex<Known>,
}

impl fmt::Debug for DavStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DavStore")
            .field("url", &self.client.origin().as_str())
            .finish_non_exhaustive()
    }
}

impl DavStore {
    /// Prepares a store; nothing is sent until the first call.
    ///
    /// Credentials embedded in the URL (`https://user:pass@host/`) are used when the
    /// configured ones are empty, and removed from the URL either way.
    ///
    /// # Errors
    /// [`StoreError::NotDav`] for a URL that is not `http(s)://host/…`,
    /// [`StoreError::Unsupported`] when the HTTP client cannot be built.
    pub fn new(mut cfg: DavConfig) -> Result<Self, StoreError> {
        if !matches!(cfg.url.scheme(), "http" | "https") || cfg.url.host_str().is_none() {
            return Err(StoreError::NotDav {
                url: cfg.url.to_string(),
                reason: "the URL must start with http:// or https:// and name a host".to_owned(),
            });
        }
        if cfg.username.is_empty() && !cfg.url.username().is_empty() {
            cfg.username = percent_encoding::percent_decode_str(cfg.url.username())
                .decode_utf8_lossy()
                .into_owned();
            if let Some(password) = cfg.url.password() {
                cfg.password = percent_encoding::percent_decode_str(password)
                    .decode_utf8_lossy()
                    .into_owned()
                    .into();
            }
        }
        // Cannot fail for http(s) URLs with a host.
        let _ = cfg.url.set_username("");
        let _ = cfg.url.set_password(None);
        cfg.url.set_fragment(None);
        Ok(Self {
            client: Client::new(&cfg)?,
            username: cfg.username,
            known: Mutex::new(Known::default()),
        })
    }

    /// Counters of the requests sent so far (a cheap snapshot).
    pub fn request_stats(&self) -> RequestStats {
        self.client.stats()
    }

    /// The server's `Server` header, once any answer carried one (or the restored
    /// discovery state recorded one).
    pub fn server_header(&self) -> Option<String> {
        self.client.server_header().or_else(|| {
            let known = self.known();
            known.restored.as_ref().and_then(|fp| fp.server.clone())
        })
    }

    /// The compliance classes from the `DAV:` header of OPTIONS (`1`, `calendar-access`,
    /// `addressbook`, `sync-collection`, …), also when restored with a saved discovery
    /// state; empty before [`Store::discover`].
    pub fn dav_capabilities(&self) -> Vec<String> {
        self.known().dav.clone()
    }

    /// How this server is treated: known after [`Store::discover`], the neutral profile
    /// before (or what a restored discovery state shows).
    pub fn profile(&self) -> Profile {
        let known = self.known().profile.clone();
        known.unwrap_or_else(|| crate::profile::detect(&self.fingerprint()))
    }

    /// What the first calendar home (else address-book home) advertises in answer to
    /// OPTIONS: the `DAV:` compliance classes and the `Allow`ed methods. Servers often
    /// advertise less at their entry URL (SOGo's `/SOGo/dav/` omits MKCALENDAR and
    /// extended-mkcol) than where collections are created.
    ///
    /// # Errors
    /// Transport failures; discovery failures when it has not run yet.
    pub async fn home_capabilities(&self) -> Result<(Vec<String>, Vec<String>), StoreError> {
        if !self.known().discovered {
            self.discover().await?;
        }
        let home = {
            let known = self.known();
            known
                .calendar_homes
                .first()
                .or(known.addressbook_homes.first())
                .cloned()
        };
        let Some(home) = home else {
            return Ok((Vec::new(), Vec::new()));
        };
        let resp = self
            .client
            .send(&crate::client::DavRequest::new(
                reqwest::Method::OPTIONS,
                home,
            ))
            .await?;
        let list = |name: &str| -> Vec<String> {
            resp.headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect()
        };
        Ok((list("dav"), list("allow")))
    }

    /// Everything the answers so far revealed about the server, completed from a
    /// restored discovery state where they did not show it.
    pub fn fingerprint(&self) -> Fingerprint {
        let restored = self.known().restored.clone();
        self.fingerprint_with(restored.as_ref())
    }

    fn fingerprint_with(&self, restored: Option<&Fingerprint>) -> Fingerprint {
        let live = self.client.fingerprint();
        match restored {
            Some(saved) => live.filled_from(saved),
            None => live,
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Discovery from a restored state: the saved home sets are listed; when that fails
    /// for any reason but refused credentials, the full discovery runs once. The flag
    /// tells whether the full discovery ran.
    async fn rediscover(
        &self,
        calendar_homes: Vec<Url>,
        addressbook_homes: Vec<Url>,
        dav: Vec<String>,
    ) -> Result<(discovery::Discovered, bool), StoreError> {
        match discovery::relist(&self.client, calendar_homes, addressbook_homes, dav).await {
            Ok(found) => Ok((found, false)),
            Err(Relisting::Unauthorized(e)) => Err(e),
            Err(Relisting::Stale(reason)) => {
                tracing::info!(
                    url = self.client.origin().as_str(),
                    %reason,
                    "saved discovery state no longer holds; discovering in full"
                );
                Ok((discovery::discover(&self.client).await?, true))
            }
        }
    }

    /// The absolute URL of an href from a listing or a collection.
    fn url_of(&self, href: &str) -> Result<Url, StoreError> {
        href::resolve(self.client.origin(), href).ok_or_else(|| StoreError::Protocol {
            url: self.client.origin().to_string(),
            reason: format!("cannot make a URL of the href {href:?}"),
        })
    }

    fn collection_url(&self, collection: &CollectionInfo) -> Result<Url, StoreError> {
        self.url_of(collection.href.as_str())
            .map(href::as_collection)
    }

    /// The home to create a new collection in: the hint, else the first home set of the
    /// right kind (discovering first when needed).
    async fn home_for(
        &self,
        home_hint: Option<&ItemRef>,
        kind: CollectionKind,
    ) -> Result<Url, StoreError> {
        if let Some(hint) = home_hint {
            return self.url_of(hint.as_str()).map(href::as_collection);
        }
        if !self.known().discovered {
            self.discover().await?;
        }
        let known = self.known();
        let homes = match kind {
            CollectionKind::Calendar => &known.calendar_homes,
            CollectionKind::AddressBook => &known.addressbook_homes,
        };
        homes.first().cloned().ok_or_else(|| {
            StoreError::Unsupported(format!(
                "the server names no {} home set to create collections in",
                kind.as_str()
            ))
        })
    }
}

#[async_trait]
impl Store for DavStore {
    fn describe(&self) -> String {
        self.client.origin().to_string()
    }

    fn server_info(&self) -> Option<ServerInfo> {
        self.known().profile.as_ref().map(Profile::info)
    }

    fn adapt_for_write(
        &self,
        _collection: &CollectionInfo,
        body: &[u8],
    ) -> Result<Option<Adaptation>, String> {
        if self.profile().product != crate::profile::Product::Sogo
            || !calport_ical::sogo_null_risk(body)
        {
            return Ok(None);
        }
        match calport_ical::sogo_null_workaround(body) {
            Some((body, change)) => Ok(Some(Adaptation { body, change })),
            None => Err(
                "SOGo would store this item as the literal text \"(null)\" (a character outside \
                 the BMP falls on its line-fold cut) and no change that keeps the meaning avoids it"
                    .to_owned(),
            ),
        }
    }

    fn discovery_state(&self) -> Option<String> {
        let known = self.known();
        if !known.discovered
            || (known.calendar_homes.is_empty() && known.addressbook_homes.is_empty())
        {
            return None;
        }
        DiscoveryState {
            calendar_homes: known.calendar_homes.clone(),
            addressbook_homes: known.addressbook_homes.clone(),
            dav: known.dav.clone(),
            fingerprint: self.fingerprint_with(known.restored.as_ref()),
        }
        .to_json(self.client.origin(), &self.username)
    }

    fn restore_discovery_state(&self, state: &str) -> bool {
        let state = match DiscoveryState::from_json(state, self.client.origin(), &self.username) {
            Ok(state) => state,
            Err(e) => {
                tracing::info!(
                    url = self.client.origin().as_str(),
                    error = %e,
                    "saved discovery state not used"
                );
                return false;
            }
        };
        let mut known = self.known();
        known.calendar_homes = state.calendar_homes;
        known.addressbook_homes = state.addressbook_homes;
        known.dav = state.dav;
        known.restored = Some(state.fingerprint);
        known.cached = true;
        true
    }

    async fn discover(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        let saved = {
            let known = self.known();
            known.cached.then(|| {
                (
                    known.calendar_homes.clone(),
                    known.addressbook_homes.clone(),
                    known.dav.clone(),
                )
            })
        };
        let (found, full) = match saved {
            Some((calendar_homes, addressbook_homes, dav)) => {
                self.rediscover(calendar_homes, addressbook_homes, dav)
                    .await?
            }
            None => (discovery::discover(&self.client).await?, true),
        };
        let mut known = self.known();
        if full {
            // The full discovery replaces the restored state; it keeps serving later
            // discoveries only when it found home sets to list.
            known.restored = None;
            known.cached &=
                !(found.calendar_homes.is_empty() && found.addressbook_homes.is_empty());
        }
        known.calendar_homes = found.calendar_homes;
        known.addressbook_homes = found.addressbook_homes;
        self.client.note_discovery(
            &found.dav,
            found
                .collections
                .iter()
                .find_map(|c| c.sync_token.as_deref()),
        );
        known.dav = found.dav;
        known.discovered = true;
        known.profile = Some(crate::profile::detect(
            &self.fingerprint_with(known.restored.as_ref()),
        ));
        Ok(found.collections)
    }

    async fn create_collection(
        &self,
        home_hint: Option<&ItemRef>,
        spec: &NewCollection,
    ) -> Result<CollectionInfo, StoreError> {
        let home = self.home_for(home_hint, spec.kind).await?;
        mkcol::create_collection(&self.client, &home, spec).await
    }

    async fn changes(
        &self,
        collection: &CollectionInfo,
        token: Option<&str>,
    ) -> Result<Changes, StoreError> {
        let url = self.collection_url(collection)?;
        // Tokens of servers that lose changes are not trusted: list everything.
        let token = token.filter(|_| self.profile().reliable_sync_tokens);
        listing::changes(&self.client, collection, &url, token).await
    }

    async fn fetch(
        &self,
        collection: &CollectionInfo,
        hrefs: &[ItemRef],
    ) -> Result<Vec<Result<FetchedItem, (ItemRef, StoreError)>>, StoreError> {
        let url = self.collection_url(collection)?;
        multiget::fetch(&self.client, &url, collection.kind, hrefs).await
    }

    async fn create(
        &self,
        collection: &CollectionInfo,
        name: &str,
        body: &[u8],
    ) -> Result<WriteOutcome, StoreError> {
        let url = self.collection_url(collection)?;
        let look_first = !self.profile().honours_if_none_match;
        write::create(&self.client, &url, collection.kind, name, body, look_first).await
    }

    async fn update(
        &self,
        collection: &CollectionInfo,
        href: &ItemRef,
        expected: &Etag,
        body: &[u8],
    ) -> Result<WriteOutcome, StoreError> {
        let url = self.url_of(href.as_str())?;
        write::update(&self.client, url, collection.kind, expected, body).await
    }

    async fn delete(
        &self,
        _collection: &CollectionInfo,
        href: &ItemRef,
        expected: &Etag,
    ) -> Result<(), StoreError> {
        let url = self.url_of(href.as_str())?;
        write::delete(&self.client, url, expected).await
    }
}
