//! Seeding and inspection over plain HTTP, independent of calport's own DAV client.

use anyhow::{Context as _, bail, ensure};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::multistatus::{self, DataKind, Listing, Member};
use crate::server::{DavServer, ServerKind, propfind};

/// One item of a collection with its stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The absolute path of the item, percent-encoded.
    pub href: String,
    /// The last path segment, percent-decoded: the item's name in the server's storage.
    pub name: String,
    /// `getetag` from the PROPFIND listing, quotes included.
    pub etag: Option<String>,
    /// The body of a GET on `href`: exactly what the server serves.
    pub body: Vec<u8>,
}

impl Resource {
    /// The body as text (invalid UTF-8 replaced), for `contains` checks in tests.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

const LIST_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:"><prop><resourcetype/><getetag/></prop></propfind>"#;

impl DavServer {
    /// Creates a calendar at `path` with MKCALENDAR (RFC 4791 §5.3.1), setting its displayname,
    /// `supported-calendar-component-set` (e.g. `&["VEVENT", "VTODO"]`; empty = server default)
    /// and Apple's `calendar-color` (e.g. `"#ff0000"`).
    ///
    /// # Errors
    /// On a transport error or any answer but 201 Created.
    pub async fn mkcalendar(
        &self,
        path: &str,
        displayname: &str,
        components: &[&str],
        color: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut props = format!("<D:displayname>{}</D:displayname>", escape(displayname));
        if !components.is_empty() {
            props.push_str("<C:supported-calendar-component-set>");
            for comp in components {
                props.push_str(&format!("<C:comp name=\"{}\"/>", escape(comp)));
            }
            props.push_str("</C:supported-calendar-component-set>");
        }
        if let Some(color) = color {
            props.push_str(&format!(
                "<I:calendar-color>{}</I:calendar-color>",
                escape(color)
            ));
        }
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>{props}</D:prop></D:set></C:mkcalendar>"#
        );
        self.create_collection("MKCALENDAR", path, body).await
    }

    /// Creates an address book at `path` with an extended MKCOL (RFC 5689 §3, RFC 6352 §6.3.1).
    ///
    /// # Errors
    /// On a transport error or any answer but 201 Created.
    pub async fn mkaddressbook(&self, path: &str, displayname: &str) -> anyhow::Result<()> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>{}</D:displayname></D:prop></D:set></D:mkcol>"#,
            escape(displayname)
        );
        self.create_collection("MKCOL", path, body).await
    }

    /// Makes [`DavServer::calendar_path`] and [`DavServer::addressbook_path`] exist: creates
    /// them on Radicale (VEVENT+VTODO calendar), does nothing on Xandikos (`--defaults`).
    ///
    /// # Errors
    /// When a creation fails.
    pub async fn create_default_collections(&self) -> anyhow::Result<()> {
        if self.kind() == ServerKind::Radicale {
            self.mkcalendar(self.calendar_path(), "Calendar", &["VEVENT", "VTODO"], None)
                .await?;
            self.mkaddressbook(self.addressbook_path(), "Contacts")
                .await?;
        }
        Ok(())
    }

    /// PUTs `body` at `path` with no preconditions and returns the status (201 created,
    /// 204 replaced, 4xx refused, ...).
    ///
    /// # Errors
    /// Only on a transport error; any HTTP status is returned.
    pub async fn put(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
    ) -> anyhow::Result<StatusCode> {
        let response = self
            .request(Method::PUT, path)
            .header("Content-Type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .with_context(|| format!("PUT {path}"))?;
        Ok(response.status())
    }

    /// Radicale only: PUTs a whole VCALENDAR on the collection URL, the fast way to seed.
    ///
    /// This **replaces** the collection: existing items go, each component (grouped by UID,
    /// overrides with their master) becomes one item named after its UID, and the collection's
    /// properties are rebuilt from the upload (a displayname set earlier is lost unless the
    /// stream carries `X-WR-CALNAME`). Radicale also regenerates VTIMEZONEs on this path.
    ///
    /// # Errors
    /// On Xandikos, on a transport error, or when Radicale answers anything but 2xx.
    pub async fn put_collection_bulk(
        &self,
        collection_path: &str,
        vcalendar: &[u8],
    ) -> anyhow::Result<()> {
        ensure!(
            self.kind() == ServerKind::Radicale,
            "a whole-collection PUT is a Radicale feature; {} has none",
            self.kind()
        );
        let response = self
            .request(Method::PUT, collection_path)
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(vcalendar.to_vec())
            .send()
            .await
            .with_context(|| format!("PUT {collection_path}"))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("PUT {collection_path} answered {status}: {text}");
        }
        Ok(())
    }

    /// DELETEs `path` unconditionally and returns the status.
    ///
    /// # Errors
    /// Only on a transport error.
    pub async fn delete(&self, path: &str) -> anyhow::Result<StatusCode> {
        let response = self
            .request(Method::DELETE, path)
            .send()
            .await
            .with_context(|| format!("DELETE {path}"))?;
        Ok(response.status())
    }

    /// GETs `path` and returns status and body, whatever the status.
    ///
    /// # Errors
    /// Only on a transport error.
    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        get(self, path).await
    }

    /// The non-collection members of `collection_path` (PROPFIND Depth 1, RFC 4918 §9.1),
    /// sorted by href. Hrefs are resolved against the request URL, so Xandikos' bare names
    /// with `:` come out as proper paths.
    ///
    /// # Errors
    /// On a transport error, an answer other than 207, or an unreadable multistatus.
    pub async fn members(&self, collection_path: &str) -> anyhow::Result<Vec<Member>> {
        Ok(self.listing(collection_path).await?.1.members)
    }

    /// Every item of `collection_path` with its body: [`DavServer::members`], then one GET
    /// per item, which returns the stored bytes exactly.
    ///
    /// When a GET fails the item is fetched alone with a calendar-/addressbook-multiget
    /// instead, whose data has passed through XML (line ends may come back as LF). Two cases
    /// need this: Radicale answers 400 to any request whose path holds one of ``:'"*?,``
    /// (its default `validate_path_value = minimal`), yet names items after their UID on a
    /// whole-collection PUT (`urn:uuid:...`); Xandikos answers 500 to a GET of a `.ics` that
    /// its icalendar cannot parse.
    ///
    /// # Errors
    /// When listing fails or an item can be read neither way (the error names the href).
    pub async fn list(&self, collection_path: &str) -> anyhow::Result<Vec<Resource>> {
        list(self, collection_path).await
    }

    async fn listing(&self, collection_path: &str) -> anyhow::Result<(Url, Listing)> {
        listing(self, collection_path).await
    }

    async fn create_collection(
        &self,
        method: &str,
        path: &str,
        body: String,
    ) -> anyhow::Result<()> {
        create_collection(self, method, path, body).await
    }
}

/// What the request helpers below need from a server handle: an authenticated request
/// to an absolute URL, and the absolute URL of a path. Implemented by [`DavServer`] and
/// [`crate::SharedServer`], so both inspect servers the same way.
pub(crate) trait Http {
    /// A request with the handle's Basic credentials.
    fn authed(&self, method: Method, url: Url) -> reqwest::RequestBuilder;
    /// The absolute URL of `path` on the server.
    fn absolute(&self, path: &str) -> String;
}

impl Http for DavServer {
    fn authed(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.client()
            .request(method, url)
            .basic_auth(self.username(), Some(self.password()))
    }

    fn absolute(&self, path: &str) -> String {
        self.url(path)
    }
}

/// The absolute URL of a collection path, with a trailing slash.
pub(crate) fn collection_url(server: &impl Http, path: &str) -> anyhow::Result<Url> {
    let mut url =
        Url::parse(&server.absolute(path)).with_context(|| format!("bad path {path:?}"))?;
    if !url.path().ends_with('/') {
        let with_slash = format!("{}/", url.path());
        url.set_path(&with_slash);
    }
    Ok(url)
}

/// PROPFIND Depth 1 on a collection: its URL and the raw multistatus.
pub(crate) async fn propfind_depth1(
    server: &impl Http,
    collection_path: &str,
) -> anyhow::Result<(Url, String)> {
    let collection = collection_url(server, collection_path)?;
    let response = server
        .authed(propfind(), collection.clone())
        .header("Depth", "1")
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(LIST_BODY)
        .send()
        .await
        .with_context(|| format!("PROPFIND {collection_path}"))?;
    let status = response.status();
    let xml = String::from_utf8_lossy(&response.bytes().await?).into_owned();
    if status != StatusCode::MULTI_STATUS {
        bail!("PROPFIND {collection_path} answered {status}: {xml}");
    }
    Ok((collection, xml))
}

/// The members of a collection (PROPFIND Depth 1, parsed).
pub(crate) async fn listing(
    server: &impl Http,
    collection_path: &str,
) -> anyhow::Result<(Url, Listing)> {
    let (collection, xml) = propfind_depth1(server, collection_path).await?;
    let listing = multistatus::listing(&collection, &xml)
        .with_context(|| format!("PROPFIND {collection_path}"))?;
    Ok((collection, listing))
}

/// Reads one item with a calendar-/addressbook-multiget REPORT on its collection.
pub(crate) async fn multiget_one(
    server: &impl Http,
    collection: &Url,
    kind: DataKind,
    href: &str,
) -> anyhow::Result<Vec<u8>> {
    let (report, ns, data) = match kind {
        DataKind::Calendar => (
            "calendar-multiget",
            "urn:ietf:params:xml:ns:caldav",
            "calendar-data",
        ),
        DataKind::AddressBook => (
            "addressbook-multiget",
            "urn:ietf:params:xml:ns:carddav",
            "address-data",
        ),
    };
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<X:{report} xmlns:D="DAV:" xmlns:X="{ns}"><D:prop><D:getetag/><X:{data}/></D:prop><D:href>{}</D:href></X:{report}>"#,
        escape(href)
    );
    let response = server
        .authed(Method::from_bytes(b"REPORT")?, collection.clone())
        .header("Depth", "1")
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .with_context(|| format!("REPORT {report} {href}"))?;
    let status = response.status();
    let xml = String::from_utf8_lossy(&response.bytes().await?).into_owned();
    if status != StatusCode::MULTI_STATUS {
        bail!("REPORT {report} {href} answered {status}: {xml}");
    }
    multistatus::multiget_data(collection, &xml)
        .with_context(|| format!("REPORT {report} {href}"))?
        .into_iter()
        .find(|(path, _)| path == href)
        .and_then(|(_, data)| data)
        .map(String::into_bytes)
        .with_context(|| format!("REPORT {report} returned no data for {href}"))
}

/// GETs `path`: status and body, whatever the status.
pub(crate) async fn get(server: &impl Http, path: &str) -> anyhow::Result<(StatusCode, Vec<u8>)> {
    let url = Url::parse(&server.absolute(path)).with_context(|| format!("bad path {path:?}"))?;
    let response = server
        .authed(Method::GET, url)
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("GET {path}"))?;
    Ok((status, body.to_vec()))
}

/// Every item of a collection with its stored bytes: GET per item, a multiget of the one
/// item when its GET fails (see [`DavServer::list`]).
pub(crate) async fn list(
    server: &impl Http,
    collection_path: &str,
) -> anyhow::Result<Vec<Resource>> {
    let (collection, listing) = listing(server, collection_path).await?;
    let mut out = Vec::with_capacity(listing.members.len());
    for member in listing.members {
        let (status, body) = get(server, &member.href).await?;
        let body = if status == StatusCode::OK {
            body
        } else if let Some(kind) = listing.kind {
            multiget_one(server, &collection, kind, &member.href)
                .await
                .with_context(|| format!("GET {} answered {status}", member.href))?
        } else {
            bail!(
                "GET {} answered {status}: {}",
                member.href,
                String::from_utf8_lossy(&body)
            );
        };
        out.push(Resource {
            href: member.href,
            name: member.name,
            etag: member.etag,
            body,
        });
    }
    Ok(out)
}

/// Sends MKCALENDAR or MKCOL with `body`; anything but 201 Created is an error.
pub(crate) async fn create_collection(
    server: &impl Http,
    method: &str,
    path: &str,
    body: String,
) -> anyhow::Result<()> {
    let method = Method::from_bytes(method.as_bytes())?;
    let url = Url::parse(&server.absolute(path)).with_context(|| format!("bad path {path:?}"))?;
    let response = server
        .authed(method.clone(), url)
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .with_context(|| format!("{method} {path}"))?;
    let status = response.status();
    if status != StatusCode::CREATED {
        let text = response.text().await.unwrap_or_default();
        bail!("{method} {path} answered {status}: {text}");
    }
    Ok(())
}

/// Escapes text for XML character data and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}
