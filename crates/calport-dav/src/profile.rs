//! Server profiles: which DAV server calport talks to, and how to treat it.
//!
//! Every quirk calport adapts to lives here, one flag each, with the evidence in its doc
//! comment (measured on the servers in `../shared/servers`). Detection uses what every
//! answer shows anyway (headers, the `DAV:` classes, the URL layout, the shape of sync
//! tokens): it costs no extra request.

use calport_core::ServerInfo;

/// What the answers of a server revealed about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// The first `Server` header.
    pub server: Option<String>,
    /// `X-Sabre-Version` (sabre/dav and everything built on it).
    pub sabre_version: Option<String>,
    /// `X-DAViCal-Version`.
    pub davical_version: Option<String>,
    /// Whether any answer carried SOPE's `X-Dav-Error` header (SOGo).
    pub sope_headers: bool,
    /// The realm of a `WWW-Authenticate` challenge.
    pub realm: Option<String>,
    /// The configured URL's path.
    pub path: String,
    /// `DAV:` compliance classes from OPTIONS.
    pub dav: Vec<String>,
    /// The `Allow` header of OPTIONS.
    pub allow: Vec<String>,
    /// One sync token seen on a collection, if any.
    pub sync_token: Option<String>,
}

impl Fingerprint {
    /// This fingerprint with what its answers did not show taken from `earlier` (one
    /// restored from a saved discovery state): a discovery that skips OPTIONS, or never
    /// meets a challenge, still identifies the server as the full one did. What was seen
    /// now wins; the configured path is always the current one.
    #[must_use]
    pub fn filled_from(self, earlier: &Fingerprint) -> Fingerprint {
        let or_list = |now: Vec<String>, then: &Vec<String>| {
            if now.is_empty() { then.clone() } else { now }
        };
        Fingerprint {
            server: self.server.or_else(|| earlier.server.clone()),
            sabre_version: self.sabre_version.or_else(|| earlier.sabre_version.clone()),
            davical_version: self
                .davical_version
                .or_else(|| earlier.davical_version.clone()),
            sope_headers: self.sope_headers || earlier.sope_headers,
            realm: self.realm.or_else(|| earlier.realm.clone()),
            path: self.path,
            dav: or_list(self.dav, &earlier.dav),
            allow: or_list(self.allow, &earlier.allow),
            sync_token: self.sync_token.or_else(|| earlier.sync_token.clone()),
        }
    }
}

/// The server products calport knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    /// SOGo (Mailcow's groupware), through any front.
    Sogo,
    /// sabre/dav: Nextcloud, Baikal, Davis and the plain library.
    SabreDav,
    /// DAViCal.
    Davical,
    /// Radicale.
    Radicale,
    /// Xandikos.
    Xandikos,
    /// Anything else.
    Unknown,
}

impl Product {
    /// The short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Product::Sogo => "sogo",
            Product::SabreDav => "sabredav",
            Product::Davical => "davical",
            Product::Radicale => "radicale",
            Product::Xandikos => "xandikos",
            Product::Unknown => "unknown",
        }
    }
}

/// How calport treats one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Which server it is.
    pub product: Product,
    /// Its version, when it says.
    pub version: Option<String>,
    /// Whether `If-None-Match: *` on PUT is honoured (412 when the resource exists).
    /// SOGo 5.8 ignores it and overwrites (204), so creates look first.
    pub honours_if_none_match: bool,
    /// Whether sync tokens can be trusted to report every change. SOGo's tokens are
    /// Unix timestamps in seconds (a change in the token's second can be missed) and an
    /// invalid token gets a full listing that looks incremental, so calport lists etags.
    pub reliable_sync_tokens: bool,
    /// Whether the server is known to store some accepted items wrongly (SOGo `(null)`
    /// bodies: 3.7 % of events, 2.2 % of contacts of a generated set; SabreDAV 1.8 under
    /// PHP 8.2 double-encodes some valid UTF-8: 1.6 % of events). Read-back verification
    /// catches both; this flag only feeds the preflight warnings.
    pub may_corrupt: bool,
    /// Known quirks in words, for reports and `calport check`.
    pub quirks: Vec<String>,
}

impl Profile {
    /// The profile as reported to users.
    pub fn info(&self) -> ServerInfo {
        ServerInfo {
            product: self.product.name().to_owned(),
            version: self.version.clone(),
            quirks: self.quirks.clone(),
        }
    }
}

fn contains(haystack: Option<&str>, needle: &str) -> bool {
    haystack.is_some_and(|h| h.to_ascii_lowercase().contains(needle))
}

/// Identifies the server from its fingerprint.
pub fn detect(fp: &Fingerprint) -> Profile {
    let path = fp.path.to_ascii_lowercase();
    let token = fp.sync_token.as_deref();
    let product =
        if fp.sope_headers || contains(fp.server.as_deref(), "sope") || path.contains("/sogo/") {
            Product::Sogo
        } else if fp.sabre_version.is_some()
            || contains(token, "sabre.io/ns/sync")
            || path.contains("/remote.php/dav")
        {
            Product::SabreDav
        } else if fp.davical_version.is_some() || path.contains("/caldav.php") {
            Product::Davical
        } else if contains(token, "radicale.org") || contains(fp.realm.as_deref(), "radicale") {
            Product::Radicale
        } else if contains(fp.server.as_deref(), "aiohttp")
            && fp.dav.iter().any(|c| c == "add-member")
        {
            Product::Xandikos
        } else {
            Product::Unknown
        };
    let version = match product {
        Product::Sogo => fp
            .server
            .as_deref()
            .filter(|s| s.contains("SOPE"))
            .map(str::to_owned),
        Product::SabreDav => fp.sabre_version.clone(),
        Product::Davical => fp.davical_version.clone(),
        _ => None,
    };
    let mut profile = Profile {
        product,
        version,
        honours_if_none_match: true,
        reliable_sync_tokens: true,
        may_corrupt: false,
        quirks: Vec::new(),
    };
    match product {
        Product::Sogo => {
            profile.honours_if_none_match = false;
            profile.reliable_sync_tokens = false;
            profile.may_corrupt = true;
            profile.quirks = vec![
                "answers 201 and then stores some items as the literal text \"(null)\" (DESCRIPTION/NOTE mixing scripts, escapes and an emoji): every written item is read back and compared".into(),
                "ignores If-None-Match on PUT: calport looks before it creates".into(),
                "sync tokens have one-second resolution: calport compares full etag listings".into(),
                "rewrites what it stores (adds CLASS:PUBLIC, vCard 4.0 becomes 3.0, group names upper-cased): compared in meaning, not bytes".into(),
                "a UID can exist only once per calendar (409)".into(),
                "stores floating times (no TZID, no Z) as UTC: such events are reported as corrupted, there is no equivalent to send instead".into(),
            ];
        }
        Product::SabreDav => {
            let old = profile
                .version
                .as_deref()
                .is_some_and(|v| v.starts_with("1.") || v.starts_with("2.0"));
            if old {
                profile.may_corrupt = true;
                profile.quirks.push(
                    "sabre/dav 1.8 re-encodes some valid UTF-8 as if it were Latin-1 (Tết → Táº¿t) after answering 201: read-back verification reports such items".into(),
                );
                profile
                    .quirks
                    .push("no sync-collection: calport compares etag listings".into());
            }
            profile.quirks.push(
                "may answer a PUT without ETag when it repaired the data: calport re-reads it"
                    .into(),
            );
        }
        Product::Davical => {
            profile.quirks = vec![
                "sends no ETag on vCard PUT: calport re-reads it".into(),
                "accepts two resources with the same UID in one calendar".into(),
            ];
        }
        Product::Radicale => {
            profile.quirks = vec![
                "refuses ':' and some other characters in resource names (calport's names avoid them)".into(),
                "per-item PUT slows down as a collection grows (O(n) UID check)".into(),
            ];
        }
        Product::Xandikos => {
            profile.quirks = vec![
                "answers 423 Locked to concurrent writes (calport retries)".into(),
                "re-serialises some hostile items (DATE with TZID, TZID with Z): read-back verification reports them".into(),
            ];
        }
        Product::Unknown => {}
    }
    profile
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint::default()
    }

    #[test]
    fn sogo_behind_nginx_and_bare_is_recognised_and_handled() {
        // Behind nginx the Server header is nginx's; SOPE's X-Dav-Error still shows.
        let front = detect(&Fingerprint {
            server: Some("nginx/1.22.1".into()),
            sope_headers: true,
            path: "/SOGo/dav/".into(),
            ..fp()
        });
        assert_eq!(front.product, Product::Sogo);
        assert!(!front.honours_if_none_match && !front.reliable_sync_tokens && front.may_corrupt);
        let bare = detect(&Fingerprint {
            server: Some("SOPE 4.9.37/WebDAV".into()),
            ..fp()
        });
        assert_eq!(bare.product, Product::Sogo);
        assert_eq!(bare.version.as_deref(), Some("SOPE 4.9.37/WebDAV"));
    }

    #[test]
    fn sabredav_18_is_flagged_for_mojibake_and_newer_ones_are_not() {
        let old = detect(&Fingerprint {
            sabre_version: Some("1.8.12".into()),
            ..fp()
        });
        assert_eq!(old.product, Product::SabreDav);
        assert!(old.may_corrupt);
        let new = detect(&Fingerprint {
            sabre_version: Some("4.6.0".into()),
            ..fp()
        });
        assert!(!new.may_corrupt);
        assert!(new.honours_if_none_match && new.reliable_sync_tokens);
    }

    #[test]
    fn a_restored_fingerprint_fills_what_was_not_seen_again() {
        let saved = Fingerprint {
            server: Some("nginx".into()),
            sope_headers: true,
            path: "/old/".into(),
            dav: vec!["1".into(), "add-member".into()],
            allow: vec!["MKCALENDAR".into()],
            sync_token: Some("old".into()),
            ..fp()
        };
        let live = Fingerprint {
            server: Some("Apache".into()),
            path: "/SOGo/dav/".into(),
            sync_token: Some("new".into()),
            ..fp()
        };
        let merged = live.filled_from(&saved);
        assert_eq!(merged.server.as_deref(), Some("Apache"));
        assert_eq!(merged.sync_token.as_deref(), Some("new"));
        assert_eq!(merged.path, "/SOGo/dav/");
        assert!(merged.sope_headers);
        assert_eq!(merged.dav, saved.dav);
        assert_eq!(merged.allow, saved.allow);
        assert_eq!(detect(&merged).product, Product::Sogo);
        // Nothing seen yet: the saved fingerprint alone decides.
        let bare = Fingerprint {
            path: "/".into(),
            ..fp()
        }
        .filled_from(&Fingerprint {
            server: Some("Python/3.11 aiohttp/3.14.5".into()),
            dav: vec!["1".into(), "add-member".into()],
            ..fp()
        });
        assert_eq!(detect(&bare).product, Product::Xandikos);
    }

    #[test]
    fn davical_radicale_xandikos_and_unknown() {
        assert_eq!(
            detect(&Fingerprint {
                path: "/caldav.php/".into(),
                ..fp()
            })
            .product,
            Product::Davical
        );
        assert_eq!(
            detect(&Fingerprint {
                sync_token: Some("http://radicale.org/ns/sync/abc".into()),
                ..fp()
            })
            .product,
            Product::Radicale
        );
        assert_eq!(
            detect(&Fingerprint {
                server: Some("Python/3.11 aiohttp/3.14.5".into()),
                dav: vec!["1".into(), "add-member".into()],
                ..fp()
            })
            .product,
            Product::Xandikos
        );
        let unknown = detect(&Fingerprint {
            server: Some("Apache".into()),
            ..fp()
        });
        assert_eq!(unknown.product, Product::Unknown);
        assert!(unknown.honours_if_none_match && unknown.quirks.is_empty());
    }
}
