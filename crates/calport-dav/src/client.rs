//! The HTTP layer: one keep-alive client, authentication (Basic, Digest), manual
//! redirects, retries with backoff, a concurrency bound and request counters.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use calport_core::StoreError;
use rand::Rng;
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;
use tracing::debug;
use url::Url;

use crate::config::{DavConfig, Secret};
use crate::digest::{self, DigestState};
use crate::href;
use crate::profile::Fingerprint;
use crate::stats::{RequestStats, StatsRecorder};
use crate::xml::{self, Multistatus};

/// Redirect hops followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest wait a `Retry-After` header can ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Largest answer body we read (a multiget of 100 items with photos stays far below).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// `Content-Type` of the XML bodies we send.
pub(crate) const XML: &str = "application/xml; charset=utf-8";

/// The WebDAV methods reqwest has no constant for.
pub(crate) mod methods {
    use reqwest::Method;

    fn custom(name: &'static str) -> Method {
        // Static, valid tokens: from_bytes cannot fail on them.
        Method::from_bytes(name.as_bytes()).unwrap_or(Method::GET)
    }
    pub(crate) fn propfind() -> Method {
        custom("PROPFIND")
    }
    pub(crate) fn proppatch() -> Method {
        custom("PROPPATCH")
    }
    pub(crate) fn report() -> Method {
        custom("REPORT")
    }
    pub(crate) fn mkcalendar() -> Method {
        custom("MKCALENDAR")
    }
    pub(crate) fn mkcol() -> Method {
        custom("MKCOL")
    }
}

/// One request to send, cloneable so it can be retried and redirected.
#[derive(Clone, Debug)]
pub(crate) struct DavRequest {
    pub method: Method,
    pub url: Url,
    headers: Vec<(HeaderName, String)>,
    body: Option<Vec<u8>>,
    follow_redirects: bool,
}

impl DavRequest {
    /// Whether the request carries `If-Match` or `If-None-Match`.
    pub(crate) fn is_conditional(&self) -> bool {
        self.headers.iter().any(|(name, _)| {
            name == reqwest::header::IF_MATCH || name == reqwest::header::IF_NONE_MATCH
        })
    }

    /// A request without body; redirects are followed for PROPFIND, REPORT and OPTIONS.
    pub(crate) fn new(method: Method, url: Url) -> Self {
        let follow_redirects = matches!(method.as_str(), "PROPFIND" | "REPORT" | "OPTIONS");
        Self {
            method,
            url,
            headers: Vec::new(),
            body: None,
            follow_redirects,
        }
    }

    /// Sets the `Depth` header (RFC 4918 §10.2).
    pub(crate) fn depth(self, depth: &'static str) -> Self {
        self.header(HeaderName::from_static("depth"), depth)
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets an XML body.
    pub(crate) fn xml(self, body: String) -> Self {
        self.body(body.into_bytes(), XML)
    }

    /// Sets a body and its content type.
    pub(crate) fn body(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.headers.push((CONTENT_TYPE, content_type.to_owned()));
        self.body = Some(body);
        self
    }

    /// Whether a header was set.
    pub(crate) fn has_header(&self, name: &HeaderName) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// The path, for messages.
    pub(crate) fn path(&self) -> &str {
        self.url.path()
    }
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct DavResponse {
    pub status: StatusCode,
    /// The URL that finally answered, after redirects.
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// An earlier attempt of this request failed in transport: the server may have
    /// carried it out already (a retried MKCOL then finds its own collection).
    pub after_lost_attempt: bool,
}

impl DavResponse {
    pub(crate) fn code(&self) -> u16 {
        self.status.as_u16()
    }

    pub(crate) fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type in lower case, without parameters.
    pub(crate) fn media_type(&self) -> String {
        self.header(CONTENT_TYPE)
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    pub(crate) fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Parses the body as a multistatus.
    ///
    /// # Errors
    /// [`StoreError::Protocol`] when it is not one.
    pub(crate) fn multistatus(&self) -> Result<Multistatus, StoreError> {
        xml::parse_multistatus(&self.text()).map_err(|reason| StoreError::Protocol {
            url: self.url.to_string(),
            reason,
        })
    }

    /// Whether this looks like a multistatus answer (207, or 200 with an XML body).
    pub(crate) fn is_multistatus(&self) -> bool {
        self.code() == 207 || (self.code() == 200 && self.media_type().ends_with("xml"))
    }
}

/// A failed exchange before any answer came back.
#[derive(Debug)]
struct Transport {
    /// Connecting failed or timed out (the server is unreachable).
    unreachable: bool,
    /// The request may have reached the server (anything but a failed connect).
    maybe_delivered: bool,
    reason: String,
}

enum Failure {
    Transport(Transport),
    Fatal(StoreError),
}

/// The HTTP client of one store.
pub(crate) struct Client {
    http: reqwest::Client,
    /// The configured URL: credentials are only sent to its host and port.
    origin: Url,
    username: String,
    password: Secret,
    permits: Semaphore,
    max_retries: u32,
    retry_base: Duration,
    timeout: Duration,
    connect_timeout: Duration,
    stats: StatsRecorder,
    digest: Mutex<Option<DigestState>>,
    fingerprint: Mutex<Fingerprint>,
}

impl Client {
    /// Builds the client.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] when the TLS backend cannot be initialised.
    pub(crate) fn new(cfg: &DavConfig) -> Result<Self, StoreError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .http1_only()
            .connect_timeout(cfg.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(cfg.user_agent.clone())
            .build()
            .map_err(|e| StoreError::Unsupported(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            origin: cfg.url.clone(),
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            permits: Semaphore::new(cfg.concurrency.max(1)),
            max_retries: cfg.max_retries,
            retry_base: cfg.retry_base_delay,
            timeout: cfg.timeout,
            connect_timeout: cfg.connect_timeout,
            stats: StatsRecorder::default(),
            digest: Mutex::new(None),
            fingerprint: Mutex::new(Fingerprint {
                path: cfg.url.path().to_owned(),
                ..Fingerprint::default()
            }),
        })
    }

    /// The configured URL.
    pub(crate) fn origin(&self) -> &Url {
        &self.origin
    }

    pub(crate) fn stats(&self) -> RequestStats {
        self.stats.snapshot()
    }

    /// The first `Server` header seen.
    pub(crate) fn server_header(&self) -> Option<String> {
        self.fingerprint().server
    }

    /// What the answers so far revealed about the server.
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds what discovery learnt to the fingerprint.
    pub(crate) fn note_discovery(&self, dav: &[String], sync_token: Option<&str>) {
        let mut fp = self
            .fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        fp.dav = dav.to_vec();
        if fp.sync_token.is_none() {
            fp.sync_token = sync_token.map(str::to_owned);
        }
    }

    fn note_headers(&self, method: &Method, resp: &DavResponse) {
        let mut fp = self
            .fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let header = |name: &str| {
            resp.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if fp.server.is_none() {
            fp.server = header("server");
        }
        if fp.sabre_version.is_none() {
            fp.sabre_version = header("x-sabre-version");
        }
        if fp.davical_version.is_none() {
            fp.davical_version = header("x-davical-version");
        }
        fp.sope_headers |= resp.headers.contains_key("x-dav-error");
        if fp.realm.is_none() {
            fp.realm = header("www-authenticate");
        }
        if *method == Method::OPTIONS && fp.allow.is_empty() {
            fp.allow = header("allow")
                .map(|a| {
                    a.split(',')
                        .map(|m| m.trim().to_ascii_uppercase())
                        .collect()
                })
                .unwrap_or_default();
        }
    }

    /// Sends a request, retrying 423 (Xandikos answers it while its git repository is
    /// locked by another write), 429/502/503/504, 500 on conditional writes, and transport
    /// failures with exponential
    /// backoff and jitter (honouring `Retry-After`). Any answer is returned, also an error
    /// status: mapping it is up to the caller (see [`crate::errors`]).
    ///
    /// # Errors
    /// [`StoreError::Unreachable`] when connecting failed or timed out on every attempt,
    /// [`StoreError::Server`] for other transport failures (resets).
    pub(crate) async fn send(&self, req: &DavRequest) -> Result<DavResponse, StoreError> {
        let mut attempt: u32 = 0;
        let mut lost_attempt = false;
        loop {
            let (hint, why) = match self.exchange(req).await {
                Ok(mut resp) => {
                    // A conditional write is safe to repeat (a repeat of one that did land
                    // fails its precondition), so a 500 gets retried too: Xandikos 0.4
                    // answers 500 (LockedError) when a DELETE meets another write's git
                    // index lock.
                    let retryable = matches!(resp.code(), 423 | 429 | 502 | 503 | 504)
                        || (resp.code() == 500 && req.is_conditional());
                    if !retryable || attempt >= self.max_retries {
                        resp.after_lost_attempt = lost_attempt;
                        return Ok(resp);
                    }
                    (retry_after(&resp.headers), resp.status.to_string())
                }
                Err(Failure::Transport(t)) if attempt >= self.max_retries => {
                    return Err(if t.unreachable {
                        StoreError::Unreachable {
                            url: req.url.to_string(),
                            reason: t.reason,
                        }
                    } else {
                        StoreError::Server {
                            method: req.method.to_string(),
                            href: req.path().to_owned(),
                            reason: t.reason,
                        }
                    });
                }
                Err(Failure::Transport(t)) => {
                    lost_attempt |= t.maybe_delivered;
                    (None, t.reason)
                }
                Err(Failure::Fatal(e)) => return Err(e),
            };
            attempt += 1;
            self.stats.retry();
            let delay = self.backoff(attempt, hint);
            debug!(
                method = %req.method,
                path = req.path(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                reason = %why,
                "retrying DAV request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// The delay before retry number `attempt` (1-based).
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .retry_base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(MAX_BACKOFF);
        // Jitter: anywhere between half and the full delay.
        let jittered = exp.mul_f64(rand::rng().random_range(0.5..=1.0));
        match retry_after {
            Some(wait) => wait.min(MAX_RETRY_AFTER).max(jittered),
            None => jittered,
        }
    }

    /// One logical exchange: follows redirects and answers a Digest challenge.
    async fn exchange(&self, req: &DavRequest) -> Result<DavResponse, Failure> {
        let mut url = req.url.clone();
        let mut hops = 0;
        let mut challenged = false;
        loop {
            let trusted = href::same_host_port(&url, &self.origin);
            let resp = self.send_once(req, &url, trusted).await?;
            if resp.code() == 401 && trusted && !challenged {
                let values = resp
                    .headers
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok());
                if let Some(challenge) = digest::pick_challenge(values) {
                    *self.digest.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(DigestState::new(challenge));
                    challenged = true;
                    continue;
                }
            }
            let redirect = matches!(resp.code(), 301 | 302 | 303 | 307 | 308);
            if req.follow_redirects
                && redirect
                && hops < MAX_REDIRECTS
                && let Some(next) = resp.header(LOCATION).and_then(|l| url.join(l).ok())
            {
                debug!(from = url.path(), to = %next, "following redirect");
                hops += 1;
                url = next;
                continue;
            }
            return Ok(resp);
        }
    }

    async fn send_once(
        &self,
        req: &DavRequest,
        url: &Url,
        trusted: bool,
    ) -> Result<DavResponse, Failure> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            Failure::Fatal(StoreError::Unsupported("the store was shut down".into()))
        })?;
        let mut builder = self
            .http
            .request(req.method.clone(), url.clone())
            .timeout(self.timeout);
        for (name, value) in &req.headers {
            let value = HeaderValue::from_str(value).map_err(|_| {
                Failure::Fatal(StoreError::Rejected {
                    method: req.method.to_string(),
                    href: url.path().to_owned(),
                    status: 0,
                    reason: format!("cannot send {name} {value:?} as an HTTP header"),
                })
            })?;
            builder = builder.header(name, value);
        }
        if trusted && let Some(auth) = self.authorization(&req.method, url) {
            builder = builder.header(AUTHORIZATION, auth);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let result = async {
            let mut resp = builder.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Ok(Err(StoreError::Protocol {
                        url: url.to_string(),
                        reason: format!("answer larger than {} MiB", MAX_BODY >> 20),
                    }));
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Ok(DavResponse {
                status,
                url: url.clone(),
                headers,
                body,
                after_lost_attempt: false,
            }))
        }
        .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(Ok(resp)) => {
                self.stats.exchange(req.method.as_str(), Some(resp.code()));
                debug!(
                    method = %req.method,
                    path = url.path(),
                    status = resp.code(),
                    elapsed_ms,
                    "DAV request"
                );
                self.note_headers(&req.method, &resp);
                Ok(resp)
            }
            Ok(Err(e)) => Err(Failure::Fatal(e)),
            Err(e) => {
                self.stats.exchange(req.method.as_str(), None);
                let transport = self.describe(&e);
                debug!(
                    method = %req.method,
                    path = url.path(),
                    elapsed_ms,
                    error = %transport.reason,
                    "DAV request failed"
                );
                Err(Failure::Transport(transport))
            }
        }
    }

    /// The `Authorization` value: Digest once a challenge was seen, else Basic.
    fn authorization(&self, method: &Method, url: &Url) -> Option<HeaderValue> {
        if self.username.is_empty() && self.password.expose().is_empty() {
            return None;
        }
        let mut digest = self.digest.lock().unwrap_or_else(PoisonError::into_inner);
        let value = match digest.as_mut() {
            Some(state) => {
                let uri = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_owned(),
                };
                state.authorization(
                    &self.username,
                    self.password.expose(),
                    method.as_str(),
                    &uri,
                )
            }
            None => {
                let pair = format!("{}:{}", self.username, self.password.expose());
                format!("Basic {}", BASE64.encode(pair))
            }
        };
        let mut value = HeaderValue::from_str(&value).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// Puts a transport error in words.
    fn describe(&self, err: &reqwest::Error) -> Transport {
        if err.is_timeout() {
            let (what, limit) = if err.is_connect() {
                ("connecting timed out", self.connect_timeout)
            } else {
                ("timed out", self.timeout)
            };
            return Transport {
                unreachable: true,
                maybe_delivered: !err.is_connect(),
                reason: format!("{what} after {}", human_duration(limit)),
            };
        }
        let mut reason = None;
        let mut innermost = err.to_string();
        let mut source: Option<&dyn std::error::Error> = Some(err);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                reason = match io.kind() {
                    K::ConnectionRefused => Some("connection refused".to_owned()),
                    K::ConnectionReset => Some("connection reset by peer".to_owned()),
                    K::ConnectionAborted => Some("connection aborted".to_owned()),
                    K::UnexpectedEof => {
                        Some("connection closed before the answer was complete".to_owned())
                    }
                    K::TimedOut => {
                        Some(format!("timed out after {}", human_duration(self.timeout)))
                    }
                    _ => None,
                };
                if reason.is_some() {
                    break;
                }
            }
            innermost = e.to_string();
            source = e.source();
        }
        let reason = reason.unwrap_or_else(|| {
            if innermost.contains("dns error") || innermost.contains("lookup address") {
                format!("cannot resolve the host name ({innermost})")
            } else if innermost.contains("closed before message completed") {
                "connection closed before the answer came".to_owned()
            } else {
                innermost
            }
        });
        Transport {
            unreachable: err.is_connect(),
            maybe_delivered: !err.is_connect(),
            reason,
        }
    }
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Reads `Retry-After`: delta seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Parses an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), March-based year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        let t = parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_709_164_800
        );
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut cfg = DavConfig::new(Url::parse("http://h/").unwrap(), "u", "p");
        cfg.retry_base_delay = Duration::from_millis(100);
        let client = Client::new(&cfg).unwrap();
        let first = client.backoff(1, None);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let third = client.backoff(3, None);
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
        assert!(client.backoff(30, None) <= MAX_BACKOFF);
        assert_eq!(
            client.backoff(1, Some(Duration::from_secs(3600))),
            MAX_RETRY_AFTER
        );
    }
}
