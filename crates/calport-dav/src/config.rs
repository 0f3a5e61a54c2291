//! Connection settings for one CalDAV/CardDAV account.

use std::fmt;
use std::time::Duration;

use url::Url;

/// A password or token that never shows up in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; only for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// How to reach and talk to one CalDAV/CardDAV account.
///
/// Build it with [`DavConfig::new`] and adjust the public fields; the defaults suit slow
/// self-hosted servers (long timeouts, a few retries).
#[derive(Clone, Debug)]
pub struct DavConfig {
    /// Where discovery starts: a context path, a principal, a home set or a collection.
    pub url: Url,
    /// User name for HTTP Basic or Digest authentication.
    pub username: String,
    /// Password for HTTP Basic or Digest authentication.
    pub password: Secret,
    /// Most requests in flight at once against this server.
    pub concurrency: usize,
    /// Limit for one whole request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Limit for establishing the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// How often a request is repeated after 429/502/503/504 or a transport failure.
    pub max_retries: u32,
    /// First retry delay; doubles on every retry (with jitter), capped at 30 s.
    pub retry_base_delay: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl DavConfig {
    /// Default for [`DavConfig::concurrency`].
    pub const DEFAULT_CONCURRENCY: usize = 8;
    /// Default for [`DavConfig::timeout`]: these servers are slow on big collections.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    /// Default for [`DavConfig::connect_timeout`].
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
    /// Default for [`DavConfig::max_retries`].
    pub const DEFAULT_MAX_RETRIES: u32 = 4;
    /// Default for [`DavConfig::retry_base_delay`].
    pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_millis(250);

    /// Settings with every default filled in.
    pub fn new(url: Url, username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self {
            url,
            username: username.into(),
            password: password.into(),
            concurrency: Self::DEFAULT_CONCURRENCY,
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            max_retries: Self::DEFAULT_MAX_RETRIES,
            retry_base_delay: Self::DEFAULT_RETRY_BASE_DELAY,
            user_agent: concat!("calport/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_in_debug() {
        let cfg = DavConfig::new(
            Url::parse("https://dav.example.com/").unwrap(),
            "alice",
            "hunter2",
        );
        let shown = format!("{cfg:?}");
        assert!(shown.contains("***"));
        assert!(!shown.contains("hunter2"));
    }
}
