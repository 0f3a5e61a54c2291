//! The discovery state a caller may keep between runs (see
//! [`calport_core::Store::discovery_state`]): the home sets, the `DAV:` classes and what
//! identified the server, so that the next discovery only lists the home sets.
//!
//! The saved form is JSON with a format version; it names the account it belongs to (the
//! configured URL without credentials, and the user name) and is refused for any other.
//! It holds no secret.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::profile::Fingerprint;

/// Version of the saved format; states of any other version are not understood.
const FORMAT_VERSION: u32 = 1;

/// Why a saved state cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// Not JSON of the expected shape.
    #[error("not a discovery state: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by another format version.
    #[error("format version {found}, this calport reads version {FORMAT_VERSION}")]
    Version {
        /// The version found in the state.
        found: u32,
    },
    /// Saved for another URL or user.
    #[error("saved for {url} as {username:?}, not for this account")]
    OtherAccount {
        /// The URL in the state.
        url: String,
        /// The user name in the state.
        username: String,
    },
    /// A home set that is not an `http(s)` URL with a host.
    #[error("{0:?} is not an http(s) URL")]
    BadUrl(String),
    /// Neither a calendar nor an address-book home set: nothing to list.
    #[error("no home set")]
    NoHomes,
}

/// What a discovery learnt that the next one can start from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DiscoveryState {
    /// Calendar home sets, in the order the server named them.
    pub calendar_homes: Vec<Url>,
    /// Address-book home sets, in the order the server named them.
    pub addressbook_homes: Vec<Url>,
    /// Compliance classes from the `DAV:` header of OPTIONS.
    pub dav: Vec<String>,
    /// What the answers revealed about the server (its `path` is the configured one).
    pub fingerprint: Fingerprint,
}

/// Just the version, read before the rest so another version is reported as such.
#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

/// The saved form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    version: u32,
    /// The configured URL, credentials removed.
    url: String,
    username: String,
    calendar_homes: Vec<String>,
    addressbook_homes: Vec<String>,
    dav: Vec<String>,
    server: SavedServer,
}

/// The saved part of a [`Fingerprint`] (its `path` and `dav` live elsewhere).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedServer {
    server: Option<String>,
    sabre_version: Option<String>,
    davical_version: Option<String>,
    sope_headers: bool,
    realm: Option<String>,
    allow: Vec<String>,
    sync_token: Option<String>,
}

impl DiscoveryState {
    /// The saved form for the account at `url` (credentials removed) of `username`.
    pub(crate) fn to_json(&self, url: &Url, username: &str) -> Option<String> {
        let fp = &self.fingerprint;
        let saved = Saved {
            version: FORMAT_VERSION,
            url: url.to_string(),
            username: username.to_owned(),
            calendar_homes: self.calendar_homes.iter().map(Url::to_string).collect(),
            addressbook_homes: self.addressbook_homes.iter().map(Url::to_string).collect(),
            dav: self.dav.clone(),
            server: SavedServer {
                server: fp.server.clone(),
                sabre_version: fp.sabre_version.clone(),
                davical_version: fp.davical_version.clone(),
                sope_headers: fp.sope_headers,
                realm: fp.realm.clone(),
                allow: fp.allow.clone(),
                sync_token: fp.sync_token.clone(),
            },
        };
        // Plain strings, vectors and booleans always serialise.
        serde_json::to_string(&saved).ok()
    }

    /// Reads a saved form, refusing one of another version or another account.
    ///
    /// # Errors
    /// [`StateError`] saying why the state cannot be used.
    pub(crate) fn from_json(json: &str, url: &Url, username: &str) -> Result<Self, StateError> {
        let VersionOnly { version } = serde_json::from_str(json)?;
        if version != FORMAT_VERSION {
            return Err(StateError::Version { found: version });
        }
        let saved: Saved = serde_json::from_str(json)?;
        if saved.url != url.as_str() || saved.username != username {
            return Err(StateError::OtherAccount {
                url: saved.url,
                username: saved.username,
            });
        }
        let urls = |list: Vec<String>| -> Result<Vec<Url>, StateError> {
            list.into_iter()
                .map(|s| match Url::parse(&s) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                        Ok(u)
                    }
                    _ => Err(StateError::BadUrl(s)),
                })
                .collect()
        };
        let calendar_homes = urls(saved.calendar_homes)?;
        let addressbook_homes = urls(saved.addressbook_homes)?;
        if calendar_homes.is_empty() && addressbook_homes.is_empty() {
            return Err(StateError::NoHomes);
        }
        let s = saved.server;
        Ok(Self {
            calendar_homes,
            addressbook_homes,
            fingerprint: Fingerprint {
                server: s.server,
                sabre_version: s.sabre_version,
                davical_version: s.davical_version,
                sope_headers: s.sope_headers,
                realm: s.realm,
                path: url.path().to_owned(),
                dav: saved.dav.clone(),
                allow: s.allow,
                sync_token: s.sync_token,
            },
            dav: saved.dav,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn state() -> DiscoveryState {
        DiscoveryState {
            calendar_homes: vec![url("https://dav.example.com/u/cal/")],
            addressbook_homes: vec![url("https://dav.example.com/u/card/")],
            dav: vec!["1".into(), "calendar-access".into()],
            fingerprint: Fingerprint {
                server: Some("nginx".into()),
                sope_headers: true,
                realm: Some("Basic realm=\"x\"".into()),
                path: "/dav/".into(),
                dav: vec!["1".into(), "calendar-access".into()],
                allow: vec!["PROPFIND".into()],
                sync_token: Some("tok".into()),
                ..Fingerprint::default()
            },
        }
    }

    #[test]
    fn round_trips_for_the_same_account_only() {
        let origin = url("https://dav.example.com/dav/");
        let json = state().to_json(&origin, "alice").unwrap();
        assert_eq!(
            DiscoveryState::from_json(&json, &origin, "alice").unwrap(),
            state()
        );
        assert!(matches!(
            DiscoveryState::from_json(&json, &origin, "bob"),
            Err(StateError::OtherAccount { .. })
        ));
        assert!(matches!(
            DiscoveryState::from_json(&json, &url("https://dav.example.com/"), "alice"),
            Err(StateError::OtherAccount { .. })
        ));
    }

    #[test]
    fn refuses_garbage_other_versions_and_bad_homes() {
        let origin = url("https://dav.example.com/dav/");
        for garbage in ["", "null", "{}", "[1]", "{\"version\":\"1\"}", "not json"] {
            assert!(
                matches!(
                    DiscoveryState::from_json(garbage, &origin, "alice"),
                    Err(StateError::Json(_))
                ),
                "{garbage:?}"
            );
        }
        let json = state().to_json(&origin, "alice").unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["version"] = 2.into();
        assert!(matches!(
            DiscoveryState::from_json(&value.to_string(), &origin, "alice"),
            Err(StateError::Version { found: 2 })
        ));
        value["version"] = 1.into();
        value["calendar_homes"] = serde_json::json!(["/relative/"]);
        assert!(matches!(
            DiscoveryState::from_json(&value.to_string(), &origin, "alice"),
            Err(StateError::BadUrl(_))
        ));
        value["calendar_homes"] = serde_json::json!([]);
        value["addressbook_homes"] = serde_json::json!([]);
        assert!(matches!(
            DiscoveryState::from_json(&value.to_string(), &origin, "alice"),
            Err(StateError::NoHomes)
        ));
        value["extra"] = 1.into();
        assert!(matches!(
            DiscoveryState::from_json(&value.to_string(), &origin, "alice"),
            Err(StateError::Json(_))
        ));
    }
}
